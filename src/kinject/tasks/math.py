"""The math task: (question, answer) SFT pairs (GSM8K or prompt/response JSONL, or generated
problems), scored by the final number, strict ('#### n') and flexible (the last number)."""

from __future__ import annotations

from dataclasses import dataclass

import kinject.math.scoring  # noqa: F401  (registers the math metrics)
from kinject.tasks.base import Task


@dataclass
class MathData:
    train: list  # kinject.math.data.MathItem
    test: list

    @property
    def items(self):
        return self.test


class MathTask(Task):
    name = "math"
    primary = "strict"
    generated_files = ("train.jsonl", "test.jsonl")

    def generation(self, cfg):
        return "data.generate_problems", cfg.data.generate_problems

    def generated_set(self, cfg):
        from kinject.math.generate import math_set

        d = cfg.data
        return math_set(d.generate_problems, d.generate_test_problems, d.generate_seed)

    def validate(self, cfg) -> None:
        from kinject.errors import need

        for key, on in (("augment.formatting", cfg.augment.formatting), ("augment.reverse", cfg.augment.reverse),
                        ("data.num_paraphrases", cfg.data.num_paraphrases != 0),
                        ("paraphrase.output", cfg.paraphrase.output)):
            need(not on, key, "applies to knowledge documents, not to task=math")  # math pairs have no documents
        need(not cfg.data.generate_people, "data.generate_people",
             "generates knowledge documents; for task=math use data.generate_problems")
        need(not cfg.data.corpus, "data.corpus", "is a document corpus; task=math reads data.train")

    def load(self, cfg, write: bool) -> MathData:
        from kinject.math.data import load_math
        from kinject.preparation import data_files

        with data_files(cfg, write) as (train_path, test_path):
            train, test = load_math(train_path), load_math(test_path)
        return MathData(train, test[: cfg.eval.max_questions])

    def features(self, cfg, objective, tokenizer, model_config, data, head=None):
        from kinject.data.features import packed, pair_features
        from kinject.preparation import sequence_limit

        max_length, limit = sequence_limit(cfg, model_config)
        features = pair_features(data.train, objective, max_length, cfg.data.train, limit)
        return packed(cfg, objective, features, {"training_sequences": len(features)}, max_length)

    def describe_data(self, cfg, data, sequences: dict) -> dict:
        return {"train_problems": len(data.train), "test_problems": len(data.test), **sequences}

    def evaluate(self, model, tokenizer, data, eval_cfg, sampler=None, progress=True):
        from kinject.math.evaluate import evaluate_math

        return evaluate_math(model, tokenizer, data.test, eval_cfg.batch_size, eval_cfg.max_new_tokens, eval_cfg.bf16,
                             progress=progress)

    def selection_score(self, entry: dict) -> float:
        return entry["math"][self.primary]

    def console_line(self, result: dict) -> str:
        return "accuracy " + ", ".join(f"{m.name} {result['math'][m.name]:.2f}" for m in self.metrics())

    def scalars(self, result: dict) -> dict[str, float]:
        return {f"math/{m.name}_accuracy": result["math"][m.name] for m in self.metrics()}

    def curves(self, evaluations):
        return [(f"{m.name} final-number accuracy", [e["math"][m.name] for e in evaluations], m.curve, "tab:green")
                for m in self.metrics() if m.curve]

    def cell(self, entry: dict | None) -> str:
        if not entry or "math" not in entry:
            return "-"
        return " / ".join(f"{entry['math'][m.name]:.2f}" for m in self.metrics())

    def run_table(self, summary: dict) -> str:
        from kinject.reporting.tables import cost_lines

        best_epoch = summary["best"]["epoch"] if summary.get("best") else "-"
        n = summary["final"]["math"]["n"]
        lines = [
            f"# {summary.get('run') or 'run'}: {summary['objective']} on {summary['model']}",
            "",
            f"Final-number accuracy on {n} held-out problems, strict (the number after '####') / flexible (the last "
            "number). *best* is the epoch with the highest strict accuracy, **selected on the test problems** "
            "(optimistic).",
            "",
            f"| before | final (epoch {summary['final']['epoch']}) | best (epoch {best_epoch}, test-selected) |",
            "|---|---|---|",
            f"| {self.cell(summary.get('before'))} | {self.cell(summary['final'])} | {self.cell(summary.get('best'))} |",
        ]
        return "\n".join(lines + cost_lines(summary)) + "\n"

    def comparison_table(self, summaries: list[dict]) -> str:
        from kinject.reporting.tables import seconds

        lines = ["# Comparison", "", "Final-number accuracy, strict / flexible. *best* is selected on the test problems "
                 "(optimistic).", "",
                 "| run | objective | optimizer | before | final | best (epoch) | train s (s/epoch) | train tokens | "
                 "loss tokens |", "|---|---|---|---|---|---|---|---|---|"]
        for s in summaries:
            best = s.get("best")
            best_cell = f"{self.cell(best)} ({best['epoch']})" if best else "-"
            t = s.get("timing", {})
            lines.append(f"| {s.get('run')} | {s['objective']} | {s.get('optimizer', 'AdamW')} | "
                         f"{self.cell(s.get('before'))} | {self.cell(s['final'])} | {best_cell} | {seconds(t)} | "
                         f"{t.get('train_tokens', 0)} | {t.get('loss_tokens', 0)} |")
        return "\n".join(lines) + "\n"

    def console_table(self, summaries: list[dict]):
        headers = ["run", "objective", "before", "final", "best (epoch)", "s/epoch"]
        rows = [[s.get("run") or "run", s["objective"], self.cell(s.get("before")), self.cell(s["final"]),
                 f"{self.cell(s['best'])} ({s['best']['epoch']})" if s.get("best") else "-",
                 f"{s.get('timing', {}).get('seconds_per_epoch', 0):.1f}"] for s in summaries]
        return "final-number accuracy, strict / flexible", headers, rows
