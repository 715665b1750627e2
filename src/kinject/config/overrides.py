"""Applying overrides to a config: nested or dotted keys, typed and checked against the schema, with
a did-you-mean for unknown keys; the command line's `key=value` items and `--grid key=v1,v2`."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing

import yaml

from kinject.config.schema import Config
from kinject.errors import KinjectError
from kinject.registry import OBJECTIVES, TASKS


# keys whose choices are the names in a registry (code outside kinject may register more)
REGISTERED = {("ObjectiveConfig", "name"): OBJECTIVES, ("Config", "task"): TASKS}


def choices_of(cls, name: str, f: dataclasses.Field) -> tuple | None:
    registry = REGISTERED.get((cls.__name__, name))
    return tuple(registry) if registry is not None else f.metadata.get("choices")


def _section_fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _type_of(cls, name: str):
    return typing.get_type_hints(cls)[name]


def _coerce(value, typ, key: str, where: str):
    """Convert a YAML or command-line value to the field's type; a clear error otherwise."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            return None
        return _coerce(value, args[0], key, where)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
    elif typ in (int, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (typ is float or isinstance(value, int)):
            return typ(value)
        if isinstance(value, str):
            try:
                return typ(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, bool):  # YAML turns `true` into a bool; for string fields keep the word
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
    raise KinjectError(f"{where}: key '{key}': expected {getattr(typ, '__name__', typ)}, got {value!r}")


def _unknown(key: str, known: list[str], where: str) -> KinjectError:
    section, _, name = key.rpartition(".")
    close = difflib.get_close_matches(name, known, n=1) or [k for k in known if name.startswith(k) or k.startswith(name)]
    hint = f" (did you mean '{section + '.' if section else ''}{close[0]}'?)" if close else ""
    return KinjectError(f"{where}: unknown key '{key}'{hint}")


def apply_overrides(cfg: Config, overrides: dict, where: str) -> Config:
    """Apply a nested or dotted mapping of overrides to a copy of `cfg`."""
    cfg = copy.deepcopy(cfg)
    for key, value in _flatten(overrides):
        parts = key.split(".")
        target, cls = cfg, Config
        for i, part in enumerate(parts):
            fields = _section_fields(cls)
            if part not in fields:
                raise _unknown(".".join(parts[: i + 1]), list(fields), where)
            typ = _type_of(cls, part)
            if dataclasses.is_dataclass(typ):
                if i == len(parts) - 1:
                    raise KinjectError(f"{where}: key '{key}' is a section; set its fields, e.g. '{key}.{next(iter(_section_fields(typ)))}'")
                target, cls = getattr(target, part), typ
                continue
            if i != len(parts) - 1:
                raise KinjectError(f"{where}: key '{'.'.join(parts[: i + 1])}' is not a section")
            coerced = _coerce(value, typ, key, where)
            choices = choices_of(cls, part, fields[part])
            if choices and coerced not in choices:
                raise KinjectError(f"{where}: key '{key}': {coerced!r} is not one of {', '.join(choices)}")
            setattr(target, part, coerced)
    return cfg


def _flatten(mapping: dict, prefix: str = ""):
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, full + ".")
        else:
            yield full, value


def parse_cli_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise KinjectError(f"command line: override '{item}' must look like section.key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def _grid(grid, where: str) -> dict[str, list]:
    """A grid mapping (nested or dotted keys) as {dotted key: [values]}, checked."""
    if not isinstance(grid, dict):
        raise KinjectError(f"{where}: must map keys to lists of values, e.g. {{train.lr: [1e-4, 3e-4]}}")
    out = {}
    for key, values in _flatten(grid):
        if not isinstance(values, list) or not values:
            raise KinjectError(f"{where}: key '{key}': needs a non-empty list of values, got {values!r}")
        out[key] = [_get(apply_overrides(Config(), {key: v}, where), key) for v in values]  # checked and typed
    return out


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def parse_cli_grid(items: list[str]) -> dict[str, list]:
    out = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values.strip():
            raise KinjectError(f"command line: --grid '{item}' must look like section.key=v1,v2")
        out[key.strip()] = [yaml.safe_load(v) if v.strip() else "" for v in values.split(",")]
    return _grid(out, "command line: --grid")


def grid_points(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, the first key varying slowest ([{}] for no grid)."""
    points = [{}]
    for key, values in grid.items():
        points = [{**p, key: v} for p in points for v in values]
    return points


def grid_run_name(name: str, point: dict) -> str:
    parts = [name] if name else []
    parts += [f"{key.rpartition('.')[2]}={_show(value)}" for key, value in point.items()]
    return ",".join(parts)


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


