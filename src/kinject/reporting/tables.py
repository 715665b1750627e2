"""Markdown tables for one run (summary.md) and for several runs (comparison.md)."""

from __future__ import annotations

METRICS = ("rouge1_recall", "contains", "rouge1_f1")
METRIC_TITLES = {"rouge1_recall": "ROUGE-1 recall (published metric)", "contains": "answer contained",
                 "rouge1_f1": "ROUGE-1 F1"}


def _cell(entry: dict | None, direction: str, metric: str) -> str:
    if not entry or direction not in entry:
        return "-"
    return f"{entry[direction][metric]:.2f}"


def _pair(entry: dict | None, metric: str) -> str:
    return f"{_cell(entry, 'forward', metric)} / {_cell(entry, 'backward', metric)}"


def _groups(summary: dict) -> list[str]:
    names = set()
    for key in ("before", "final", "best"):
        names |= set((summary.get(key) or {}).get("groups", {}))
    return sorted(names)


def _seconds(t: dict) -> str:
    return f"{t.get('train_seconds', 0):.0f} ({t.get('seconds_per_epoch', 0):.1f})"


def _flops(n) -> str:
    return f"{n:.2g}" if n else "0"


def compute_line(c: dict) -> str:
    line = (f"Compute: {c['train_tokens']} training tokens ({c['forward_backward_tokens']} through forward + "
            f"backward), ~{_flops(c['train_flops'])} FLOPs training (6 x {c['parameters']} parameters x tokens)")
    if c.get("augmentation_generated_tokens"):
        line += (f"; augmentation: {c['augmentation_generated_tokens']} generated tokens, "
                 f"~{_flops(c['augmentation_flops'])} FLOPs, {c.get('augmentation_seconds', 0):.0f} s")
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


def _math(entry: dict | None) -> str:
    if not entry or "math" not in entry:
        return "-"
    return f"{entry['math']['strict']:.2f} / {entry['math']['flexible']:.2f}"


def math_run_table(summary: dict) -> str:
    best_epoch = summary["best"]["epoch"] if summary.get("best") else "-"
    n = summary["final"]["math"]["n"]
    lines = [
        f"# {summary.get('run') or 'run'}: {summary['objective']} on {summary['model']}",
        "",
        f"Final-number accuracy on {n} held-out problems, strict (the number after '####') / flexible (the last "
        "number). *best* is the epoch with the highest strict accuracy, **selected on the test problems** (optimistic).",
        "",
        f"| before | final (epoch {summary['final']['epoch']}) | best (epoch {best_epoch}, test-selected) |",
        "|---|---|---|",
        f"| {_math(summary.get('before'))} | {_math(summary['final'])} | {_math(summary.get('best'))} |",
    ]
    lines += cost_lines(summary)
    return "\n".join(lines) + "\n"


def math_comparison_table(summaries: list[dict]) -> str:
    lines = [
        "# Comparison",
        "",
        "Final-number accuracy, strict / flexible. *best* is selected on the test problems (optimistic).",
        "",
        "| run | objective | optimizer | before | final | best (epoch) | train s (s/epoch) | train tokens | loss tokens |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        best = s.get("best")
        best_cell = f"{_math(best)} ({best['epoch']})" if best else "-"
        t = s.get("timing", {})
        lines.append(f"| {s.get('run')} | {s['objective']} | {s.get('optimizer', 'AdamW')} | {_math(s.get('before'))} | "
                     f"{_math(s['final'])} | {best_cell} | {_seconds(t)} | {t.get('train_tokens', 0)} | "
                     f"{t.get('loss_tokens', 0)} |")
    return "\n".join(lines) + "\n"


def run_table(summary: dict) -> str:
    """summary.md: forward / backward per metric, before / final / best, then per group."""
    if summary.get("task") == "math":
        return math_run_table(summary)
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
    for m in METRICS:
        lines.append(f"| {METRIC_TITLES[m]} | {_pair(summary.get('before'), m)} | {_pair(summary['final'], m)} | {_pair(summary.get('best'), m)} |")
    groups = _groups(summary)
    if len(groups) > 1 or (groups and groups[0]):
        lines += ["", "Per group, ROUGE-1 recall forward / backward:", "", "| group | before | final |", "|---|---|---|"]
        for g in groups:
            before = (summary.get("before") or {}).get("groups", {}).get(g)
            final = summary["final"].get("groups", {}).get(g)
            lines.append(f"| {g or '(none)'} | {_pair(before, 'rouge1_recall')} | {_pair(final, 'rouge1_recall')} |")
    lines += cost_lines(summary)
    if summary.get("augmentation") or summary.get("optimizer"):
        data = summary.get("data", {})
        packed = f" in {data['packed_rows']} packed rows" if data.get("packed_rows") else ""
        n = data.get("training_sequences", "?")
        sequences = f"{n} training sequences{packed}" if n is not None else "training sequences streamed from the corpus"
        lines += ["", f"Augmentation: {summary.get('augmentation', 'none')}; optimizer: {summary.get('optimizer', 'AdamW')}; "
                      f"{sequences}."]
        timing = summary.get("timing", {})
        if "padding_fraction" in timing:
            lines += ["", f"Padding: {timing['padding_fraction']:.1%} of batch positions; {timing.get('processes', 1)} "
                          f"process(es), global batch {timing.get('global_batch', '?')}; "
                          f"{timing.get('tokens_per_second', 0):.0f} training tokens/s."]
    return "\n".join(lines) + "\n"


def comparison_table(summaries: list[dict]) -> str:
    """comparison.md: one row per run."""
    if summaries and all(s.get("task") == "math" for s in summaries):
        return math_comparison_table(summaries)
    lines = [
        "# Comparison",
        "",
        "Forward / backward. *best* is selected on the test questions (optimistic).",
        "",
        "| run | objective | augmentation | optimizer | before R1 | final R1 | final contains | final F1 | best R1 (epoch) "
        "| train s (s/epoch) | train tokens | FLOPs train + aug |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        best = s.get("best")
        best_cell = f"{_pair(best, 'rouge1_recall')} ({best['epoch']})" if best else "-"
        c = s.get("compute") or {}
        compute = (f"{c.get('train_tokens', 0)} | {_flops(c.get('train_flops', 0))} + "
                   f"{_flops(c.get('augmentation_flops', 0))}") if c else "- | -"
        lines.append(
            f"| {s.get('run')} | {s['objective']} | {s.get('augmentation', 'none')} | {s.get('optimizer', 'AdamW')} | "
            f"{_pair(s.get('before'), 'rouge1_recall')} | "
            f"{_pair(s['final'], 'rouge1_recall')} | {_pair(s['final'], 'contains')} | "
            f"{_pair(s['final'], 'rouge1_f1')} | {best_cell} | {_seconds(s.get('timing', {}))} | "
            f"{compute} |"
        )
    groups = sorted({g for s in summaries for g in s["final"].get("groups", {})})
    if len(groups) > 1 or (groups and groups[0]):
        lines += ["", "Final ROUGE-1 recall per group, forward / backward:", "",
                  "| run | " + " | ".join(g or "(none)" for g in groups) + " |",
                  "|---|" + "---|" * len(groups)]
        for s in summaries:
            cells = [_pair(s["final"].get("groups", {}).get(g), "rouge1_recall") for g in groups]
            lines.append(f"| {s.get('run')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
