"""LoRA through peft: wrap a model for training, save adapter and merged model, load an adapter dir.

A run with model.lora.enabled trains only the adapters (every objective; SAM perturbs only them).
With save_model it writes adapter/ (peft format: adapter weights + tokenizer) and, unless
model.lora.merge_on_save is false, model/ (adapters merged into the base: plain transformers).
An added mask token keeps its initial embedding (it is only ever read, never predicted).
"""

from __future__ import annotations

import json
from pathlib import Path


def apply_lora(model, cfg):
    from peft import LoraConfig, get_peft_model

    targets = cfg.target_modules if cfg.target_modules == "all-linear" else [
        t.strip() for t in cfg.target_modules.split(",") if t.strip()]
    return get_peft_model(model, LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                                            target_modules=targets, task_type="CAUSAL_LM"))


def is_adapter_dir(path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def adapter_base(path) -> str:
    return json.loads((Path(path) / "adapter_config.json").read_text())["base_model_name_or_path"]


def save_lora_run(model, tokenizer, run_path: Path, merge: bool) -> None:
    model.save_pretrained(run_path / "adapter", safe_serialization=True)
    tokenizer.save_pretrained(run_path / "adapter")
    if merge:
        merged = model.merge_and_unload()  # folds the adapters into the base weights, in place
        merged.save_pretrained(run_path / "model", safe_serialization=True)
        tokenizer.save_pretrained(run_path / "model")
