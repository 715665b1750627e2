"""Multi-process runs (`accelerate launch -m kinject run ...`, torchrun): who writes, and evaluation
split across processes. Everything goes through accelerate's PartialState; one process is the
degenerate case and costs nothing."""

from __future__ import annotations

import contextlib
import os


def process_index() -> int:
    """This process's global rank, without initialising anything (safe in log())."""
    return int(os.environ.get("RANK", "0"))


def launched() -> bool:
    """True when started by accelerate launch / torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def state():
    """accelerate's PartialState as the Trainer sets it up (on the CPU when there is no CUDA device:
    without cpu=True a CPU-only torchrun process would see itself as the only one)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def sharded_weights() -> str | None:
    """'FSDP' or 'DeepSpeed' when accelerate launch was given such a config (it says so in the environment)."""
    if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        return "FSDP"
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        return "DeepSpeed"
    return None


def device():
    """This process's accelerator (cuda:LOCAL_RANK, mps, ...) or the CPU, as accelerate picks it."""
    return state().device


def is_main() -> bool:
    return not launched() or state().is_main_process


def num_processes() -> int:
    return state().num_processes if launched() else 1


def wait_for_everyone() -> None:
    if launched():
        state().wait_for_everyone()


@contextlib.contextmanager
def main_process_first():
    """The main process runs the block first (downloads, caches, generated files); the others then
    run it and find the work done."""
    if not launched():
        yield
        return
    with state().main_process_first():
        yield


def sharded_forward_needs_sync() -> bool:
    """FSDP and DeepSpeed shard the weights: every process must make the same forward calls, so
    generation keeps going until all processes are done (transformers' synced_gpus)."""
    if not launched():
        return False
    from accelerate.utils import DistributedType

    return state().distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def across_processes(fn, items: list) -> list:
    """fn(items) -> one result per item, with the items split across processes and the results
    gathered back in order on every process. Each process gets the same number of items (the last
    one repeated), so all make the same number of forward calls."""
    if not launched() or len(items) == 0:
        return fn(items)
    from accelerate.utils import gather_object

    indices = list(range(len(items)))
    with state().split_between_processes(indices, apply_padding=True) as mine:
        results = fn([items[i] for i in mine])
    by_index: dict = {}
    for i, result in gather_object(list(zip(mine, results))):
        by_index.setdefault(i, result)
    return [by_index[i] for i in indices]


def sum_across_processes(values: dict[str, int]) -> dict[str, int]:
    """Integer counters summed over processes (every process gets the totals)."""
    if not launched():
        return dict(values)
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    tensor = torch.tensor([int(values[k]) for k in keys], dtype=torch.int64, device=state().device)
    dist.all_reduce(tensor)  # NCCL wants the tensor on this process's GPU, gloo on CPU
    return {k: int(v) for k, v in zip(keys, tensor.tolist())}
