"""Batched greedy generation: left padding, KV cache, stop at end-of-turn."""

from __future__ import annotations

import contextlib

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig

from kinject.distributed import sharded_forward_needs_sync


def autocast_context(model, bf16: bool):
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=next(model.parameters()).device.type, dtype=torch.bfloat16)


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, W) input ids left-padded to the longest prompt, and the matching attention mask."""
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return input_ids, attention_mask


@torch.no_grad()
def generate_greedy(
    model,
    tokenizer,
    prompts: list[list[int]],
    stop_ids: list[int],
    batch_size: int = 32,
    max_new_tokens: int = 128,
    bf16: bool = False,
    progress: bool = True,
) -> list[str]:
    """Greedy continuation of each prompt (token ids), cut at the first stop token, decoded.

    Prompts are processed in length-sorted batches so padding stays small; results come back
    in the original order.
    """
    was_training = model.training
    model.eval()
    pad_id = tokenizer.pad_token_id
    gen_cfg = GenerationConfig(
        do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
        eos_token_id=list(stop_ids), pad_token_id=pad_id, use_cache=True,
    )
    synced = sharded_forward_needs_sync()
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="generating", unit="batch", disable=not progress, leave=False):
        input_ids, attention_mask = left_pad([prompts[i] for i in batch], pad_id)
        width = input_ids.shape[1]
        with autocast_context(model, bf16):
            out = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=attention_mask.to(model.device),
                generation_config=gen_cfg,
                synced_gpus=synced,
            )
        for row, i in enumerate(batch):
            new = out[row, width:].tolist()
            cut = next((k for k, tok in enumerate(new) if tok in stop_ids), len(new))
            outputs[i] = tokenizer.decode(new[:cut], skip_special_tokens=True).strip()
    model.train(was_training)
    return outputs
