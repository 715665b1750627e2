"""The interface of a task. A task loads its data (possibly generated), turns it into training
sequences with the run's objective, evaluates a model, and reports: which metrics (the metric
registry, by task), its console line, TensorBoard scalars, the score best-epoch selection uses,
and the run and comparison tables. Heavy imports stay inside methods: configs load without torch."""

from __future__ import annotations


class Task:
    name = "base"
    draws_curves = False  # a multi-run config also writes curves.png (kinject.reporting.curves)
    generated_files: tuple[str, str] = ("train.jsonl", "test.jsonl")  # names in data.generated_dir

    # ---- config

    def validate(self, cfg) -> None:
        """Checks of this task's own (kinject.config.need)."""

    def generation(self, cfg) -> tuple[str, int]:
        """(the key that asks for generated data, its value; 0: none)."""
        return "", 0

    def generated_set(self, cfg):
        """The kinject.data.generated.GeneratedSet that generation asks for."""
        raise NotImplementedError

    # ---- data and training sequences

    def load(self, cfg, write: bool):
        """The run's data; write=False (the pre-run check) writes nothing, not even generated data."""
        raise NotImplementedError

    def features(self, cfg, objective, tokenizer, model_config, data, head: int | None = None):
        """(training features, what they are, for summary.json)."""
        raise NotImplementedError

    def training_texts(self, data) -> list:
        """The documents trained on (kinject.augment.training_set.TrainingText), for compute accounting."""
        return []

    def describe_data(self, cfg, data, sequences: dict) -> dict:
        return dict(sequences)

    # ---- evaluation and reports

    def evaluate(self, model, tokenizer, data, eval_cfg, sampler=None, progress: bool = True):
        """(aggregate result, one row per item)."""
        raise NotImplementedError

    def metrics(self, shown_only: bool = True):
        from kinject.registry import metrics_for

        return metrics_for(self.name, shown_only)

    def selection_score(self, entry: dict) -> float:
        """What best-epoch selection maximizes."""
        raise NotImplementedError

    def console_line(self, result: dict) -> str:
        raise NotImplementedError

    def scalars(self, result: dict) -> dict[str, float]:
        """TensorBoard scalars of one evaluation."""
        return {}

    def curves(self, evaluations: list[dict]) -> list[tuple[str, list[float], str, str]]:
        """accuracy.png: (label, values per evaluation, line style, colour)."""
        return []

    def run_table(self, summary: dict) -> str:
        raise NotImplementedError

    def comparison_table(self, summaries: list[dict]) -> str:
        raise NotImplementedError

    def console_table(self, summaries: list[dict]) -> tuple[str, list[str], list[list[str]]]:
        """(caption, headers, rows) of the compact table printed at the end of a run or config."""
        raise NotImplementedError
