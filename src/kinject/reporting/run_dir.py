"""A self-describing run directory. Every file is written atomically (temporary file, rename).

    config.yaml        the resolved config
    metrics.jsonl      one line per QA evaluation (epoch, step, forward/backward/groups)
    generations.jsonl  question, gold, generated text and scores, per evaluation
    train_log.jsonl    Trainer log history (loss, learning rate, grad norm, mask ratio)
    summary.json       before / final / best, timing, data, mask token (written last: the run finished)
    run_state.json     running / interrupted / failed / finished, with the process, step and reason
    summary.md         the same as a table
    accuracy.png       forward and backward accuracy against epoch
    tensorboard/       training curves
    model/             the trained model in Hugging Face format (save_model: true)
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import yaml

from kinject.io import write_atomic, write_json, write_jsonl


class RunDir:
    """The run's files. In a multi-process run every process keeps the records, and only the main
    one (writer=True) writes them."""

    def __init__(self, path: str | Path, writer: bool = True):
        self.path = Path(path)
        self.writer = writer
        self.evaluations: list[dict] = []
        self.generations: list[dict] = []

    def load_until(self, step: int) -> None:
        """Resume: keep the evaluations (and their generations) made at or before optimizer step `step`."""
        def read(name):
            path = self.path / name
            return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

        self.evaluations = [e for e in read("metrics.jsonl") if e["step"] <= step]
        epochs = {e["epoch"] for e in self.evaluations}
        self.generations = [g for g in read("generations.jsonl") if g["epoch"] in epochs]

    def write_config(self, config: dict) -> None:
        if self.writer:
            write_atomic(self.path / "config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))

    def add_evaluation(self, epoch: int, step: int, result: dict, rows: list[dict], seconds: float) -> dict:
        entry = {"epoch": epoch, "step": step, "seconds": round(seconds, 2), **result}
        self.evaluations.append(entry)
        self.generations += [{"epoch": epoch, **r} for r in rows]
        if self.writer:
            write_jsonl(self.path / "metrics.jsonl", self.evaluations)
            write_jsonl(self.path / "generations.jsonl", self.generations)
        return entry

    def write_train_log(self, history: list[dict]) -> None:
        if self.writer:
            write_jsonl(self.path / "train_log.jsonl", history)

    def write_summary(self, summary: dict, task) -> None:
        from kinject.reporting.plot import plot_accuracy

        if not self.writer:
            return
        plot_accuracy(task.curves(self.evaluations), [e["epoch"] for e in self.evaluations], self.path / "accuracy.png",
                      title=summary.get("run") or summary["objective"])
        write_atomic(self.path / "summary.md", task.run_table(summary))
        write_json(self.path / "summary.json", summary)  # last: its presence marks a finished run


STATE_FILE = "run_state.json"
# everything a run writes into its directory; --overwrite removes these and nothing else
RUN_ENTRIES = ("config.yaml", "metrics.jsonl", "generations.jsonl", "train_log.jsonl", "summary.json", "summary.md",
               STATE_FILE, "accuracy.png", "tensorboard", "trainer", "model", "adapter", ".save.partial")


def _is_ours(name: str, keep: tuple[str, ...]) -> bool:
    if name in RUN_ENTRIES or name in keep:
        return True
    # an atomic write's leftover temporary: ".summary.json.k3j9x", ".accuracy.k3j9x.png"
    return name.startswith(".") and any(name[1:].startswith(entry.split(".")[0] + ".") for entry in RUN_ENTRIES)


def foreign_entries(path, keep: tuple[str, ...] = ()) -> list[str]:
    """Names in a run directory that no run wrote (`keep`: names that belong there too, e.g. the
    generated data of a single-run config)."""
    path = Path(path)
    return sorted(p.name for p in path.iterdir() if not _is_ours(p.name, keep)) if path.is_dir() else []


def kept_in_run_dir(cfg) -> tuple[str, ...]:
    """A single-run config's generated data live in its run directory (OUTPUT_DIR/data): kept there."""
    generated = Path(cfg.data.generated_dir) if cfg.data.generated_dir else None
    if generated and generated.parent.resolve() == Path(cfg.output_dir).resolve():
        return (generated.name,)
    return ()


def clear_run(path, keep: tuple[str, ...] = ()) -> None:
    """--overwrite: remove what a run wrote into `path`, and nothing else."""
    import shutil

    for entry in Path(path).iterdir():
        if entry.name in keep or not _is_ours(entry.name, ()):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def write_state(path: Path, state: str, **details) -> None:
    """run_state.json: what the run is doing, by which process, and why it stopped."""
    write_json(Path(path) / STATE_FILE, {"state": state, "pid": os.getpid(), "host": socket.gethostname(),
                                         "command": " ".join(sys.argv), "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
                                         **details})


def read_state(path: Path) -> dict:
    try:
        return json.loads((Path(path) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def run_status(path) -> tuple[str, str]:
    """(status, one sentence) for a run directory. status: empty, finished, running, resumable or
    incomplete. A run killed at any moment is resumable (a complete checkpoint exists) or
    incomplete (none does); summary.json, written last, is what makes a run finished."""
    from kinject.training.checkpoints import checkpoint_step, newest_checkpoint

    path = Path(path)
    if not path.is_dir() or not any(path.iterdir()):
        return "empty", "no run here"
    if (path / "summary.json").is_file():
        return "finished", "finished"
    state = read_state(path)
    if (state.get("state") == "running" and state.get("host") == socket.gethostname() and _alive(state.get("pid"))
            and int(state.get("pid", -1)) != os.getpid()):
        return "running", f"running now (process {state['pid']})"
    why = state.get("message") or ("stopped without a word (killed?)" if state.get("state") == "running"
                                   else f"{state.get('state', 'no run_state.json')}")
    checkpoint = newest_checkpoint(path / "trainer")
    if checkpoint:
        return "resumable", (f"incomplete ({why}); resumable from optimizer step {checkpoint_step(checkpoint)}: "
                             "continue with `kinject run CONFIG --resume`")
    return "incomplete", f"incomplete ({why}); no checkpoint to resume from: start again with --overwrite"


def best_entry(evaluations: list[dict], task) -> dict | None:
    """The evaluation after training began with the highest selection score of the task (ties:
    the earliest)."""
    trained = [e for e in evaluations if e["epoch"] > 0] or evaluations
    return max(trained, key=task.selection_score, default=None)
