"""Markdown tables for one run (summary.md) and for several runs (comparison.md) of the knowledge
task, their shared cost lines, and the compact table the console prints. Metric rows and columns
come from the metric registry: a registered metric appears here without an edit."""

from __future__ import annotations

DIRECTIONS = ("forward", "backward")


def cell(entry: dict | None, direction: str, metric: str) -> str:
    if not entry or direction not in entry or metric not in entry[direction]:
        return "-"
    return f"{entry[direction][metric]:.2f}"


def pair(entry: dict | None, metric: str) -> str:
    return f"{cell(entry, 'forward', metric)} / {cell(entry, 'backward', metric)}"


def groups(summaries: list[dict], keys=("final",)) -> list[str]:
    return sorted({g for s in summaries for k in keys for g in (s.get(k) or {}).get("groups", {})})


def seconds(t: dict) -> str:
    return f"{t.get('train_seconds', 0):.0f} ({t.get('seconds_per_epoch', 0):.1f})"


def flops(n) -> str:
    return f"{n:.2g}" if n else "0"


def compute_line(c: dict) -> str:
    line = (f"Compute: {c['train_tokens']} training tokens ({c['forward_backward_tokens']} through forward + "
            f"backward), ~{flops(c['train_flops'])} FLOPs training (6 x {c['parameters']} parameters x tokens)")
    if c.get("augmentation_generated_tokens"):
        line += (f"; augmentation: {c['augmentation_generated_tokens']} generated tokens, "
                 f"~{flops(c['augmentation_flops'])} FLOPs, {c.get('augmentation_seconds', 0):.0f} s")
    if c.get("augmentation_note"):
        line += f" ({c['augmentation_note']})"
    return line + "."


def cost_lines(summary: dict) -> list[str]:
    """Training time, tokens and compute, for summary.md."""
    lines = []
    t = summary.get("timing", {})
    if t:
        lines += ["", f"Training: {t.get('train_seconds', 0):.0f} s ({t.get('seconds_per_epoch', 0):.1f} s/epoch, "
                      f"{t.get('train_tokens', 0)} tokens, {t.get('loss_tokens', 0)} loss-bearing); "
                      f"evaluation: {t.get('eval_seconds', 0):.0f} s."]
    if summary.get("compute"):
        lines += ["", compute_line(summary["compute"])]
    return lines


def setup_lines(summary: dict) -> list[str]:
    """Augmentation, optimizer, sequences and padding, for summary.md."""
    if not (summary.get("augmentation") or summary.get("optimizer")):
        return []
    data = summary.get("data", {})
    rows = f" in {data['packed_rows']} packed rows" if data.get("packed_rows") else ""
    n = data.get("training_sequences", "?")
    sequences = f"{n} training sequences{rows}" if n is not None else "training sequences streamed from the corpus"
    lines = ["", f"Augmentation: {summary.get('augmentation', 'none')}; optimizer: {summary.get('optimizer', 'AdamW')}; "
                 f"{sequences}."]
    timing = summary.get("timing", {})
    if "padding_fraction" in timing:
        lines += ["", f"Padding: {timing['padding_fraction']:.1%} of batch positions; {timing.get('processes', 1)} "
                      f"process(es), global batch {timing.get('global_batch', '?')}; "
                      f"{timing.get('tokens_per_second', 0):.0f} training tokens/s."]
    return lines


def knowledge_run_table(summary: dict, metrics, primary: str) -> str:
    """summary.md: forward / backward per metric, before / final / best, then per group."""
    best_epoch = summary["best"]["epoch"] if summary.get("best") else "-"
    lines = [
        f"# {summary.get('run') or 'run'}: {summary['objective']} on {summary['model']}",
        "",
        "Forward / backward accuracy. *best* is the epoch with the highest mean ROUGE-1 recall, "
        "**selected on the test questions themselves** (as published; optimistic).",
        "",
        f"| metric | before | final (epoch {summary['final']['epoch']}) | best (epoch {best_epoch}, test-selected) |",
        "|---|---|---|---|",
    ]
    for m in metrics:
        lines.append(f"| {m.title} | {pair(summary.get('before'), m.name)} | {pair(summary['final'], m.name)} | "
                     f"{pair(summary.get('best'), m.name)} |")
    names = groups([summary], ("before", "final", "best"))
    if len(names) > 1 or (names and names[0]):
        lines += ["", "Per group, ROUGE-1 recall forward / backward:", "", "| group | before | final |", "|---|---|---|"]
        for g in names:
            before = (summary.get("before") or {}).get("groups", {}).get(g)
            final = summary["final"].get("groups", {}).get(g)
            lines.append(f"| {g or '(none)'} | {pair(before, primary)} | {pair(final, primary)} |")
    return "\n".join(lines + cost_lines(summary) + setup_lines(summary)) + "\n"


def knowledge_comparison_table(summaries: list[dict], metrics, primary: str) -> str:
    """comparison.md: one row per run."""
    short = {m.name: m.short for m in metrics}
    finals = " | ".join(f"final {m.short}" for m in metrics)
    lines = ["# Comparison", "", "Forward / backward. *best* is selected on the test questions (optimistic).", "",
             f"| run | objective | augmentation | optimizer | before {short[primary]} | {finals} | best {short[primary]} "
             "(epoch) | train s (s/epoch) | train tokens | FLOPs train + aug |",
             "|---|" + "---|" * (8 + len(metrics))]
    for s in summaries:
        best = s.get("best")
        best_cell = f"{pair(best, primary)} ({best['epoch']})" if best else "-"
        c = s.get("compute") or {}
        compute = (f"{c.get('train_tokens', 0)} | {flops(c.get('train_flops', 0))} + "
                   f"{flops(c.get('augmentation_flops', 0))}") if c else "- | -"
        final_cells = " | ".join(pair(s["final"], m.name) for m in metrics)
        lines.append(f"| {s.get('run')} | {s['objective']} | {s.get('augmentation', 'none')} | "
                     f"{s.get('optimizer', 'AdamW')} | {pair(s.get('before'), primary)} | {final_cells} | {best_cell} | "
                     f"{seconds(s.get('timing', {}))} | {compute} |")
    names = groups(summaries)
    if len(names) > 1 or (names and names[0]):
        lines += ["", "Final ROUGE-1 recall per group, forward / backward:", "",
                  "| run | " + " | ".join(g or "(none)" for g in names) + " |", "|---|" + "---|" * len(names)]
        for s in summaries:
            cells = [pair(s["final"].get("groups", {}).get(g), primary) for g in names]
            lines.append(f"| {s.get('run')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def knowledge_console_table(summaries: list[dict], primary: str):
    """(caption, headers, rows): forward / backward per run, compact enough for a terminal."""
    headers = ["run", "objective", "before", "final", "final contains", "best (epoch)", "s/epoch"]
    rows = []
    for s in summaries:
        best = s.get("best")
        rows.append([s.get("run") or "run", s["objective"], pair(s.get("before"), primary), pair(s["final"], primary),
                     pair(s["final"], "contains"), f"{pair(best, primary)} ({best['epoch']})" if best else "-",
                     f"{s.get('timing', {}).get('seconds_per_epoch', 0):.1f}"])
    return "forward / backward ROUGE-1 recall (published metric)", headers, rows
