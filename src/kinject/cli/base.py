"""What every command shares: a small class per command (name, help, its flags, `run`), flags
generated from config dataclass fields (type, default, choices and help come from the schema), and
-q / -v."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing


class Command:
    name = ""
    help = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args) -> int:
        raise NotImplementedError


def add_verbosity(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """-q / -v, on the main parser and on every command (before or after the command's name)."""
    default = argparse.SUPPRESS if suppress else False
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=default, help="only the final table and errors")
    group.add_argument("-v", "--verbose", action="store_true", default=default,
                       help="also per-step logs, generation progress and the libraries' messages")


def parse_bool(text: str) -> bool:
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_config_flags(parser: argparse.ArgumentParser, section: str, cls, names: dict[str, str]) -> None:
    """One flag per config field in `names` (field -> flag name), typed, defaulted and explained by
    the schema; the value lands in args as 'section.field', ready for kinject.config.apply_overrides."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for field_name, flag in names.items():
        f, typ = fields[field_name], hints[field_name]
        optional = typing.get_origin(typ) in (typing.Union, types.UnionType)
        base = next(a for a in typing.get_args(typ) if a is not type(None)) if optional else typ
        text = f.metadata.get("help", "").rstrip(".")
        kwargs = {"dest": f"{section}.{field_name}", "default": argparse.SUPPRESS,
                  "help": text if "default" in text else f"{text} (default: {f.default})"}
        if base is bool:
            kwargs.update(nargs="?", const=True, type=parse_bool, metavar="true|false")
        else:
            kwargs.update(type=base, metavar=flag.upper().replace("-", "_"))
        if f.metadata.get("choices"):
            kwargs.update(choices=f.metadata["choices"], metavar=None)
        parser.add_argument(f"--{flag}", **kwargs)


def config_flags(args, section: str) -> dict:
    """The 'section.field' values the user gave (defaults stay with the schema)."""
    return {k: v for k, v in vars(args).items() if k.startswith(f"{section}.")}
