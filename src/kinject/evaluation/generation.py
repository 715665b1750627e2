"""Generation, written once: prompts (token ids) in length-sorted batches, each batch decoded by a
backend (greedy `generate` with a KV cache, or the masked-diffusion sampler), every answer cut at
its first stop token; results in the prompts' order. Paraphrase generation uses the same pieces
(`hf_generate`, `cut_at_stop`) on its own seeded chunks."""

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


def cut_at_stop(ids: list[int], stop_ids) -> tuple[list[int], bool]:
    """(the tokens before the first stop token, whether there was one)."""
    cut = next((k for k, tok in enumerate(ids) if tok in stop_ids), None)
    return (ids, False) if cut is None else (ids[:cut], True)


@torch.no_grad()
def hf_generate(model, prompts: list[list[int]], pad_id: int, gen_cfg: GenerationConfig, bf16: bool = False,
                synced: bool | None = None) -> list[list[int]]:
    """transformers' generate on left-padded prompts: the new tokens of each row (not cut). synced:
    keep generating until every process is done (sharded weights; default: when the launch shards)."""
    input_ids, attention_mask = left_pad(prompts, pad_id)
    synced = sharded_forward_needs_sync() if synced is None else synced
    with autocast_context(model, bf16):
        out = model.generate(input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device),
                             generation_config=gen_cfg, synced_gpus=synced)
    return out[:, input_ids.shape[1]:].tolist()


def generate_batched(model, tokenizer, prompts: list[list[int]], decode_batch, stop_ids, batch_size: int,
                     progress: bool = True, desc: str = "generating") -> list[str]:
    """Decoded answers for every prompt: length-sorted batches of `batch_size`, `decode_batch(prompts)`
    -> new token ids per prompt, cut at the first stop token, returned in the original order."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    try:
        for batch in tqdm(batches, desc=desc, unit="batch", disable=not progress, leave=False):
            for i, ids in zip(batch, decode_batch([prompts[i] for i in batch])):
                outputs[i] = tokenizer.decode(cut_at_stop(ids, stop_ids)[0], skip_special_tokens=True).strip()
    finally:
        model.train(was_training)
    return outputs


def generate_greedy(model, tokenizer, prompts: list[list[int]], stop_ids: list[int], batch_size: int = 32,
                    max_new_tokens: int = 128, bf16: bool = False, progress: bool = True) -> list[str]:
    """Greedy answers (KV cache; in fp32, batched answers equal one-at-a-time answers)."""
    gen_cfg = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                               eos_token_id=list(stop_ids), pad_token_id=tokenizer.pad_token_id, use_cache=True)
    return generate_batched(model, tokenizer, prompts,
                            lambda batch: hf_generate(model, batch, tokenizer.pad_token_id, gen_cfg, bf16),
                            stop_ids, batch_size, progress)
