"""Guards for refactors: a golden run on the tiny model (standard, masked, mdm for 6 epochs, and a
2-epoch math run) whose run files must stay byte-identical (timing and temporary paths stripped), the first
losses of every objective, and snapshots of `kinject config` and every `--help`.

A change that moves these on purpose refreshes them in a commit of its own that states the
measured differences: KINJECT_UPDATE_GOLDEN=1 pytest tests/test_golden.py
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

import pytest
import torch

from kinject.cli import main

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KINJECT_UPDATE_GOLDEN") == "1"
RUN_FILES = ("summary.json", "summary.md", "metrics.jsonl", "generations.jsonl", "train_log.jsonl")
ROOT_FILES = ("comparison.md", "comparison.json")
TIMING = {"train_seconds", "seconds_per_epoch", "eval_seconds", "total_seconds", "tokens_per_second",
          "augmentation_seconds", "seconds", "train_runtime", "train_samples_per_second", "train_steps_per_second"}

KNOWLEDGE = """
model: {{name: {model}}}
data: {{generate_people: 4}}
train: {{epochs: 6, batch_size: 2, lr: 1.0e-2, bf16: "false", seed: 0}}
eval: {{every: 3, batch_size: 8, max_new_tokens: 8, steps: 8, block_length: 4}}
output_dir: {out}
runs:
  standard: {{objective: {{name: standard, format: pretrain}}}}
  masked: {{objective: {{name: masked}}}}
  mdm: {{model: {{bidirectional: true}}, objective: {{name: mdm}}}}
"""
MATH = """
task: math
model: {{name: {model}}}
data: {{generate_problems: 6, generate_test_problems: 4}}
objective: {{name: masked_sft}}
train: {{epochs: 2, batch_size: 2, lr: 3.0e-3, bf16: "false", seed: 0}}
eval: {{every: 1, batch_size: 8, max_new_tokens: 12}}
output_dir: {out}
runs:
  masked_sft: {{}}
"""


@pytest.fixture(scope="module")
def golden_model_dir(tmp_path_factory):
    """The tiny model with larger initial weights, so that its answers are words, not an instant stop."""
    from conftest import make_model, make_tokenizer

    path = tmp_path_factory.mktemp("golden-model")
    tok = make_tokenizer()
    make_model(len(tok), seed=1, init_std=0.08).save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


def strip_timing(obj):
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


def normalized(path: Path, replacements: dict[str, str]) -> str:
    text = path.read_text(encoding="utf-8")
    for old, new in replacements.items():
        text = text.replace(old, new)
    if path.suffix == ".json":
        return json.dumps(strip_timing(json.loads(text)), indent=2) + "\n"
    if path.suffix == ".jsonl":
        return "".join(json.dumps(strip_timing(json.loads(line))) + "\n" for line in text.splitlines())
    text = re.sub(r"Training: \d+ s \([\d.]+ s/epoch", "Training: X s (X s/epoch", text)
    text = re.sub(r"evaluation: \d+ s\.", "evaluation: X s.", text)
    text = re.sub(r"; \d+ training tokens/s", "; X training tokens/s", text)
    return re.sub(r"\| \d+ \(\d+\.\d\) \|", "| X (X) |", text)  # comparison: train s (s/epoch)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; create it with KINJECT_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "now", n=1))
        pytest.fail(f"{name} differs from its golden copy:\n{diff[:4000]}")


@pytest.mark.parametrize("task, template, runs", [("knowledge", KNOWLEDGE, ("standard", "masked", "mdm")),
                                                  ("math", MATH, ("masked_sft",))])
def test_golden_run_files_stay_byte_identical(tmp_path, golden_model_dir, task, template, runs):
    out = tmp_path / "out"
    cfg = tmp_path / f"{task}.yaml"
    cfg.write_text(template.format(model=golden_model_dir, out=out))
    assert main(["run", str(cfg)]) == 0
    replacements = {str(golden_model_dir): "<MODEL>", str(tmp_path): "<TMP>"}
    for run in runs:
        for name in RUN_FILES:
            check(f"{task}/{run}/{name}", normalized(out / run / name, replacements))
    for name in ROOT_FILES if len(runs) > 1 else ():
        check(f"{task}/{name}", normalized(out / name, replacements))


OBJECTIVES = {  # name -> objective overrides
    "standard_pretrain": {"name": "standard", "format": "pretrain"},
    "standard_chat": {"name": "standard", "format": "chat"},
    "masked": {"name": "masked"},
    "masked_loss_on_masked": {"name": "masked", "fixed_t": 0.5, "loss_on": "masked"},
    "masked_random_tokens": {"name": "masked", "corruption": "random_tokens"},
    "mdm_pretrain": {"name": "mdm", "format": "pretrain"},
    "mdm_chat_token_norm": {"name": "mdm", "format": "chat", "normalize": "token", "t_per": "sequence"},
    "sft": {"name": "sft"},
    "masked_sft": {"name": "masked_sft"},
}
DOCS = ["Daphne Barrington, known far and wide for being the acclaimed director of a film.",
        "Known for being the composer of the first underwater symphony, Uriah Hawthorne now enjoys a quiet life."]


def first_losses(name: str, overrides: dict, tokenizer) -> list[float]:
    """The loss of the first three batches of an objective on the tiny model (seeded masks)."""
    from conftest import make_model

    from kinject.config import ObjectiveConfig, ModelConfig
    from kinject.models.adapter import resolve_adapter
    from kinject.objectives import objective_class
    from kinject.objectives.base import encode_text

    cls = objective_class(overrides["name"])
    model = make_model(len(tokenizer))
    if cls.needs_bidirectional:
        model.config.is_causal = False
    adapter = resolve_adapter(model, tokenizer, ModelConfig(bidirectional=cls.needs_bidirectional),
                              needs_mask=cls.needs_mask_token)
    objective = cls(ObjectiveConfig(**overrides), tokenizer, adapter.mask_id, adapter=adapter)
    if name in ("sft", "masked_sft"):
        features = [objective.build_qa("Who is Daphne?", "Daphne Barrington"), objective.build_qa("Who composed?", DOCS[1])]
    else:
        features = [objective.build(encode_text(tokenizer, d)) for d in DOCS]
    batch = objective.collate(features)
    losses = []
    for step in range(3):
        loss, _ = objective.compute_loss(model, batch, torch.Generator().manual_seed(step))
        losses.append(round(float(loss), 6))
    return losses


def test_first_losses_of_every_objective_are_pinned(tokenizer):
    got = {name: first_losses(name, overrides, tokenizer) for name, overrides in OBJECTIVES.items()}
    check("losses.json", json.dumps(got, indent=2) + "\n")


HELP = [[], ["run"], ["eval"], ["data"], ["data", "validate"], ["data", "generate"], ["data", "math"], ["model"],
        ["model", "prepare"], ["paraphrase"], ["world"], ["status"], ["curves"], ["config"]]


@pytest.mark.parametrize("command", HELP, ids=lambda c: "-".join(c) or "kinject")
def test_help_snapshot(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as stop:
        main(command + ["--help"])
    assert stop.value.code == 0
    check(f"cli/help-{'-'.join(command) or 'kinject'}.txt", capsys.readouterr().out)


def test_config_reference_snapshot(capsys):
    assert main(["config"]) == 0
    check("cli/config.txt", capsys.readouterr().out)
