"""What masked fine-tuning costs next to standard fine-tuning, through kinject's Trainer.

    python bench/masked_cost.py [--model NAME_OR_DIR] [--people 16] [--batch-size 16] [--epochs 3] [--smoke]

The same documents (generated NameDescription people), batch, precision and model, trained for
--epochs epochs after one warm-up epoch by standard fine-tuning (pretraining and chat format) and
by masked fine-tuning. Masked fine-tuning reads the document twice (masked copy + answer), so it
costs more per epoch; its loss covers the answer's document tokens, so per *loss-bearing* token it
may cost less than it seems. Prints seconds per epoch, tokens per epoch, seconds per 1,000
loss-bearing tokens, and ratios to standard; writes bench/results/masked_cost.json.
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
from kinject.training.trainer import KinjectTrainer, training_arguments

RUNS = (("standard (pretrain)", "standard", "pretrain"), ("standard (chat)", "standard", "chat"),
        ("masked", "masked", "chat"))


class EpochClock(TrainerCallback):
    """Wall time of every epoch after the first, and the trainer's token counters at its start."""

    def __init__(self):
        self.seconds, self.t0 = [], None

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self.t0)


def measure(model_name: str, docs: list[str], name: str, fmt: str, batch_size: int, epochs: int) -> dict:
    model_cfg = ModelConfig(name=model_name)
    model, tokenizer, _ = load_model_and_tokenizer(model_cfg)
    cls = objective_class(name)
    adapter = resolve_adapter(model, tokenizer, model_cfg, needs_mask=cls.needs_mask_token)
    objective = cls(ObjectiveConfig(name=name, format=fmt), tokenizer, adapter.mask_id, adapter=adapter)
    features = [objective.build(encode_text(tokenizer, d)) for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        args = training_arguments(TrainConfig(epochs=epochs + 1, batch_size=batch_size, warmup_ratio=0.0), tmp,
                                  len(features))
        args.disable_tqdm, args.logging_steps = True, 10**6
        clock = EpochClock()
        torch.manual_seed(0)
        trainer = KinjectTrainer(model=model, args=args, train_dataset=features, objective=objective, callbacks=[clock])
        trainer.train()
    per_epoch = sum(clock.seconds[1:]) / epochs  # the first epoch warms up
    tokens, loss_tokens = trainer.train_tokens / (epochs + 1), trainer.loss_tokens / (epochs + 1)
    return {"seconds_per_epoch": round(per_epoch, 3), "tokens_per_epoch": round(tokens),
            "loss_tokens_per_epoch": round(loss_tokens),
            "seconds_per_1k_loss_tokens": round(1000 * per_epoch / loss_tokens, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=ModelConfig().name)
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="4 people, batch 2, 1 timed epoch")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "masked_cost.json"))
    args = parser.parse_args()
    if args.smoke:
        args.people, args.batch_size, args.epochs = 4, 2, 1
    with tempfile.TemporaryDirectory() as tmp:
        docs = [d.text for d in load_documents(write_name_description(tmp, args.people, 0)[0])]
    results = {label: measure(args.model, docs, name, fmt, args.batch_size, args.epochs) for label, name, fmt in RUNS}
    base = results["standard (pretrain)"]
    print(f"{args.people} documents, batch {args.batch_size}, {args.epochs} timed epochs\n")
    print("| run | s / epoch | tokens / epoch | loss tokens / epoch | s / 1k loss tokens | s/epoch vs pretrain | "
          "s/loss-token vs pretrain |\n|---|---|---|---|---|---|---|")
    for label, r in results.items():
        r["epoch_ratio"] = round(r["seconds_per_epoch"] / base["seconds_per_epoch"], 3)
        r["loss_token_ratio"] = round(r["seconds_per_1k_loss_tokens"] / base["seconds_per_1k_loss_tokens"], 3)
        print(f"| {label} | {r['seconds_per_epoch']:.2f} | {r['tokens_per_epoch']} | {r['loss_tokens_per_epoch']} | "
              f"{r['seconds_per_1k_loss_tokens']:.3f} | {r['epoch_ratio']:.2f}x | {r['loss_token_ratio']:.2f}x |")
    chat = results["standard (chat)"]
    masked = results["masked"]
    ratios = {"masked_vs_chat_epoch": round(masked["seconds_per_epoch"] / chat["seconds_per_epoch"], 3),
              "masked_vs_chat_loss_token": round(masked["seconds_per_1k_loss_tokens"] / chat["seconds_per_1k_loss_tokens"], 3)}
    print(f"\nmasked / standard (chat): {ratios['masked_vs_chat_epoch']:.2f}x per epoch, "
          f"{ratios['masked_vs_chat_loss_token']:.2f}x per loss-bearing token")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"settings": vars(args), "runs": results, "ratios": ratios}, indent=2) + "\n")


if __name__ == "__main__":
    main()
