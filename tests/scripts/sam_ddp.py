"""Run by tests/test_sam_ddp.py under `torchrun --nproc_per_node 2` (CPU, gloo): trains a tiny model
with AdamW and with SAM, counts DDP gradient all-reduces, and writes weights + counts (rank 0)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import make_model, make_tokenizer  # noqa: E402

from kinject.config import ObjectiveConfig, TrainConfig  # noqa: E402
from kinject.objectives.base import encode_text  # noqa: E402
from kinject.objectives.masked import MaskedObjective  # noqa: E402
from kinject.training.trainer import KinjectTrainer, training_arguments  # noqa: E402

TEXTS = ["Daphne Barrington directed a film.", "Uriah Hawthorne composed a symphony.", "Ann Lee lives in Paris.",
         "Bo Chen works at HP."]


class CountAllReduce(TrainerCallback):
    """Registers a DDP comm hook on the wrapped model that counts gradient all-reduces."""

    def __init__(self):
        self.trainer, self.calls = None, 0

    def on_train_begin(self, args, state, control, **kw):
        wrapped = self.trainer.model_wrapped
        if isinstance(wrapped, torch.nn.parallel.DistributedDataParallel):
            from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

            def hook(process_group, bucket):
                self.calls += 1
                return allreduce_hook(process_group, bucket)

            wrapped.register_comm_hook(None, hook)


def train(out: Path, optimizer: str, rho: float):
    tok = make_tokenizer()
    model = make_model(len(tok), seed=0)
    objective = MaskedObjective(ObjectiveConfig(name="masked"), tok, mask_id=tok.convert_tokens_to_ids("<|spare_0|>"))
    features = [objective.build(encode_text(tok, t)) for t in TEXTS]
    cfg = TrainConfig(epochs=2, lr=1e-2, batch_size=1, grad_accum=2, warmup_ratio=0.0, bf16="false", seed=0,
                      optimizer=optimizer, sam_rho=rho)
    args = training_arguments(cfg, str(out / "trainer"), len(features))
    args.disable_tqdm = True
    args.ddp_backend = "gloo"
    counter = CountAllReduce()
    trainer = KinjectTrainer(model=model, args=args, train_dataset=features, objective=objective,
                             sam={"rho": rho, "adaptive": False} if optimizer == "sam" else None, callbacks=[counter])
    counter.trainer = trainer
    trainer.train()
    return model, counter.calls, trainer.state.global_step, args.world_size


def main():
    out = Path(sys.argv[1])
    results = {}
    for name, optimizer, rho in (("adamw", "adamw", 0.0), ("sam0", "sam", 0.0), ("sam", "sam", 0.05)):
        model, calls, steps, world = train(out / name, optimizer, rho)
        results[name] = {"allreduce_calls": calls, "steps": steps, "world_size": world}
        if torch.distributed.get_rank() == 0:
            torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out / f"{name}.pt")
    if torch.distributed.get_rank() == 0:
        (out / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()
