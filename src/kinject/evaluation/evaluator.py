"""A run's evaluations: before training (shared by runs with the same model, questions and
decoding), every eval.every epochs, and after training. Each is recorded in the run directory,
on TensorBoard and as one console line."""

from __future__ import annotations

import json
import time

from kinject import console


def before_key(cfg) -> str:
    """Runs that share model, questions and decoding share the before-training evaluation."""
    m, e = cfg.model, cfg.eval
    return json.dumps([cfg.task, m.name, m.source, m.revision, m.bidirectional, m.mask_id, m.shifted_logits, cfg.data.test,
                       cfg.data.max_documents, cfg.data.pick, e.max_questions, e.max_new_tokens, e.bf16, e.sampler, e.steps,
                       e.block_length, e.remasking, e.temperature, e.seed], sort_keys=True)


class Evaluator:
    def __init__(self, cfg, task, data, model, tokenizer, sampler, run_dir, tensorboard, before_cache: dict):
        self.cfg, self.task, self.data = cfg, task, data
        self.model, self.tokenizer, self.sampler = model, tokenizer, sampler
        self.run_dir, self.tensorboard, self.before_cache = run_dir, tensorboard, before_cache
        self.seconds = 0.0
        self.before_entry = next((e for e in run_dir.evaluations if e["epoch"] == 0), None)  # kept by a resume

    def evaluate(self, epoch: int, step: int) -> dict:
        started = time.time()
        console.status(f"evaluating epoch {epoch}")
        result, rows = self.task.evaluate(self.model, self.tokenizer, self.data, self.cfg.eval, self.sampler,
                                          progress=console.progress_enabled())
        seconds = time.time() - started
        self.seconds += seconds
        entry = self.run_dir.add_evaluation(epoch, step, result, rows, seconds)
        for name, value in self.task.scalars(result).items():
            if self.tensorboard:
                self.tensorboard.add_scalar(name, value, step)
        console.status("")
        console.log(f"epoch {epoch}: {self.task.console_line(result)}, {seconds:.0f} s")
        return entry

    def before(self) -> None:
        """Called once the Trainer has placed (and, under FSDP / DeepSpeed, sharded) the model."""
        if not self.cfg.eval.before or self.before_entry is not None:
            return
        key = before_key(self.cfg)
        if key in self.before_cache:
            cached = self.before_cache[key]
            self.before_entry = self.run_dir.add_evaluation(0, 0, cached["result"], cached["rows"], 0.0)
            console.log("epoch 0: the before-training evaluation of an earlier run with the same model and questions")
            return
        self.before_entry = self.evaluate(0, 0)
        self.before_cache[key] = {
            "result": {k: v for k, v in self.before_entry.items() if k not in ("epoch", "step", "seconds")},
            "rows": [r for r in self.run_dir.generations if r["epoch"] == 0]}
