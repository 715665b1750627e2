"""The Python API behind `kinject.load_config` and `kinject.run`, for notebooks and scripts: the
same config resolution, checks, runs and run directories as `kinject run`."""

from __future__ import annotations

from pathlib import Path

from kinject import console
from kinject.config import Config, parse_cli_grid, read_yaml, resolve_runs
from kinject.config.overrides import _flatten
from kinject.errors import KinjectError


class Runs(list):
    """The runs of one config (a list of Config), remembering all of them for the comparison
    when only some are run."""

    def only(self, *names: str) -> "Runs":
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise KinjectError(f"no run named {unknown[0]!r} (runs: {', '.join(self.names)})")
        picked = Runs(c for c in self if c.run_name in names)
        picked.everything = getattr(self, "everything", list(self))
        return picked

    @property
    def names(self) -> list[str]:
        return [c.run_name for c in self]


def load_config(source=None, /, **overrides) -> Runs:
    """source: a YAML path, a mapping shaped like the YAML, or None (the defaults)."""
    if source is None or isinstance(source, dict):
        raw, where = dict(source or {}), "config"
    else:
        raw, where = read_yaml(source), str(source)
    grid = overrides.pop("grid", None) or {}
    dotted = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            dotted.update({f"{key}.{k}": v for k, v in _flatten(value)})
        else:
            dotted[key] = value
    runs = Runs(resolve_runs(raw, where, dotted, parse_cli_grid([f"{k}={','.join(map(str, v))}"
                                                                  for k, v in grid.items()])))
    runs.everything = list(runs)
    return runs


def run(config, *, only=None, overwrite: bool = False, resume: bool = False, quiet: bool = False) -> dict:
    """Run a Runs (or one Config, or a path) and return {run name: summary} (summary.json's content).
    The run directories, comparison.md and the console output are those of `kinject run`."""
    from kinject.runner import run_all

    if isinstance(config, (str, Path, dict)):
        config = load_config(config)
    runs = Runs([config]) if isinstance(config, Config) else config
    if only:
        runs = runs.only(*([only] if isinstance(only, str) else only))
    previous = console.verbosity()
    console.set_verbosity(console.QUIET if quiet else previous)
    try:
        summaries = run_all(list(runs), overwrite=overwrite, all_configs=getattr(runs, "everything", None),
                            resume=resume)
    finally:
        console.set_verbosity(previous)
    return {(cfg.run_name or Path(cfg.output_dir).name): summary for cfg, summary in zip(runs, summaries)}
