"""accuracy.png: forward and backward accuracy against epoch, for one run; curves.png: the same
curves for several runs side by side (a sweep, or runs from different configs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kinject.io import file_mode  # noqa: E402

COLORS = {"forward": "tab:blue", "backward": "tab:red"}


def plot_accuracy(series: list[tuple[str, list[float], str, str]], epochs: list[int], path: Path, title: str = "") -> None:
    """One run's curves: (label, value per evaluation, line style, colour) from its task."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values, style, color in series:
        ax.plot(epochs, values, style, color=color, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)


def plot_curves(curves: dict[str, list[dict]], path: Path, metric: str = "rouge1_recall", title: str = "",
                x: str = "epoch") -> None:
    """One panel per direction, one line per run: `curves` maps run label -> its evaluations;
    x is 'epoch' or 'step' (optimizer steps: comparable across runs whose epochs differ in size)."""
    directions = [d for d in COLORS if any(d in e for evals in curves.values() for e in evals)]
    panels = max(len(directions), 1)
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5), squeeze=False)
    colors = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    for ax, direction in zip(axes[0], directions):
        for i, (label, evals) in enumerate(curves.items()):
            points = [(e[x], e[direction][metric]) for e in evals if direction in e]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, "-", color=colors(i % colors.N), marker="o", markersize=3, label=label)
        ax.set_title(f"{direction}: {metric_title(metric)}")
        ax.set_xlabel("optimizer step" if x == "step" else "epoch")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    save(fig, path)


def metric_title(name: str) -> str:
    from kinject.registry import METRICS

    return METRICS[name].title.split(" (")[0] if name in METRICS else name


def save(fig, path: Path) -> None:
    """Write the figure atomically (a reader never sees half a PNG) and close it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    fig.tight_layout()
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.chmod(tmp, file_mode())  # mkstemp creates 0600; a figure is for everyone who can read the run
    os.replace(tmp, path)
