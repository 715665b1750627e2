"""The published-style table on the shared NameDescription and Biography data, with the default
model on CPU, next to the published numbers (arXiv 2510.09885, its main results table); writes docs/results.md.

    python bench/reproduce.py [--documents 8] [--epochs 30] [--paraphrases 3] [--model NAME_OR_DIR]
                              [--max-new-tokens 64] [--out docs/results.md] [--smoke]

Per dataset: --documents evenly spaced documents (both ND groups), their published questions and
same-order paraphrases, written in the published formats to runs/reproduce/<dataset>/data; then
one `kinject run` config with three runs sharing one before-training evaluation:

  standard              standard fine-tuning, chat format, no paraphrases
  standard_paraphrases  the same plus the first --paraphrases same-order paraphrases per document
  masked                masked fine-tuning, no paraphrases

The LLaDA-8B dLLM row needs a GPU and an 8B checkpoint: not run here (see docs/dllms.md for the
CPU-scale dLLM study). Settings are the demo's (lr 1e-4, one optimizer step per epoch on the
originals, bf16 autocast), far from the published scale (3-8B models, hundreds of epochs);
docs/results.md holds the table and, below its marker line, the written reading of it (kept when
the table is regenerated). --smoke: 2 documents,
2 epochs, 1 paraphrase, 8 new tokens (the test suite runs it with a tiny model).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DATASETS = {  # name: (documents, questions, same-order paraphrases, questions per document, paraphrases per document)
    "NameDescription": ("ND_train_no_paraphrase.json", "ND_test.jsonl", "ND_train_paraphrase.json", 8, 30),
    "Biography": ("biography_train_no_paraphrase.json", "biography_test.jsonl",
                  "biography_train_paraphrase_same_order.json", 9, 5),
}
PUBLISHED = {  # arXiv 2510.09885, main results: forward / backward, mean over four 3-8B instruct arLLMs
    "before": {"NameDescription": (.03, .02), "Biography": (.02, .00)},
    "standard": {"NameDescription": (.26, .03), "Biography": (.15, .00)},
    "standard_paraphrases": {"NameDescription": (.95, .03), "Biography": (.98, .00)},
    "masked": {"NameDescription": (.91, .93), "Biography": (.97, .68)},
    "dllm": {"NameDescription": (.87, .85), "Biography": (.89, .70)},
}
LABELS = {"before": "before fine-tuning", "standard": "standard FT, no paraphrases",
          "standard_paraphrases": "standard FT, with paraphrases", "masked": "masked FT, no paraphrases",
          "dllm": "LLaDA-8B dLLM, no paraphrases"}


def subset(dataset: str, n: int, out: Path) -> tuple[Path, Path, Path]:
    """n evenly spaced documents with their question and paraphrase blocks, in the published formats."""
    docs_file, qa_file, para_file, per_q, per_p = DATASETS[dataset]
    docs = json.loads((SHARED / docs_file).read_text())
    questions = (SHARED / qa_file).read_text().splitlines()
    paraphrases = json.loads((SHARED / para_file).read_text())
    picks = [round(i * len(docs) / n) for i in range(n)]
    out.mkdir(parents=True, exist_ok=True)
    paths = out / "documents.json", out / "questions.jsonl", out / "paraphrases.json"
    paths[0].write_text(json.dumps([docs[i] for i in picks], indent=4) + "\n")
    paths[1].write_text("".join(line + "\n" for i in picks for line in questions[i * per_q:(i + 1) * per_q]))
    paths[2].write_text(json.dumps([p for i in picks for p in paraphrases[i * per_p:(i + 1) * per_p]], indent=4) + "\n")
    return paths


def config(dataset: str, data: tuple[Path, Path, Path], args, root: Path) -> dict:
    return {
        "model": {"name": args.model},
        "data": {"train": str(data[0]), "test": str(data[1]), "paraphrases": str(data[2])},
        "objective": {"format": "chat"},
        "train": {"epochs": args.epochs, "lr": 1e-4, "batch_size": args.documents},
        "eval": {"every": 0, "batch_size": 64, "max_new_tokens": args.max_new_tokens},
        "output_dir": str(root / dataset),
        "runs": {"standard": {}, "standard_paraphrases": {"data": {"num_paraphrases": args.paraphrases}},
                 "masked": {"objective": {"name": "masked"}}},
    }


def pair(entry: dict | None) -> str:
    if not entry:
        return "-"
    return f"{entry['forward']['rouge1_recall']:.2f} / {entry['backward']['rouge1_recall']:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--documents", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--paraphrases", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--root", default="runs/reproduce")
    parser.add_argument("--out", default="docs/results.md")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="rewrite --out from the finished runs in --root")
    args = parser.parse_args()
    if args.smoke:
        args.documents, args.epochs, args.paraphrases, args.max_new_tokens = 2, 2, 1, 8
    if not SHARED.exists():
        raise SystemExit(f"needs the published data in {SHARED}")
    from kinject.config import load_runs
    from kinject.runner import run_all

    root = Path(args.root)
    summaries, seconds = {}, {}
    if args.report_only:
        seconds = json.loads((root / "results.json").read_text())["seconds"]
        summaries = {d: {r: json.loads((root / d / r / "summary.json").read_text())
                         for r in ("standard", "standard_paraphrases", "masked")} for d in DATASETS}
        write_results(args, summaries, seconds, Path(args.out))
        print(Path(args.out).read_text())
        return
    for dataset in DATASETS:
        data = subset(dataset, args.documents, root / dataset / "data")
        cfg_path = root / dataset / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(config(dataset, data, args, root), sort_keys=False))
        t = time.time()
        configs = load_runs(cfg_path, [])
        run_all(configs, overwrite=True)
        seconds[dataset] = time.time() - t
        summaries[dataset] = {c.run_name: json.loads((Path(c.output_dir) / "summary.json").read_text()) for c in configs}
    write_results(args, summaries, seconds, Path(args.out))
    print(Path(args.out).read_text())


def write_results(args, summaries: dict, seconds: dict, out: Path) -> None:
    rows = []
    for key in ("before", "standard", "standard_paraphrases", "masked", "dllm"):
        cells = []
        for dataset in DATASETS:
            runs = summaries[dataset]
            if key == "before":
                ours = pair(runs["standard"]["before"])
            elif key == "dllm":
                ours = "not run (needs LLaDA-8B and a GPU)"
            else:
                ours = pair(runs[key]["final"])
            published = "{:.2f} / {:.2f}".format(*PUBLISHED[key][dataset])
            cells += [ours, published]
        rows.append(f"| {LABELS[key]} | " + " | ".join(cells) + " |")
    n_q = {d: summaries[d]["masked"]["final"]["forward"]["n"] + summaries[d]["masked"]["final"]["backward"]["n"]
           for d in DATASETS}
    table = "\n".join(rows)
    text = RESULTS_TEMPLATE.format(
        documents=args.documents, epochs=args.epochs, paraphrases=args.paraphrases, model=args.model,
        tokens=args.max_new_tokens, table=table, nd_q=n_q["NameDescription"], bio_q=n_q["Biography"],
        nd_min=seconds["NameDescription"] / 60, bio_min=seconds["Biography"] / 60,
        command=("python bench/reproduce.py" + (" --smoke" if args.smoke else "")))
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = out.read_text().split(MARKER, 1)[1] if out.exists() and MARKER in out.read_text() else "\n"
    out.write_text(text + "\n" + MARKER + kept)
    (Path(args.root) / "results.json").write_text(json.dumps(
        {"settings": vars(args), "seconds": seconds,
         "runs": {d: {k: {"final": v["final"], "best": v["best"], "before": v["before"]} for k, v in r.items()}
                  for d, r in summaries.items()}}, indent=2) + "\n")


RESULTS_TEMPLATE = """# Reproduction at CPU scale

`{command}` on this machine (2 CPU cores, no GPU): {model}, {documents} evenly spaced documents
per dataset (both NameDescription groups), their published questions ({nd_q} for NameDescription,
{bio_q} for Biography), {epochs} epochs, lr 1e-4, one optimizer step per epoch on the originals,
chat format, bf16 autocast, greedy answers up to {tokens} tokens; paraphrase runs add the first
{paraphrases} same-order paraphrases per document. Wall time: {nd_min:.1f} min (NameDescription),
{bio_min:.1f} min (Biography). Published: mean over four 3-8B instruct arLLMs (arXiv 2510.09885,
main results table), full data, hundreds of epochs.

Forward / backward ROUGE-1 recall (the published metric). Ours: the final epoch (only the final
epoch is evaluated, to keep the budget). Published: the best epoch, **selected on the test
questions** (optimistic).

| condition | ND (ours) | ND (published) | Biography (ours) | Biography (published) |
|---|---|---|---|---|
{table}
"""

MARKER = "<!-- analysis: kept when the table is regenerated -->"


if __name__ == "__main__":
    main()
