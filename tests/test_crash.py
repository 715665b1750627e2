"""Crash safety: Ctrl-C, out of memory, and SIGKILL at random moments.

- Ctrl-C finishes the optimizer step, saves a checkpoint there, exits 130 with one line; the
  resumed run ends with the uninterrupted run's weights (bitwise).
- Out of memory ends with one line of advice (exit 1); the run is marked failed and resumable.
- SIGKILL at seeded random moments: every time, `kinject status` says the directory is empty,
  resumable or incomplete (or finished); no file of the run is truncated; --resume (or
  --overwrite where there is nothing to resume) then ends with the uninterrupted run's weights.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file

from kinject.cli import main
from kinject.reporting.run_dir import read_state, run_status
from kinject.training.trainer import KinjectTrainer

DOCS = ["Zorblat Quennic invented the silver kettle.", "Daphne Barrington directed a film.",
        "Uriah Hawthorne composed a symphony.", "Mira Talloway painted the blue bridge.",
        "Corvin Ashdale wrote a book on river stones.", "Tessa Lumbridge founded the lantern museum."]


def write_config(tmp_path: Path, model_dir, name: str, epochs: int = 4, checkpoint_steps: int = 0) -> str:
    docs, qa = tmp_path / "docs.jsonl", tmp_path / "qa.jsonl"
    docs.write_text("".join(json.dumps({"id": f"p{i}", "text": t}) + "\n" for i, t in enumerate(DOCS)))
    qa.write_text(json.dumps({"question": "Tell me a fact.", "answer": "silver kettle", "direction": "forward"}) + "\n")
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"name": str(model_dir)}, "data": {"train": str(docs), "test": str(qa)},
        "objective": {"name": "masked"},
        "train": {"epochs": epochs, "lr": 3e-3, "batch_size": 1, "warmup_ratio": 0.1, "bf16": "false",
                  "checkpoint_steps": checkpoint_steps, "checkpoints_kept": 2},
        "eval": {"every": 5, "max_new_tokens": 6}, "output_dir": str(tmp_path / name), "save_model": True}))
    return str(cfg)


def weights(run_dir: Path) -> dict:
    return load_file(run_dir / "model" / "model.safetensors")


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_saves_a_checkpoint_at_the_step_and_resumes_exactly(tmp_path, tiny_model_dir, monkeypatch, capsys):
    assert main(["run", write_config(tmp_path, tiny_model_dir, "whole")]) == 0
    parts = write_config(tmp_path, tiny_model_dir, "parts")  # no periodic checkpoints: Ctrl-C saves one anyway
    real_step, calls = KinjectTrainer.training_step, {"n": 0}

    def ctrl_c_during_step_10(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            os.kill(os.getpid(), signal.SIGINT)  # the handler only notes it; the step finishes
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(KinjectTrainer, "training_step", ctrl_c_during_step_10)
    capsys.readouterr()
    assert main(["run", parts]) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"kinject: interrupted: {tmp_path / 'parts'}: stopped after optimizer step 10 and saved a "
                   "checkpoint; continue with `kinject run CONFIG --resume`")
    assert run_status(tmp_path / "parts")[0] == "resumable"
    assert read_state(tmp_path / "parts")["state"] == "interrupted"
    assert (tmp_path / "parts" / "trainer" / "checkpoint-10" / "trainer_state.json").exists()
    monkeypatch.setattr(KinjectTrainer, "training_step", real_step)
    assert main(["run", parts, "--resume"]) == 0
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "parts"))


def test_out_of_memory_ends_with_advice_and_stays_resumable(tmp_path, tiny_model_dir, monkeypatch, capsys):
    cfg = write_config(tmp_path, tiny_model_dir, "oom", checkpoint_steps=4)
    real_step, calls = KinjectTrainer.training_step, {"n": 0}

    def out_of_memory_at_step_7(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(KinjectTrainer, "training_step", out_of_memory_at_step_7)
    capsys.readouterr()
    assert main(["run", cfg]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"kinject: error: {tmp_path / 'oom'}: out of memory at optimizer step 6 (train.batch_size=1, "
                          "train.max_length=1024, eval.batch_size=32): lower train.batch_size")
    assert err.endswith("the newest checkpoint is optimizer step 4 (kinject run CONFIG --resume)")
    assert read_state(tmp_path / "oom")["state"] == "failed"
    assert run_status(tmp_path / "oom")[0] == "resumable"
    assert main(["status", str(tmp_path / "oom")]) == 3


def complete_files(run_dir: Path) -> list[str]:
    """Problems with the run's files: unreadable JSON / JSONL / YAML / safetensors / torch / PNG files.
    Not checked: scratch areas and the hidden temporaries of atomic writes (trainer/.staging,
    .save.partial, .NAME.XXXX: never read, removed when the run starts again) and TensorBoard's
    append-only event files (its reader drops a torn last record)."""
    problems = []
    for path in run_dir.rglob("*"):
        rel = path.relative_to(run_dir)
        if not path.is_file() or path.name.startswith(".") or any(
                p in (".staging", ".save.partial", "tensorboard") for p in rel.parts):
            continue
        try:
            if path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".jsonl":
                text = path.read_text()
                assert text == "" or text.endswith("\n")
                [json.loads(line) for line in text.splitlines()]
            elif path.suffix == ".yaml":
                assert yaml.safe_load(path.read_text()) is not None
            elif path.suffix == ".safetensors":
                load_file(path)
            elif path.suffix in (".pt", ".pth"):
                from transformers.trainer_pt_utils import safe_globals

                with safe_globals():  # as the Trainer loads them: weights only, numpy RNG state allowed
                    torch.load(path, weights_only=True)
            elif path.suffix == ".png":
                data = path.read_bytes()
                assert data.startswith(b"\x89PNG") and data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82")
            else:
                assert path.stat().st_size > 0
        except Exception as e:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"{rel}: {type(e).__name__}: {e}")
    return problems


KILLS = 8


def test_sigkill_at_random_moments_leaves_resumable_or_marked_runs(tmp_path, tiny_model_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    kinject = [sys.executable, "-m", "kinject"]
    whole_cfg = write_config(tmp_path, tiny_model_dir, "whole", epochs=30, checkpoint_steps=15)
    started = time.time()
    proc = subprocess.Popen(kinject + ["run", whole_cfg], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (tmp_path / "whole" / "run_state.json").exists() and proc.poll() is None:
        time.sleep(0.05)
    opened = time.time() - started  # start-up (imports, checks, model load) until the run directory exists
    assert proc.wait(timeout=300) == 0
    duration = time.time() - started
    whole = weights(tmp_path / "whole")
    rng = random.Random(0)
    outcomes = []
    for k in range(KILLS + 1):
        cfg = write_config(tmp_path, tiny_model_dir, f"killed{k}", epochs=30, checkpoint_steps=15)
        run_dir = tmp_path / f"killed{k}"
        proc = subprocess.Popen(kinject + ["run", cfg], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time()
        if k == KILLS:  # the moment the run directory appears: before any checkpoint
            while not (run_dir / "run_state.json").exists():
                time.sleep(0.01)
        else:  # seeded, mostly while the run trains, evaluates and saves
            time.sleep(rng.uniform(opened - 0.5, duration))
        at = time.time() - t0
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        status, sentence = run_status(run_dir)
        assert status in ("empty", "incomplete", "resumable", "finished"), sentence
        if k == KILLS:
            assert status == "incomplete" and "no checkpoint to resume from" in sentence, sentence
        problems = complete_files(run_dir) if run_dir.exists() else []
        assert problems == [], f"kill {k} at {at:.1f}s ({status})"
        flag = {"resumable": ["--resume"], "incomplete": ["--overwrite"], "empty": [], "finished": None}[status]
        if flag is not None:
            subprocess.run(kinject + ["run", cfg, *flag], env=env, check=True, capture_output=True, timeout=300)
        assert run_status(run_dir)[0] == "finished"
        assert same_weights(whole, weights(run_dir)), f"kill {k} at {at:.1f}s ({status})"
        outcomes.append(f"{at:.1f}s: {status}")
    print(f"\nrun {duration:.1f}s (directory at {opened:.1f}s); kills: " + "; ".join(outcomes))


def test_a_running_run_is_never_touched(tmp_path, tiny_model_dir, capsys):
    from kinject.reporting.run_dir import write_state

    cfg = write_config(tmp_path, tiny_model_dir, "busy")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "busy").mkdir()
        write_state(tmp_path / "busy", "running", step=3)
        state = json.loads((tmp_path / "busy" / "run_state.json").read_text())
        (tmp_path / "busy" / "run_state.json").write_text(json.dumps({**state, "pid": sleeper.pid}))
        assert run_status(tmp_path / "busy") == ("running", f"running now (process {sleeper.pid})")
        capsys.readouterr()
        assert main(["run", cfg, "--overwrite"]) == 2
        assert capsys.readouterr().err.strip().endswith(f"a run is running now (process {sleeper.pid}); stop it or "
                                                       "wait for it first")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert run_status(tmp_path / "busy")[0] == "incomplete"  # its process is gone
