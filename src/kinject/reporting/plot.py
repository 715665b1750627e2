"""accuracy.png: forward and backward accuracy against epoch."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLES = {"rouge1_recall": ("-", "ROUGE-1 recall"), "contains": ("--", "contains")}
COLORS = {"forward": "tab:blue", "backward": "tab:red"}


def plot_accuracy(evaluations: list[dict], path: Path, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [e["epoch"] for e in evaluations]
    if evaluations and "math" in evaluations[0]:
        for metric, style in (("strict", "-"), ("flexible", "--")):
            ax.plot(epochs, [e["math"][metric] for e in evaluations], style, color="tab:green", marker="o",
                    markersize=3, label=f"{metric} final-number accuracy")
    for direction, color in COLORS.items():
        if not any(direction in e for e in evaluations):
            continue
        for metric, (style, label) in STYLES.items():
            ys = [e[direction][metric] if direction in e else float("nan") for e in evaluations]
            ax.plot(epochs, ys, style, color=color, marker="o", markersize=3, label=f"{direction} {label}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".accuracy.", suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
