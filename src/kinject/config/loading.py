"""Loading a config: a YAML file (or none) plus command-line overrides, resolved into one Config
per run. A YAML file may hold `runs:`, a mapping from run name to overrides of the shared settings
(each run goes into output_dir/<name>), and a `grid:` of key -> values that expands runs into one
run per combination (a sweep). Precedence: defaults < YAML < the run's overrides < command line.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import yaml

from kinject.config.overrides import (_flatten, _grid, apply_overrides, grid_points, grid_run_name, parse_cli_grid,
                                      parse_cli_overrides)
from kinject.config.schema import Config
from kinject.config.validation import validate
from kinject.errors import KinjectError
from kinject.registry import TASKS


def read_yaml(path) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise KinjectError(f"{path}: cannot read config ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise KinjectError(f"{path}{line}: invalid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(raw, dict):
        raise KinjectError(f"{path}: the config must be a mapping of sections")
    return raw


def load_runs(path: str | Path | None, cli_overrides: list[str] = (), cli_grid: list[str] = ()) -> list[Config]:
    """Resolve a YAML file (or no file) plus command-line overrides into one Config per run."""
    raw = read_yaml(path) if path else {}
    return resolve_runs(raw, str(path) if path else "config", parse_cli_overrides(list(cli_overrides)),
                        parse_cli_grid(list(cli_grid)))


def resolve_runs(raw: dict, where: str, cli: dict, cli_grid: dict) -> list[Config]:
    """One Config per run of a config mapping. A ``grid:`` (top level, inside one run, or ``--grid
    key=v1,v2``) maps dotted keys to lists of values; each run is expanded into the product of its
    grids, named ``run,leaf=value,...`` (e.g. ``masked,lr=0.0003``). Every Config remembers which
    keys its sources set (`set_keys`), so that a key its objective does not read can be refused."""
    raw = dict(raw)
    runs = raw.pop("runs", None) or {}
    if not isinstance(runs, dict):
        raise KinjectError(f"{where}: key 'runs' must map run names to overrides")
    top_grid = {**_grid(raw.pop("grid", None) or {}, f"{where}: grid"), **cli_grid}
    base = apply_overrides(Config(), raw, where)
    root = Path(base.output_dir if "output_dir" not in cli else cli["output_dir"])
    shared = {k for k, _ in _flatten(raw)} | (set(top_grid) - set(cli_grid))
    from_cli = set(cli) | set(cli_grid)
    if not runs and not top_grid:
        cfg = apply_overrides(base, cli, "command line")
        cfg.set_keys = {"shared": shared, "run": set(), "cli": from_cli}
        return [checked(cfg, where, root)]
    configs = []
    for name, run_overrides in (runs or {"": {}}).items():
        if not isinstance(run_overrides, dict):
            raise KinjectError(f"{where}: runs.{name}: must be a mapping of overrides")
        run_overrides = dict(run_overrides)
        run_grid = _grid(run_overrides.pop("grid", None) or {}, f"{where}: runs.{name}.grid")
        run_where = f"{where}: runs.{name}" if name != "" else where
        own = {k for k, _ in _flatten(run_overrides)} | set(run_grid)
        for point in grid_points({**top_grid, **run_grid}):
            cfg = apply_overrides(base, run_overrides, run_where)
            cfg = apply_overrides(cfg, point, f"{run_where}.grid")
            cfg = apply_overrides(cfg, cli, "command line")
            cfg.run_name = grid_run_name(str(name), point)
            cfg.output_dir = str(root / cfg.run_name)
            cfg.set_keys = {"shared": shared, "run": own, "cli": from_cli}
            configs.append(checked(cfg, f"{where}: runs.{cfg.run_name}", root))
    names = [c.run_name for c in configs]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        raise KinjectError(f"{where}: two runs are named {clash!r} (grid values that print alike?)")
    return configs


def checked(cfg: Config, where: str, root: str | Path) -> Config:
    """resolve_world() + resolve_generated() + validate(), with errors naming the config file (and
    run). root: the config's top-level output_dir (generated data default to root/data)."""
    cfg.source = where  # not a config key: where later errors about this run's keys point
    with naming_source(where):
        return validate(resolve_generated(resolve_world(cfg), root))


@contextlib.contextmanager
def naming_source(where: str):
    """Errors about config keys ('config: key ...') name the file (and run) they come from."""
    try:
        yield
    except KinjectError as e:
        text = str(e)
        if not text.startswith("config: "):
            raise
        raise KinjectError(f"{where}{text[len('config'):]}") from None


def resolve_world(cfg: Config) -> Config:
    """With world.dir set: model.name 'world:causal' / 'world:bidirectional' names a twin, and empty
    data.train / data.test mean the world's injection set."""
    if cfg.model.name.startswith("world:"):
        twin = cfg.model.name.split(":", 1)[1]
        if not cfg.world.dir:
            raise KinjectError(f"config: key 'model.name': {cfg.model.name!r} needs world.dir")
        if twin not in ("causal", "bidirectional"):
            raise KinjectError(f"config: key 'model.name': {cfg.model.name!r}: the world's twins are "
                               "'world:causal' and 'world:bidirectional'")
        cfg.model.name = str(Path(cfg.world.dir) / twin)
    if cfg.world.dir:
        cfg.data.train = cfg.data.train or str(Path(cfg.world.dir) / "data" / "documents.jsonl")
        cfg.data.test = cfg.data.test or str(Path(cfg.world.dir) / "data" / "questions.jsonl")
    return cfg


def resolve_generated(cfg: Config, root: str | Path) -> Config:
    """With generation on, data.train / data.test are the generated files in data.generated_dir.
    A user's own file named there would be silently replaced or silently ignored, so it is refused."""
    task = TASKS[cfg.task]
    key, count = task.generation(cfg)
    if not count or cfg.world.dir or cfg.data.corpus:  # both refused by validate(), with their own line
        return cfg
    d = cfg.data
    d.generated_dir = d.generated_dir or str(Path(root) / "data")
    generated = [str(Path(d.generated_dir) / name) for name in task.generated_files]
    named = [(k, v) for k, v, own in (("data.train", d.train, generated[0]), ("data.test", d.test, generated[1]))
             if v and os.path.abspath(v) != os.path.abspath(own)]
    if named:
        what = " and ".join(f"{k}={v}" for k, v in named)
        raise KinjectError(f"config: key '{named[0][0]}': {what} names your own file, but {key}={count} generates both "
                           f"data.train and data.test into {d.generated_dir}; give both files (data.train and "
                           f"data.test) with {key}=0, or leave both unset to use the generated set")
    d.train, d.test = generated
    return cfg


