"""The `kinject` command: one small class per command (kinject.cli.run / data / model), a parser
built from them, and one line per error (exit 2; 1 for a run that failed; 130 for Ctrl-C).

    kinject run CONFIG [key=value ...] [--only NAME ...] [--grid KEY=V1,V2 ...] [--overwrite | --resume]
    kinject status RUN_DIR|CONFIG ...      kinject curves RUN_DIR ... [--out PNG]
    kinject eval --test FILE [--model NAME_OR_DIR] [model / eval flags] [--out DIR]
    kinject data validate|generate|math ...   kinject paraphrase DOCS OUT [key=value ...]
    kinject model prepare                  kinject world CONFIG       kinject config [--markdown]
"""

from __future__ import annotations

import argparse
import sys

from kinject import console
from kinject.cli.base import add_verbosity
from kinject.cli.data import DataCommand, ParaphraseCommand
from kinject.cli.model import ConfigCommand, EvalCommand, ModelCommand
from kinject.cli.run import CurvesCommand, RunCommand, StatusCommand, WorldCommand
from kinject.errors import KinjectError

COMMANDS = (RunCommand(), EvalCommand(), DataCommand(), ModelCommand(), ParaphraseCommand(), WorldCommand(),
            StatusCommand(), CurvesCommand(), ConfigCommand())


def add_commands(subparsers, commands) -> None:
    for command in commands:
        parser = subparsers.add_parser(command.name, help=command.help, description=command.help)
        add_verbosity(parser, suppress=True)
        inner = getattr(command, "commands", None)
        if inner:
            add_commands(parser.add_subparsers(dest=f"{command.name}_command", required=True), inner)
        else:
            command.add_arguments(parser)
            parser.set_defaults(command=command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kinject", description="Inject new knowledge into LLMs by fine-tuning and "
                                     "measure forward/backward QA.")
    add_verbosity(parser, suppress=False)
    add_commands(parser.add_subparsers(dest="command_name", required=True), COMMANDS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may also follow options (`run cfg.yaml --only a train.lr=1e-4`)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = list(args.overrides) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    console.set_verbosity(console.QUIET if args.quiet else console.VERBOSE if args.verbose else console.NORMAL)
    try:
        return args.command.run(args)
    except KinjectError as e:
        console.close_progress_bars()
        print(f"kinject: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        console.close_progress_bars()
        if str(e):  # RunInterrupted: says where the checkpoint is
            print(f"kinject: interrupted: {e}", file=sys.stderr)
            return 130
        hint = "; continue with `kinject run ... --resume`" if args.command_name == "run" else ""
        print(f"kinject: interrupted (runs with train.checkpoint_steps keep their newest checkpoint{hint})"
              if hint else "kinject: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
