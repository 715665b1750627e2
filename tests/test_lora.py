"""LoRA (peft) for every objective: only adapter weights change (also under SAM), a LoRA run saves
adapter and merged model, the adapter evaluates without merging, and merged = unmerged outputs."""

from __future__ import annotations

import json

import pytest
import torch

from kinject.cli import main
from kinject.config import LoraConfig, ObjectiveConfig, TrainConfig
from kinject.models.lora import apply_lora
from kinject.objectives.base import encode_text
from kinject.objectives.masked import MaskedObjective
from kinject.objectives.standard import StandardObjective
from kinject.training.trainer import KinjectTrainer, training_arguments

from conftest import make_model

FACT = "Zorblat Quennic invented the silver kettle."


@pytest.mark.parametrize("optimizer", ["adamw", "sam"])
@pytest.mark.parametrize("objective_name", ["standard", "masked"])
def test_only_adapter_weights_change(tokenizer, tmp_path, optimizer, objective_name):
    model = apply_lora(make_model(len(tokenizer)), LoraConfig(enabled=True, r=4))
    if objective_name == "masked":
        obj = MaskedObjective(ObjectiveConfig(name="masked"), tokenizer, tokenizer.convert_tokens_to_ids("<|spare_0|>"))
    else:
        obj = StandardObjective(ObjectiveConfig(format="chat"), tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    features = [obj.build(encode_text(tokenizer, FACT))] * 2
    cfg = TrainConfig(epochs=3, lr=1e-2, batch_size=2, warmup_ratio=0.0, bf16="false", optimizer=optimizer)
    args = training_arguments(cfg, str(tmp_path / "t"), len(features))
    args.disable_tqdm = True
    sam = {"rho": 0.05, "adaptive": False} if optimizer == "sam" else None
    KinjectTrainer(model=model, args=args, train_dataset=features, objective=obj, sam=sam).train()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all("lora_" in n for n in changed)
    assert any("lora_B" in n for n in changed)  # B starts at zero; it must have moved


def test_lora_run_saves_adapter_and_merged_model_with_equal_outputs(tmp_path, tiny_model_dir, capsys):
    docs, qa = tmp_path / "docs.jsonl", tmp_path / "qa.jsonl"
    docs.write_text(json.dumps({"id": "p0", "text": FACT}) + "\n")
    qa.write_text(json.dumps({"question": "Tell me a fact.", "answer": "silver kettle", "direction": "forward"}) + "\n"
                  + json.dumps({"question": "Who invented the kettle?", "answer": "Zorblat Quennic", "direction": "backward"}) + "\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"""
model: {{name: {tiny_model_dir}, lora: {{enabled: true, r: 8, alpha: 16, dropout: 0.0}}}}
data: {{train: {docs}, test: {qa}}}
objective: {{format: chat}}
train: {{epochs: 40, lr: 1.0e-2, batch_size: 1, warmup_ratio: 0.0, bf16: "false"}}
eval: {{every: 0, max_new_tokens: 30}}
output_dir: {tmp_path / 'out'}
save_model: true
""")
    assert main(["run", str(cfg)]) == 0
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["compute"]["trainable_parameters"] < summary["compute"]["parameters"] / 5
    assert summary["final"]["forward"]["rouge1_recall"] == 1.0  # the adapters learned the fact
    assert (out / "adapter" / "adapter_config.json").exists() and (out / "model" / "model.safetensors").exists()
    generated = {}
    for name in ("adapter", "model"):  # unmerged (peft on the base) and merged (plain transformers)
        capsys.readouterr()
        assert main(["eval", "--model", str(out / name), "--test", str(qa), "--out", str(tmp_path / name),
                     "--max-new-tokens", "30"]) == 0
        generated[name] = [json.loads(line)["generated"] for line in (tmp_path / name / "generations.jsonl").read_text().splitlines()]
    assert generated["adapter"] == generated["model"]
    final = [r["generated"] for r in map(json.loads, (out / "generations.jsonl").read_text().splitlines()) if r["epoch"] == 40]
    assert generated["adapter"] == final  # the saved run reproduces its final generations
