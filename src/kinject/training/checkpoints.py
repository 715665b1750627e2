"""Trainer checkpoint directories, readable without importing transformers (`kinject status`)."""

from __future__ import annotations

import json
from pathlib import Path

STAGING = ".staging"  # checkpoints are written here, then renamed into place whole


def newest_checkpoint(output_dir) -> str | None:
    """The checkpoint-N directory with the largest N, if any. Every checkpoint-N is complete: it is
    renamed into place only once everything in it is written."""
    found = [p for p in Path(output_dir).glob("checkpoint-*")
             if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return str(max(found, key=lambda p: int(p.name.split("-")[-1]))) if found else None


def checkpoint_step(checkpoint) -> int:
    return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"])
