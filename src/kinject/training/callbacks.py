"""Trainer callbacks of a kinject run: its progress bar, evaluation every N epochs, Ctrl-C at a
step boundary, and TensorBoard on the run's own writer."""

from __future__ import annotations

import contextlib

import torch
from transformers import TrainerCallback
from transformers.integrations import TensorBoardCallback

from kinject import console


class ProgressBar(TrainerCallback):
    """One bar per run: optimizer steps, loss and learning rate, ETA. The per-step log dict is
    printed only with -v (it is in train_log.jsonl and TensorBoard either way)."""

    def __init__(self, description: str):
        self.description = description

    def on_train_begin(self, args, state, control, **kwargs):
        bar = console.training_bar(state.max_steps, self.description)
        bar.update(state.global_step)  # a resumed run starts where it stopped

    def on_step_end(self, args, state, control, **kwargs):
        bar = console.current_bar()
        if bar is not None:
            bar.update(state.global_step - bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs, bar = logs or {}, console.current_bar()
        if "loss" in logs and bar is not None:
            bar.set_postfix(loss=f"{logs['loss']:.4f}", lr=f"{logs.get('learning_rate', 0):.1e}")
        console.log(str({k: round(v, 5) if isinstance(v, float) else v for k, v in logs.items()}), console.VERBOSE)


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
        console.log("interrupt: finishing this optimizer step and saving a checkpoint (Ctrl-C again to stop at once)")

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
