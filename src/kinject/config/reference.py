"""The config described for people: `kinject config` (every key with its default and help, then the
registered objectives and the keys each reads) and docs/config.md, generated from the same schema."""

from __future__ import annotations

import dataclasses

from kinject.config.overrides import _type_of
from kinject.config.schema import Config


def schema_rows(cls=Config, prefix: str = ""):
    """(dotted key, default, help, choices) for every key, in schema order."""
    for f in dataclasses.fields(cls):
        typ = _type_of(cls, f.name)
        if dataclasses.is_dataclass(typ):
            yield from schema_rows(typ, f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        yield f"{prefix}{f.name}", default, f.metadata.get("help", ""), f.metadata.get("choices")


def objective_rows():
    from kinject.registry import OBJECTIVES

    for name, cls in OBJECTIVES.items():
        yield name, cls.task, cls.description, ", ".join(cls.reads) or "-"


def describe_schema() -> str:
    lines = [f"{key} = {default!r}\n    {help}" for key, default, help, _ in schema_rows()]
    lines.append("\nobjective.name: each objective reads only the objective.* keys listed; setting another is an error")
    lines += [f"  {name} (task {task}): {description}\n    reads: {reads}" for name, task, description, reads
              in objective_rows()]
    return "\n".join(lines)


def markdown_reference() -> str:
    """docs/config.md (tests/test_docs.py keeps the file equal to this)."""
    out = ["# Config reference", "",
           "Generated from the schema (`src/kinject/config/schema.py`) by `kinject config --markdown`; "
           "a test keeps this file current. Precedence: defaults < YAML < the run's entry in `runs:` < "
           "command line (`section.key=value`).", ""]
    section = None
    for key, default, help, choices in schema_rows():
        head = key.rpartition(".")[0] or "top level"
        if head != section:
            out += ([""] if section else []) + [f"## {head}", "", "| key | default | meaning |", "|---|---|---|"]
            section = head
        options = f" One of: {', '.join(f'`{c}`' for c in choices)}." if choices else ""
        shown = repr(default).replace("|", "\\|").replace("\n", "\\n")
        out.append(f"| `{key}` | `{shown}` | {help.replace('|', chr(92) + '|')}{options} |")
    out += ["", "## Objectives", "", "Each objective reads only the `objective.*` keys listed; setting another one for "
            "its run is an error.", "", "| objective.name | task | what it trains | reads |", "|---|---|---|---|"]
    out += [f"| `{n}` | {t} | {d} | {r} |" for n, t, d, r in objective_rows()]
    return "\n".join(out) + "\n"
