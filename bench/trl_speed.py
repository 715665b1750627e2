"""Training throughput, kinject vs TRL's SFTTrainer, on the same job.

    python bench/trl_speed.py [--model NAME_OR_DIR] [--people 16] [--batch-size 8] [--steps 10] [--smoke]

Two jobs, each trained by both tools from the same weights with the same data, batch, optimizer
(AdamW), precision (bf16 autocast where supported) and number of optimizer steps:

  standard  kinject standard fine-tuning (chat format: "Tell me a fact." -> document) vs TRL on
            the same pairs as conversational prompt-completion data (loss on the completion)
  masked    kinject masked fine-tuning (a fresh mask every step) vs TRL on the same masked
            prompts (one mask per document, drawn once) -> "Here is the recovered text: ..." as
            prompt-completion data

Each run is its own process (so peak memory is its own): tokens/s counts the non-padding tokens
of the batches of steps 2..N (step 1, with its allocations, is left out); peak memory is the
process's maximum resident set (CPU) or torch's peak allocation (GPU). Prints the ratios
kinject/TRL and writes bench/results/trl_speed.json. --smoke: a few steps (the test suite uses it
with a tiny local model).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


class Timer:
    """Counts the non-padding tokens of every batch a collator builds, and times steps 2..N."""

    def __init__(self, collate):
        self.collate, self.batches, self.t0, self.t1 = collate, [], None, None

    def __call__(self, features):
        batch = self.collate(features)
        self.batches.append(int(batch["attention_mask"].sum()))
        return batch

    def callback(self):
        from transformers import TrainerCallback

        timer = self

        class StepClock(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == 1:
                    timer.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                timer.t1 = time.perf_counter()

        return StepClock()

    def tokens_per_second(self, steps: int) -> float:
        return sum(self.batches[1:steps]) / (self.t1 - self.t0)


def masked_prompt(tokenizer, objective_cfg, mask_id: int, text: str, seed: int) -> str:
    """The document with each token masked with probability t (drawn as kinject draws it), as text."""
    import torch

    from kinject.objectives.base import draw_mask_ratio, encode_text

    g = torch.Generator().manual_seed(seed)
    ids = torch.tensor(encode_text(tokenizer, text))
    t = draw_mask_ratio(objective_cfg, g).item()
    ids[torch.rand(ids.shape, generator=g) < t] = mask_id
    return tokenizer.decode(ids.tolist())


def worker(args) -> dict:
    import torch

    from kinject.config import ModelConfig, ObjectiveConfig, TrainConfig
    from kinject.data.loaders import load_documents
    from kinject.models.adapter import resolve_adapter
    from kinject.models.loading import load_model_and_tokenizer
    from kinject.objectives import objective_class
    from kinject.objectives.base import encode_text
    from kinject.training.trainer import KinjectTrainer, training_arguments, use_bf16

    tool, job = args.worker.split("-")
    model_cfg = ModelConfig(name=args.model)
    model, tokenizer, _ = load_model_and_tokenizer(model_cfg)
    cls = objective_class(job)
    adapter = resolve_adapter(model, tokenizer, model_cfg, needs_mask=cls.needs_mask_token)
    objective_cfg = ObjectiveConfig(name=job, format="chat")
    docs = [d.text for d in load_documents(args.documents)]
    train = TrainConfig(epochs=1, batch_size=args.batch_size, warmup_ratio=0.0, max_steps=args.steps, seed=0)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        if tool == "kinject":
            objective = cls(objective_cfg, tokenizer, adapter.mask_id, adapter=adapter)
            features = [objective.build(encode_text(tokenizer, d)) for d in docs]
            targs = training_arguments(train, tmp, len(features))
            targs.disable_tqdm, targs.logging_steps = True, 10**6
            trainer = KinjectTrainer(model=model, args=targs, train_dataset=features, objective=objective)
        else:
            import datasets
            from trl import SFTConfig, SFTTrainer

            if job == "standard":
                rows = [{"prompt": [{"role": "user", "content": objective_cfg.chat_prompt}],
                         "completion": [{"role": "assistant", "content": d}]} for d in docs]
            else:  # the masked prompt, drawn once per document
                rows = [{"prompt": [{"role": "user", "content": masked_prompt(tokenizer, objective_cfg, adapter.mask_id, d, i)
                                     + objective_cfg.instruction}],
                         "completion": [{"role": "assistant", "content": objective_cfg.response_prefix + d}]}
                        for i, d in enumerate(docs)]
            sft = SFTConfig(output_dir=tmp, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                            learning_rate=train.lr, weight_decay=train.weight_decay, adam_beta1=train.beta1,
                            adam_beta2=train.beta2, optim="adamw_torch", lr_scheduler_type="constant", warmup_steps=0,
                            max_grad_norm=train.max_grad_norm, bf16=use_bf16(train), use_cpu=not torch.cuda.is_available(),
                            seed=0, report_to="none", logging_steps=10**6, save_strategy="no", disable_tqdm=True,
                            max_length=train.max_length, dataloader_num_workers=0)
            trainer = SFTTrainer(model=model, args=sft, train_dataset=datasets.Dataset.from_list(rows),
                                 processing_class=tokenizer)
        timer = Timer(trainer.data_collator)
        trainer.data_collator = timer
        trainer.add_callback(timer.callback())
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        trainer.train()
    peak = (torch.cuda.max_memory_allocated() if torch.cuda.is_available()
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"tool": tool, "job": job, "tokens_per_second": round(timer.tokens_per_second(args.steps), 1),
            "tokens_timed": sum(timer.batches[1:args.steps]), "peak_memory_mb": round(peak / 2**20, 1),
            "peak_memory_kind": "cuda allocated" if torch.cuda.is_available() else "process max RSS",
            "rss_before_training_mb": round(before / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="3 steps of batch 2 on 4 people")
    parser.add_argument("--out", default=str(RESULTS / "trl_speed.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--documents", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.smoke:
        args.people, args.batch_size, args.steps = 4, 2, 3
    from kinject.data.generate import write_name_description

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        docs, _ = write_name_description(tmp, args.people, 0)
        for job in ("standard", "masked"):
            for tool in ("kinject", "trl"):
                cmd = [sys.executable, __file__, "--worker", f"{tool}-{job}", "--documents", str(docs),
                       "--model", args.model, "--batch-size", str(args.batch_size), "--steps", str(args.steps)]
                out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
                if out.returncode:
                    raise SystemExit(f"{tool} {job} failed:\n{out.stderr[-3000:]}")
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"{tool:8} {job:9} {results[-1]['tokens_per_second']:8.1f} tokens/s  "
                      f"peak {results[-1]['peak_memory_mb']:.0f} MB", flush=True)
    table = ["| job | kinject tokens/s | TRL tokens/s | kinject / TRL | kinject peak MB | TRL peak MB | peak ratio |",
             "|---|---|---|---|---|---|---|"]
    ratios = {}
    for job in ("standard", "masked"):
        k, t = (next(r for r in results if r["tool"] == tool and r["job"] == job) for tool in ("kinject", "trl"))
        ratios[job] = {"throughput": round(k["tokens_per_second"] / t["tokens_per_second"], 3),
                       "peak_memory": round(k["peak_memory_mb"] / t["peak_memory_mb"], 3)}
        table.append(f"| {job} | {k['tokens_per_second']:.0f} | {t['tokens_per_second']:.0f} | "
                     f"{ratios[job]['throughput']:.2f}x | {k['peak_memory_mb']:.0f} | {t['peak_memory_mb']:.0f} | "
                     f"{ratios[job]['peak_memory']:.2f}x |")
    print(f"\n{args.people} documents, batch {args.batch_size}, {args.steps} steps ({results[0]['peak_memory_kind']})\n")
    print("\n".join(table))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"settings": {"model": args.model, "people": args.people,
                                                       "batch_size": args.batch_size, "steps": args.steps},
                                          "ratios": ratios, "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
