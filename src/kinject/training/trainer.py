"""The one training path: transformers' Trainer, with the objective's compute_loss plugged in."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainingArguments
from transformers.trainer_utils import rotate_checkpoints

from kinject.config import TrainConfig
from kinject.io import publish_dir
from kinject.training.checkpoints import STAGING
from kinject.training.sam import SAM


def bf16_supported() -> bool:
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def use_bf16(cfg: TrainConfig) -> bool:
    return cfg.bf16 == "true" or (cfg.bf16 == "auto" and bf16_supported())


def training_arguments(cfg: TrainConfig, output_dir: str, n_sequences: int | None, processes: int = 1) -> TrainingArguments:
    """train.batch_size is per process: the global batch is batch_size x grad_accum x processes.
    n_sequences: rows per epoch (None for a stream, which needs cfg.max_steps; each process then
    reads the stream and keeps its share of every global batch, as rows differ in length)."""
    if cfg.max_steps:
        total_steps = cfg.max_steps
    else:
        total_steps = math.ceil(n_sequences / (cfg.batch_size * cfg.grad_accum * processes)) * cfg.epochs
    return TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        adam_beta1=cfg.beta1,
        adam_beta2=cfg.beta2,
        optim="adamw_torch",
        lr_scheduler_type={"constant": "constant_with_warmup"}.get(cfg.lr_schedule, cfg.lr_schedule),
        warmup_steps=round(cfg.warmup_ratio * total_steps),
        max_grad_norm=cfg.max_grad_norm if cfg.max_grad_norm > 0 else None,
        ddp_find_unused_parameters=False,  # every trainable parameter gets a gradient
        bf16=use_bf16(cfg),
        use_cpu=not torch.cuda.is_available(),
        seed=cfg.seed,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="steps" if cfg.checkpoint_steps else "no",
        save_steps=cfg.checkpoint_steps or 500,
        save_total_limit=cfg.checkpoints_kept,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        accelerator_config={"dispatch_batches": False} if n_sequences is None else None,
        disable_tqdm=True,  # kinject's own bar (training.callbacks.ProgressBar) replaces the Trainer's printer
    )


def step_seed(seed: int, process_index: int, step: int, micro_step: int) -> int:
    """Independent seed per (run seed, process, optimizer step, micro-batch): masks differ across
    processes and steps, and a resumed run draws exactly the masks the uninterrupted one did."""
    return int(np.random.SeedSequence([seed, process_index, step, micro_step]).generate_state(1)[0])


class KinjectTrainer(Trainer):
    """Trainer whose loss comes from a kinject objective; with `sam`, SAM/ASAM around AdamW."""

    def __init__(self, *args, objective, sam: dict | None = None, **kwargs):
        super().__init__(*args, data_collator=objective.collate, **kwargs)
        self.objective = objective
        self.sam = sam  # {"rho": float, "adaptive": bool} or None
        # The objective returns a per-micro-batch mean, so let Trainer divide by accumulation steps.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False
        self._micro = (-1, 0)  # (global_step, micro-batch index within it)
        self._replay_micro: int | None = None  # set while SAM recomputes a micro-batch
        self._step_batches: list = []  # this step's (micro index, inputs, num_items_in_batch), for SAM
        self._stats = defaultdict(list)
        self.loss_tokens = 0
        self.train_tokens = 0  # tokens of the sequences trained on (each once per step)
        self.pass_tokens = 0  # tokens through forward + backward (SAM: twice per step)
        self.batch_positions = 0  # B x L of the batches trained on (padding included)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        step = self.state.global_step
        if self._replay_micro is not None:
            micro = self._replay_micro  # SAM's second pass draws the first pass's masks again
        else:
            micro = self._micro[1] + 1 if self._micro[0] == step else 0
            self._micro = (step, micro)
        generator = torch.Generator().manual_seed(step_seed(self.args.seed, self.args.process_index, step, micro))
        loss, stats = self.objective.compute_loss(model, inputs, generator)
        if model.training:
            self.pass_tokens += int(inputs["attention_mask"].sum())
            if self._replay_micro is None:
                self.loss_tokens += stats.pop("loss_tokens")
                self.train_tokens += int(inputs["attention_mask"].sum())
                self.batch_positions += inputs["attention_mask"].numel()
                for key, value in stats.items():
                    self._stats[key].append(value)
        return (loss, None) if return_outputs else loss

    # ---- SAM: first pass without gradient sync, second pass replayed from the optimizer step

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        if self.sam and not isinstance(optimizer, SAM):
            self.optimizer = SAM(optimizer, self.sam["rho"], self.sam["adaptive"], second_pass=self._sam_second_pass)
        return self.optimizer

    def training_step(self, model, inputs, num_items_in_batch=None):
        if not self.sam:
            return super().training_step(model, inputs, num_items_in_batch)
        # the perturbation uses each process's own gradient (no all-reduce needed on this pass)
        with self.accelerator.no_sync(model):
            loss = super().training_step(model, inputs, num_items_in_batch)
        micro = self._micro[1]
        if micro == 0:
            self._step_batches = []
        self._step_batches.append((micro, inputs, num_items_in_batch))
        return loss

    def _sam_second_pass(self):
        model = self.model_wrapped
        model.zero_grad()
        loss = None
        for i, (micro, inputs, num_items) in enumerate(self._step_batches):
            last = i == len(self._step_batches) - 1
            context = contextlib.nullcontext() if last else self.accelerator.no_sync(model)
            self._replay_micro = micro
            try:
                with context:
                    loss = super().training_step(model, inputs, num_items)
            finally:
                self._replay_micro = None
        if self.args.max_grad_norm and self.args.max_grad_norm > 0:
            self._clip_grad_norm(model)  # clip the gradient the base optimizer steps with
        return loss

    # ---- resume: kinject's counters travel with each checkpoint

    COUNTERS = ("loss_tokens", "train_tokens", "pass_tokens", "batch_positions")

    def _counters_file(self, checkpoint) -> Path:
        return Path(checkpoint) / f"kinject_counters_{self.args.process_index}.json"

    def _save_checkpoint(self, model, trial):
        """Write the checkpoint into output_dir/.staging, then rename it into place: a run killed
        while saving leaves no half-written checkpoint-N (only a stale .staging, cleared next time)."""
        final_root = Path(self.args.output_dir)
        name = f"checkpoint-{self.state.global_step}"
        staging = final_root / STAGING
        if self.args.should_save and (staging / name).exists():
            shutil.rmtree(staging / name)
        self.accelerator.wait_for_everyone()
        self.args.output_dir = str(staging)
        try:
            super()._save_checkpoint(model, trial)  # (its rotation sees only the staging directory)
            (staging / name).mkdir(parents=True, exist_ok=True)
            self._counters_file(staging / name).write_text(json.dumps({k: getattr(self, k) for k in self.COUNTERS}))
        finally:
            self.args.output_dir = str(final_root)
        self.accelerator.wait_for_everyone()  # every process has written its part
        if self.args.should_save:
            publish_dir(staging / name, final_root / name)
            rotate_checkpoints(output_dir=str(final_root), save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=None, use_mtime=False)
        self.accelerator.wait_for_everyone()

    def counters_all_processes(self) -> dict[str, int]:
        """kinject's token counters summed over processes."""
        from kinject.distributed import sum_across_processes

        return sum_across_processes({k: getattr(self, k) for k in self.COUNTERS})

    def load_counters(self, checkpoint: str) -> None:
        path = self._counters_file(checkpoint)
        if path.exists():
            for key, value in json.loads(path.read_text()).items():
                setattr(self, key, value)

    def log(self, logs, start_time=None):
        for key, values in self._stats.items():
            logs[key] = float(np.mean(values))
        self._stats.clear()
        super().log(logs, start_time)
