"""Commands about runs: run a config, say where its runs stand, draw curves across runs, build a
config's world."""

from __future__ import annotations

import sys
from pathlib import Path

from kinject.cli.base import Command
from kinject.errors import KinjectError


class RunCommand(Command):
    name = "run"
    help = "train and evaluate the run(s) of a YAML config"

    def add_arguments(self, p):
        p.add_argument("config", help="YAML config file")
        p.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. train.epochs=3")
        p.add_argument("--only", nargs="+", metavar="NAME", help="run only these named runs")
        p.add_argument("--grid", action="append", metavar="KEY=V1,V2", help="sweep: every run once per value "
                       "(repeat for a product), e.g. --grid train.lr=1e-4,3e-4")
        p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
        p.add_argument("--resume", action="store_true", help="continue unfinished runs from their newest checkpoint")

    def run(self, args) -> int:
        from kinject.config import load_runs
        from kinject.runner import run_all

        grid = args.grid or []
        if args.only:  # `--only a b key=value`: nargs="+" also took the overrides that follow
            names = {c.run_name for c in load_runs(args.config, [], grid)}  # grid runs are named `run,key=value`
            args.overrides = list(args.overrides) + [o for o in args.only if "=" in o and o not in names]
            args.only = [o for o in args.only if "=" not in o or o in names]
        configs = all_configs = load_runs(args.config, args.overrides, grid)
        if args.only:
            names = {c.run_name for c in configs}
            unknown = [n for n in args.only if n not in names]
            if unknown:
                raise KinjectError(f"{args.config}: --only: no run named {unknown[0]!r} (runs: {', '.join(sorted(names))})")
            configs = [c for c in configs if c.run_name in args.only]
        if args.resume and args.overwrite:
            raise KinjectError("command line: --resume and --overwrite exclude each other")
        run_all(configs, overwrite=args.overwrite, all_configs=all_configs, resume=args.resume)
        return 0


class StatusCommand(Command):
    name = "status"
    help = ("say whether run directories are finished, running, resumable or incomplete (exit 0: all finished or "
            "running, 3: some resumable, 4: some incomplete or empty)")

    def add_arguments(self, p):
        p.add_argument("targets", nargs="+", help="run directories, or config files (their runs' directories)")

    def run(self, args) -> int:
        from kinject.config import load_runs
        from kinject.reporting.run_dir import run_status

        dirs = []
        for target in args.targets:
            if Path(target).is_file():  # a config: every run directory it names
                dirs += [c.output_dir for c in load_runs(target, [])]
            else:
                dirs.append(target)
        worst = 0
        for d in dirs:
            status, sentence = run_status(d)
            print(f"{d}: {sentence}")
            worst = max(worst, {"finished": 0, "running": 0, "resumable": 3, "empty": 4, "incomplete": 4}[status])
        return worst


class CurvesCommand(Command):
    name = "curves"
    help = "forward/backward accuracy of several runs: one figure, and a markdown table on stdout"

    def add_arguments(self, p):
        import kinject.evaluation.metrics  # noqa: F401  (registers the knowledge metrics)
        from kinject.registry import metrics_for

        p.add_argument("runs", nargs="+", help="run directories, or directories of runs (e.g. a sweep's output_dir)")
        p.add_argument("--out", default="curves.png", help="PNG to write (default: curves.png)")
        p.add_argument("--metric", default="rouge1_recall",
                       help=f"one of {', '.join(m.name for m in metrics_for('knowledge'))} (default: rouge1_recall)")
        p.add_argument("--title", default="", help="figure title")
        p.add_argument("--x", choices=("epoch", "step"), default="epoch", help="x axis: epochs, or optimizer steps "
                       "(for runs whose epochs differ in size)")

    def run(self, args) -> int:
        from kinject.reporting.curves import write_curves

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        print(write_curves(args.runs, out, args.metric, args.title, args.x).rstrip())
        print(f"wrote {out}", file=sys.stderr)
        return 0


class WorldCommand(Command):
    name = "world"
    help = "build the CPU-scale world (twin models + injection set) of a config"

    def add_arguments(self, p):
        p.add_argument("config", help="YAML config file with a world section")
        p.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. world.epochs=10")

    def run(self, args) -> int:
        from kinject.config import load_runs
        from kinject.world.build import build_world

        worlds = {c.world.dir: c.world for c in load_runs(args.config, args.overrides) if c.world.dir}
        if not worlds:
            raise KinjectError(f"{args.config}: no world.dir set, so there is no world to build")
        for world in worlds.values():
            print(build_world(world))
        return 0
