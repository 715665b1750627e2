"""One run of a config, top to bottom: the run directory, the model, the data and the objective's
training sequences (kinject.preparation, the same path the pre-run check takes), evaluation,
training through transformers' Trainer, the saved model, and the report."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path

from kinject import console, distributed
from kinject.config import Config
from kinject.errors import RunFailed, RunInterrupted
from kinject.io import publish_dir
from kinject.reporting.run_dir import RunDir, clear_run, kept_in_run_dir, write_state

FINISHED_MARKER = "summary.json"


class Run:
    def __init__(self, cfg: Config, before_cache: dict | None = None, overwrite: bool = False, resume: bool = False):
        from kinject.registry import TASKS

        self.cfg, self.task = cfg, TASKS[cfg.task]
        self.before_cache = {} if before_cache is None else before_cache
        self.overwrite, self.resume = overwrite, resume

    def run(self) -> dict:
        cfg, started = self.cfg, time.time()
        finished = Path(cfg.output_dir) / FINISHED_MARKER
        if self.resume and finished.exists():
            console.log(f"{cfg.output_dir}: finished earlier; kept as it is")
            return json.loads(finished.read_text())
        run_dir, checkpoint = self.open_run_dir()  # 1. the run directory
        model, tokenizer, model_path = self.load_model()  # 2. the model
        prepared = self.prepare(model, tokenizer)  # 3. data, objective, training sequences
        model = self.with_lora(model)
        evaluator = self.evaluator(prepared, model, tokenizer, run_dir)  # 4. evaluation
        trainer = self.trainer(model, tokenizer, prepared, evaluator, run_dir, checkpoint)  # 5. training
        train_seconds = self.train(trainer, evaluator, run_dir, checkpoint)
        with self.out_of_memory_advice(trainer):
            final = evaluator.evaluate(cfg.train.epochs, trainer.state.global_step)
        console.close_bar()
        if evaluator.tensorboard:
            evaluator.tensorboard.close()
        summary = self.report(trainer, model, tokenizer, model_path, prepared, evaluator, run_dir,  # 6. report
                              final, train_seconds, started, checkpoint)
        console.log(f"wrote {run_dir.path}/summary.md")
        return summary

    # ---- 1. the run directory

    def open_run_dir(self) -> tuple[RunDir, str | None]:
        """A fresh or resumed run directory; what a killed run left half-written is cleared."""
        from kinject.training.checkpoints import STAGING, newest_checkpoint

        cfg, main = self.cfg, distributed.is_main()
        run_dir = RunDir(cfg.output_dir, writer=main)
        checkpoint = newest_checkpoint(run_dir.path / "trainer") if self.resume else None
        distributed.wait_for_everyone()  # every process has looked for the checkpoint before anything changes
        if main and (self.overwrite or self.resume) and run_dir.path.exists() and not checkpoint:
            clear_run(run_dir.path, kept_in_run_dir(cfg))  # nothing to resume from: start this run afresh
        distributed.wait_for_everyone()
        if checkpoint:
            step = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"]
            run_dir.load_until(step)
            console.log(f"resuming from {checkpoint} (optimizer step {step})")
        run_dir.write_config(cfg.to_dict())
        if main:  # a killed run's leftovers: a checkpoint, a save, atomic-write temporaries
            shutil.rmtree(run_dir.path / "trainer" / STAGING, ignore_errors=True)
            shutil.rmtree(run_dir.path / ".save.partial", ignore_errors=True)
            for temporary in run_dir.path.glob(".*.*"):
                if temporary.is_file():
                    temporary.unlink()
            write_state(run_dir.path, "running", step=0)
        return run_dir, checkpoint

    # ---- 2-3. the model, the data, the objective

    def load_model(self):
        from kinject.models.loading import load_model_and_tokenizer

        with distributed.main_process_first():  # a first load may convert and cache the weights
            return load_model_and_tokenizer(self.cfg.model)

    def prepare(self, model, tokenizer):
        from kinject.preparation import prepare

        with distributed.main_process_first():  # the main process writes generated data, the others read them
            prepared = prepare(self.cfg, model, tokenizer)
        mask = prepared.adapter.mask
        if mask:
            console.log(f"mask token: {mask.token!r} (id {mask.id}{', added' if mask.added else ''})", console.VERBOSE)
        return prepared

    def with_lora(self, model):
        if not self.cfg.model.lora.enabled:
            return model
        from kinject.models.lora import apply_lora

        return apply_lora(model, self.cfg.model.lora)

    def evaluator(self, prepared, model, tokenizer, run_dir):
        from torch.utils.tensorboard import SummaryWriter

        from kinject.evaluation.diffusion import sampler_for
        from kinject.evaluation.evaluator import Evaluator

        tensorboard = SummaryWriter(log_dir=str(run_dir.path / "tensorboard")) if run_dir.writer else None
        sampler = sampler_for(self.cfg.eval, prepared.adapter)
        return Evaluator(self.cfg, self.task, prepared.data, model, tokenizer, sampler, run_dir, tensorboard,
                         self.before_cache)

    # ---- 5. training

    def trainer(self, model, tokenizer, prepared, evaluator, run_dir, checkpoint):
        import torch

        from kinject.data.corpus import count_rows
        from kinject.training.callbacks import EpochEvalCallback, GracefulStop, ProgressBar, SharedTensorBoard
        from kinject.training.sam import sam_rho
        from kinject.training.trainer import KinjectTrainer, training_arguments

        cfg = self.cfg
        torch.manual_seed(cfg.train.seed)
        args = training_arguments(cfg.train, str(run_dir.path / "trainer"), count_rows(prepared.features),
                                  distributed.num_processes())
        sam = {"rho": sam_rho(cfg.train), "adaptive": cfg.train.sam_adaptive} if cfg.train.optimizer == "sam" else None
        self.graceful = GracefulStop()
        callbacks = [ProgressBar(cfg.run_name or Path(cfg.output_dir).name), self.graceful,
                     EpochEvalCallback(cfg.eval.every, cfg.train.epochs, evaluator.evaluate, evaluator.before),
                     SharedTensorBoard(evaluator.tensorboard)]
        if cfg.train.wandb:
            from transformers.integrations import WandbCallback

            callbacks.append(WandbCallback())
        trainer = KinjectTrainer(model=model, args=args, train_dataset=prepared.features, objective=prepared.objective,
                                 sam=sam, callbacks=callbacks, processing_class=tokenizer)
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # the per-step dicts go to train_log.jsonl and TensorBoard
        if checkpoint:
            trainer.load_counters(checkpoint)
        return trainer

    def train(self, trainer, evaluator, run_dir, checkpoint) -> float:
        """Seconds spent training (evaluations during training not counted)."""
        started = time.time()
        with self.graceful.installed(), self.out_of_memory_advice(trainer):
            trainer.train(resume_from_checkpoint=checkpoint)
        if self.graceful.stopped_at is not None:
            console.close_bar()
            raise RunInterrupted(f"{run_dir.path}: stopped after optimizer step {self.graceful.stopped_at} and saved a "
                                 "checkpoint; continue with `kinject run CONFIG --resume`")
        return time.time() - started - evaluator.seconds

    @contextlib.contextmanager
    def out_of_memory_advice(self, trainer):
        """Out of memory: one line with what to change, and where the newest checkpoint is."""
        import torch

        try:
            yield
        except torch.OutOfMemoryError:
            from kinject.training.checkpoints import checkpoint_step, newest_checkpoint

            cfg, t, e = self.cfg, self.cfg.train, self.cfg.eval
            newest = newest_checkpoint(Path(cfg.output_dir) / "trainer")
            saved = (f"; the newest checkpoint is optimizer step {checkpoint_step(newest)} (kinject run CONFIG --resume)"
                     if newest else "; no checkpoint was saved (train.checkpoint_steps)")
            raise RunFailed(f"{cfg.output_dir}: out of memory at optimizer step {trainer.state.global_step} "
                            f"(train.batch_size={t.batch_size}, train.max_length={t.max_length}, "
                            f"eval.batch_size={e.batch_size}): lower train.batch_size (raise train.grad_accum to keep "
                            "the global batch) or eval.batch_size, shorten train.max_length, or set "
                            f"model.lora.enabled=true or launch with configs/accelerate/fsdp.yaml{saved}") from None

    # ---- 6. save and report

    def save_model(self, trainer, model, tokenizer, run_dir) -> None:
        """model/ (and adapter/ with LoRA) appear whole or not at all."""
        cfg, main = self.cfg, run_dir.writer
        staging = run_dir.path / ".save.partial"
        if main:
            shutil.rmtree(staging, ignore_errors=True)
        distributed.wait_for_everyone()
        if cfg.save_model and cfg.model.lora.enabled:
            from kinject.models.lora import save_lora_run

            if main:
                save_lora_run(model, tokenizer, staging, merge=cfg.model.lora.merge_on_save)
        elif cfg.save_model:
            trainer.save_model(str(staging / "model"))  # gathers FSDP / ZeRO-3 shards; model + tokenizer
        distributed.wait_for_everyone()
        if main and staging.exists():
            for part in sorted(staging.iterdir()):
                publish_dir(part, run_dir.path / part.name)
            staging.rmdir()

    def report(self, trainer, model, tokenizer, model_path, prepared, evaluator, run_dir, final, train_seconds,
               started, checkpoint) -> dict:
        from kinject.reporting.summary import build_summary, compute_accounting, timing
        from kinject.training.trainer import use_bf16

        cfg = self.cfg
        counters = trainer.counters_all_processes()
        compute = compute_accounting(model, counters, self.task.training_texts(prepared.data), cfg)  # before a merge
        run_dir.write_train_log(trainer.state.log_history)
        self.save_model(trainer, model, tokenizer, run_dir)
        timings = timing(cfg, counters, train_seconds, evaluator.seconds, started, checkpoint, use_bf16(cfg.train))
        summary = build_summary(cfg, self.task, model_path, prepared, evaluator.sampler, run_dir.evaluations, final,
                                evaluator.before_entry, compute, timings)
        if run_dir.writer:
            write_state(run_dir.path, "finished", step=trainer.state.global_step)
        run_dir.write_summary(summary, self.task)  # summary.json last: the run is finished
        if run_dir.writer:
            shutil.rmtree(run_dir.path / "trainer", ignore_errors=True)
        return summary
