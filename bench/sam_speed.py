"""SAM / ASAM optimizer step time vs AdamW, through kinject's Trainer on the same model and data.

    python bench/sam_speed.py [--model NAME_OR_DIR] [--steps N] [--batch-size N] [--objective standard|masked]

Each optimizer trains the same fresh model for --steps optimizer steps on the same generated
documents (bf16 autocast where supported) after one warm-up step; prints seconds per step and the
ratios to AdamW, and writes bench/results/sam_speed.json. SAM's expected cost is about 2x (two
forward/backward passes per step) plus the perturbation's elementwise work.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from kinject.config import ModelConfig, ObjectiveConfig, TrainConfig
from kinject.data.generate import write_name_description
from kinject.data.loaders import load_documents
from kinject.models.adapter import resolve_adapter
from kinject.models.loading import load_model_and_tokenizer
from kinject.objectives import objective_class
from kinject.objectives.base import encode_text
from kinject.training.trainer import KinjectTrainer, training_arguments, use_bf16


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times = []

    def on_step_begin(self, args, state, control, **kw):
        self.t = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.perf_counter() - self.t)


def time_optimizer(model_name: str, optimizer: str, adaptive: bool, steps: int, batch_size: int, objective: str) -> float:
    model_cfg = ModelConfig(name=model_name)
    model, tokenizer, _ = load_model_and_tokenizer(model_cfg)
    cls = objective_class(objective)
    adapter = resolve_adapter(model, tokenizer, model_cfg, needs_mask=cls.needs_mask_token)
    obj = cls(ObjectiveConfig(name=objective, format="chat"), tokenizer, adapter.mask_id, adapter=adapter)
    with tempfile.TemporaryDirectory() as tmp:
        docs_path, _ = write_name_description(tmp, batch_size, 0)
        features = [obj.build(encode_text(tokenizer, d.text)) for d in load_documents(docs_path)]
        cfg = TrainConfig(epochs=steps + 1, batch_size=batch_size, optimizer=optimizer, sam_adaptive=adaptive)
        args = training_arguments(cfg, str(Path(tmp) / "trainer"), len(features))
        args.disable_tqdm = True
        args.logging_steps = 10**6
        timer = StepTimer()
        sam = {"rho": 1.0 if adaptive else 0.05, "adaptive": adaptive} if optimizer == "sam" else None
        torch.manual_seed(0)
        KinjectTrainer(model=model, args=args, train_dataset=features, objective=obj, sam=sam,
                       callbacks=[timer]).train()
    return sum(timer.times[1:]) / len(timer.times[1:])  # the first step warms up


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=ModelConfig().name)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--objective", default="standard", choices=("standard", "masked"))
    p.add_argument("--out", default="bench/results/sam_speed.json")
    p.add_argument("--smoke", action="store_true", help="2 steps of batch 2")
    args = p.parse_args()
    if args.smoke:
        args.steps, args.batch_size = 2, 2
    results = {}
    for name, optimizer, adaptive in (("adamw", "adamw", False), ("sam", "sam", False), ("asam", "sam", True)):
        results[name] = time_optimizer(args.model, optimizer, adaptive, args.steps, args.batch_size, args.objective)
        print(f"{name}: {results[name]:.3f} s/step")
    report = {"model": args.model, "objective": args.objective, "steps": args.steps, "batch_size": args.batch_size,
              "bf16": use_bf16(TrainConfig()), "seconds_per_step": {k: round(v, 4) for k, v in results.items()},
              "ratio_to_adamw": {k: round(v / results["adamw"], 3) for k, v in results.items()}}
    print(f"SAM / AdamW step time: {report['ratio_to_adamw']['sam']:.2f}x; ASAM / AdamW: {report['ratio_to_adamw']['asam']:.2f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
