"""kinject: inject new factual knowledge into language models by fine-tuning, and prove it worked.

    import kinject
    runs = kinject.load_config("configs/demo.yaml", train={"epochs": 2})
    results = kinject.run(runs, only=["masked"])    # {run name: summary}

Importing kinject registers its objectives, tasks and metrics (kinject.registry); register your
own with kinject.register_objective / register_task / register_metric (docs/extending.md).
"""

from kinject import objectives, tasks  # noqa: F401  (their built-ins register themselves)
from kinject._version import __version__
from kinject.objectives import register_objective
from kinject.registry import register_metric
from kinject.tasks import register_task


def load_config(source=None, /, **overrides):
    """The runs of a config: a YAML path, a mapping, or None (defaults), with overrides given as
    sections (`train={"epochs": 2}`) or dotted keys (`**{"train.lr": 1e-4}`)."""
    from kinject.api import load_config as load

    return load(source, **overrides)


def run(config, *, only=None, overwrite: bool = False, resume: bool = False, quiet: bool = False) -> dict:
    """Train and evaluate runs (from load_config, or one Config); returns {run name: summary}."""
    from kinject.api import run as run_runs

    return run_runs(config, only=only, overwrite=overwrite, resume=resume, quiet=quiet)


__all__ = ["__version__", "load_config", "run", "register_objective", "register_task", "register_metric"]
