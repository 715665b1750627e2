"""Accuracy curves across runs: read the metrics.jsonl of several run directories, tabulate and
plot them together (`kinject curves`, and curves.png next to a multi-run config's comparison.md)."""

from __future__ import annotations

import json
from pathlib import Path

from kinject.errors import KinjectError

DIRECTIONS = ("forward", "backward")


def run_dirs(targets: list[str]) -> list[Path]:
    """Run directories named by `targets`: a run directory itself, or a directory of runs."""
    dirs = []
    for target in map(Path, targets):
        if (target / "metrics.jsonl").is_file():
            dirs.append(target)
        elif target.is_dir():
            found = sorted(p.parent for p in target.glob("*/metrics.jsonl"))
            if not found:
                raise KinjectError(f"{target}: neither a run directory (no metrics.jsonl) nor a directory of runs")
            dirs += found
        else:
            raise KinjectError(f"{target}: no such run directory")
    return dirs


def load_curves(dirs: list[Path]) -> dict[str, list[dict]]:
    """{label: evaluations in step order}; the label is the directory name (made unique with its parent)."""
    names = [d.name for d in dirs]
    curves = {}
    for d, name in zip(dirs, names):
        label = name if names.count(name) == 1 else f"{d.parent.name}/{name}"
        evals = []
        for i, line in enumerate((d / "metrics.jsonl").read_text().splitlines()):
            try:
                evals.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise KinjectError(f"{d / 'metrics.jsonl'}:{i + 1}: invalid JSON ({e.msg})") from None
        curves[label] = sorted(evals, key=lambda e: e["step"])
    return curves


def curve_table(curves: dict[str, list[dict]], metric: str = "rouge1_recall", x: str = "epoch") -> str:
    """Markdown: one row per epoch (or step), one column per run, cells 'forward / backward'."""
    rows = sorted({e[x] for evals in curves.values() for e in evals})
    at = {label: {e[x]: e for e in evals} for label, evals in curves.items()}
    lines = [f"Forward / backward {metric} by {x}", "",
             f"| {x} | " + " | ".join(curves) + " |", "|---:|" + "---|" * len(curves)]
    for row in rows:
        cells = []
        for label in curves:
            e = at[label].get(row)
            cells.append(" / ".join(f"{e[d][metric]:.2f}" if d in e else "-" for d in DIRECTIONS) if e else "")
        lines.append(f"| {row:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_curves(targets: list[str], out: Path, metric: str = "rouge1_recall", title: str = "",
                 x: str = "epoch") -> str:
    """Plot the runs' curves into `out` (PNG) and return their table."""
    from kinject.reporting.plot import plot_curves

    curves = load_curves(run_dirs(targets))
    known = {m for evals in curves.values() for e in evals for d in DIRECTIONS if d in e for m in e[d] if m != "n"}
    if metric not in known:
        raise KinjectError(f"--metric {metric}: the runs record {', '.join(sorted(known)) or 'no QA metrics'}")
    plot_curves(curves, out, metric, title, x)
    return curve_table(curves, metric, x)
