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
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.integrations import TensorBoardCallback
from transformers.trainer_utils import rotate_checkpoints

from kinject.config import TrainConfig
from kinject.io import publish_dir
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
        disable_tqdm=False,
    )


STAGING = ".staging"  # checkpoints are written here, then renamed into place whole


def newest_checkpoint(output_dir) -> str | None:
    """The checkpoint-N directory with the largest N, if any. Every checkpoint-N is complete: it is
    renamed into place only once everything in it is written."""
    found = [p for p in Path(output_dir).glob("checkpoint-*")
             if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return str(max(found, key=lambda p: int(p.name.split("-")[-1]))) if found else None


def checkpoint_step(checkpoint) -> int:
    return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"])


def step_seed(seed: int, process_index: int, step: int, micro_step: int) -> int:
    """Independent seed per (run seed, process, optimizer step, micro-batch): masks differ across
    processes and steps, and a resumed run draws exactly the masks the uninterrupted one did."""
    return int(np.random.SeedSequence([seed, process_index, step, micro_step]).generate_state(1)[0])


def sam_rho(cfg: TrainConfig) -> float:
    if cfg.sam_rho is not None:
        return cfg.sam_rho
    return 1.0 if cfg.sam_adaptive else 0.05


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


class SharedTensorBoard(TensorBoardCallback):
    """transformers' TensorBoard callback on kinject's writer, left open at the end of training so
    the final evaluation lands in the same event file (the callback would close it)."""

    def on_train_end(self, args, state, control, **kwargs):
        if self.tb_writer:
            self.tb_writer.flush()


class GracefulStop(TrainerCallback):
    """Ctrl-C during training: finish the current optimizer step, save a checkpoint there (the state
    an uninterrupted run has at that step, so resuming stays exact) and stop. A second Ctrl-C stops
    at once. With several processes, all stop at the same step."""

    def __init__(self):
        self.requested = False
        self.stopped_at: int | None = None

    def _on_signal(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        from kinject.models.loading import log

        log("interrupt: finishing this optimizer step and saving a checkpoint (Ctrl-C again to stop at once)")

    @contextlib.contextmanager
    def installed(self):
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_signal)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def on_step_end(self, args, state, control, **kwargs):
        requested = self.requested
        if args.world_size > 1:  # one process's Ctrl-C stops them all at this step
            import torch.distributed as dist

            flag = torch.tensor([int(requested)], device=args.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            requested = bool(flag.item())
        if requested:
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step


class EpochEvalCallback(TrainerCallback):
    """Calls `before()` when training begins (the model is on its device, wrapped or sharded by then)
    and `evaluate(epoch, step)` every `every` epochs (the final epoch is left to the caller)."""

    def __init__(self, every: int, total_epochs: int, evaluate, before=None):
        self.every, self.total_epochs, self.evaluate, self.before = every, total_epochs, evaluate, before

    def on_train_begin(self, args, state, control, **kwargs):
        if self.before:
            self.before()

    def on_epoch_end(self, args, state, control, **kwargs):
        epoch = round(state.epoch)
        if self.every and epoch % self.every == 0 and epoch < self.total_epochs:
            self.evaluate(epoch, state.global_step)
