"""Exact resume: a run interrupted after k optimizer steps and resumed with --resume ends with the
same weights (bitwise, CPU) and the same metrics as the uninterrupted run; random masks included."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from kinject.cli import main
from kinject.training.trainer import KinjectTrainer


def write_config(tmp_path, model_dir, out: str, optimizer: str) -> str:
    docs, qa = tmp_path / "docs.jsonl", tmp_path / "qa.jsonl"
    docs.write_text("".join(json.dumps({"id": f"p{i}", "text": t}) + "\n" for i, t in enumerate(
        ["Zorblat Quennic invented the silver kettle.", "Daphne Barrington directed a film.",
         "Uriah Hawthorne composed a symphony."])))
    qa.write_text(json.dumps({"question": "Tell me a fact.", "answer": "silver kettle", "direction": "forward"}) + "\n")
    cfg = tmp_path / f"{out}.yaml"
    cfg.write_text(f"""
model: {{name: {model_dir}}}
data: {{train: {docs}, test: {qa}}}
objective: {{name: masked}}
train: {{epochs: 4, lr: 3.0e-3, batch_size: 1, grad_accum: 1, warmup_ratio: 0.2, bf16: "false",
         checkpoint_steps: 2, checkpoints_kept: 2, optimizer: {optimizer}}}
eval: {{every: 2, max_new_tokens: 12}}
output_dir: {tmp_path / out}
save_model: true
""")
    return str(cfg)


@pytest.mark.parametrize("optimizer", ["adamw", "sam"])
def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(tmp_path, tiny_model_dir, monkeypatch, optimizer):
    whole = write_config(tmp_path, tiny_model_dir, "whole", optimizer)
    assert main(["run", whole]) == 0

    parts = write_config(tmp_path, tiny_model_dir, "parts", optimizer)
    real_step = KinjectTrainer.training_step
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:  # during step 8 of 12: the newest checkpoint is step 6
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(KinjectTrainer, "training_step", interrupted)
    assert main(["run", parts]) == 130
    assert not (tmp_path / "parts" / "summary.json").exists()
    assert (tmp_path / "parts" / "trainer" / "checkpoint-6").exists()
    monkeypatch.setattr(KinjectTrainer, "training_step", real_step)
    assert main(["run", parts, "--resume"]) == 0

    a = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    b = load_file(tmp_path / "parts" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bitwise
    metrics = [[{k: v for k, v in m.items() if k != "seconds"} for m in map(json.loads, (tmp_path / d / "metrics.jsonl")
               .read_text().splitlines())] for d in ("whole", "parts")]
    assert metrics[0] == metrics[1] and [m["epoch"] for m in metrics[0]] == [0, 2, 4]
    sa, sb = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("whole", "parts"))
    assert sa["timing"]["train_tokens"] == sb["timing"]["train_tokens"]
    assert sa["compute"]["forward_backward_tokens"] == sb["compute"]["forward_backward_tokens"]
    assert sb["timing"]["resumed_from"].endswith("checkpoint-6")
    # a finished run is kept as it is
    assert main(["run", parts, "--resume"]) == 0
    assert load_file(tmp_path / "parts" / "model" / "model.safetensors").keys() == b.keys()
