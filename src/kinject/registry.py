"""Registries of objectives, tasks and metrics: each is registered once, by name, where it is
defined, and everything that lists them (config checks, tables, plots, TensorBoard, `curves`)
iterates over the registry. Code outside kinject registers its own the same way."""

from __future__ import annotations


class Registry(dict):
    """name -> registered object, in registration order."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str, obj, replace: bool = False):
        if name in self and self[name] is not obj and not replace:
            raise ValueError(f"a {self.kind} named {name!r} is registered already")
        self[name] = obj
        return obj


OBJECTIVES: Registry = Registry("objective")  # name -> Objective subclass (kinject.objectives)
TASKS: Registry = Registry("task")  # name -> Task (kinject.tasks)


class Metric:
    """A score of one generated answer against its gold answer(s), averaged over questions.

    fn(prediction, gold) -> float in [0, 1]; gold is the answers list (knowledge) or the gold number
    (math). title: the row name in summary.md; short: the column name in comparison.md; shown: in
    tables and TensorBoard (False: only in metrics.jsonl and generations.jsonl); curve: the line
    style in accuracy.png and curves.png (None: not drawn)."""

    def __init__(self, name: str, fn, title: str, short: str, task: str, shown: bool, curve: str | None):
        self.name, self.fn, self.title, self.short = name, fn, title, short
        self.task, self.shown, self.curve = task, shown, curve

    def __call__(self, prediction, gold) -> float:
        return float(self.fn(prediction, gold))


METRICS: Registry = Registry("metric")


def register_metric(name: str, title: str | None = None, short: str | None = None, task: str = "knowledge",
                    shown: bool = True, curve: str | None = None, replace: bool = False):
    """Decorator: register fn(prediction, gold) -> float as metric `name` of `task`."""
    def decorate(fn):
        METRICS.register(name, Metric(name, fn, title or name, short or name, task, shown, curve), replace)
        return fn
    return decorate


def metrics_for(task: str, shown_only: bool = False) -> list[Metric]:
    return [m for m in METRICS.values() if m.task == task and (m.shown or not shown_only)]
