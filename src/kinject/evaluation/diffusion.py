"""Masked-diffusion sampling for evaluation (LLaDA's semi-autoregressive sampler, with the settings
of arXiv 2510.09885's dLLM evaluation).

The prompt is followed by `gen_length` mask tokens, cut into blocks of `block_length` that are
filled left to right. The steps are split evenly over blocks and a block's masks evenly over its
steps; at each step the model predicts every position and the `k` masked positions of the current
block with the highest predicted probability (low-confidence remasking) or `k` random ones are
fixed. A row stops after the block in which it fixed a stop token (end-of-turn / EOS): everything
before that token is final by then, so stopping early changes no output, only the time.

Batches are left-padded with an attention mask and position ids, so in fp32 at temperature 0 with
low-confidence remasking, batched outputs equal one-question-at-a-time outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kinject.distributed import sharded_forward_needs_sync
from kinject.evaluation.generation import autocast_context, cut_at_stop, generate_batched


@dataclass(frozen=True)
class DiffusionSampler:
    adapter: object  # kinject.models.adapter.ModelAdapter with is_diffusion
    steps: int = 128
    block_length: int = 4
    remasking: str = "low_confidence"  # or "random"
    temperature: float = 0.0
    seed: int = 0

    @classmethod
    def from_config(cls, eval_cfg, adapter) -> "DiffusionSampler":
        return cls(adapter, eval_cfg.steps, eval_cfg.block_length, eval_cfg.remasking, eval_cfg.temperature,
                   eval_cfg.seed)


def sampler_for(eval_cfg, adapter) -> DiffusionSampler | None:
    """The masked-diffusion sampler for diffusion models; None (greedy decoding) for arLLMs."""
    return DiffusionSampler.from_config(eval_cfg, adapter) if adapter.is_diffusion else None


def split_evenly(total: torch.Tensor, parts: int) -> torch.Tensor:
    """(B,) counts -> (B, parts): as equal as possible, larger parts first (LLaDA's schedule)."""
    base, rest = total // parts, total % parts
    return base[:, None] + (torch.arange(parts)[None, :] < rest[:, None]).long()


def block_steps(gen_length: int, block_length: int, steps: int) -> list[tuple[int, int, int]]:
    """[(start, end, steps)] per block, offsets within the generated region."""
    starts = list(range(0, gen_length, block_length))
    per_block = split_evenly(torch.tensor([steps]), len(starts))[0].tolist()
    return [(s, min(s + block_length, gen_length), n) for s, n in zip(starts, per_block)]


@torch.no_grad()
def diffusion_generate_batch(model, sampler: DiffusionSampler, prompts: list[list[int]], pad_id: int,
                             stop_ids: list[int], gen_length: int, generator: torch.Generator,
                             bf16: bool = False) -> list[list[int]]:
    """Token ids generated for each prompt, cut before the first stop token."""
    adapter, mask_id = sampler.adapter, sampler.adapter.mask_id
    device = next(model.parameters()).device
    batch, width = len(prompts), max(len(p) for p in prompts)
    total = width + gen_length
    # 1. left-padded prompts followed by gen_length mask tokens
    x = torch.full((batch, total), mask_id, dtype=torch.long)
    attention = torch.ones((batch, total), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        pad = width - len(prompt)
        x[row, :pad], attention[row, :pad] = pad_id, 0
        x[row, pad:width] = torch.tensor(prompt)
    x, attention = x.to(device), attention.to(device)
    stops = torch.tensor(sorted(stop_ids), device=device)
    synced = sharded_forward_needs_sync()
    active = torch.ones(batch, dtype=torch.bool, device=device)

    for start, end, n_steps in block_steps(gen_length, sampler.block_length, sampler.steps):
        lo, hi = width + start, width + end
        # 2. how many masks each step of this block fixes, per row
        schedule = split_evenly((x[:, lo:hi] == mask_id).sum(1).cpu(), n_steps).to(device)  # (B, n_steps)
        for step in range(n_steps):
            rows = active.nonzero().squeeze(1)
            with autocast_context(model, bf16):
                logits = adapter.denoiser_logits(model, x[rows], attention[rows])[:, lo:hi].float()  # (R, b, V)
            logits[..., mask_id] = -float("inf")  # a mask is never an answer
            # 3. a candidate token for every position of the block
            if sampler.temperature > 0:  # Gumbel-max in float64, as LLaDA does
                noise = torch.rand(logits.shape, generator=generator, dtype=torch.float64).to(device)
                candidates = (logits.double().exp() / (-torch.log(noise)) ** sampler.temperature).argmax(-1)
            else:
                candidates = logits.argmax(-1)  # (R, b)
            # 4. confidence: the candidate's probability, or random
            if sampler.remasking == "low_confidence":
                confidence = F.softmax(logits, dim=-1).gather(-1, candidates[..., None]).squeeze(-1)
            else:
                confidence = torch.rand(candidates.shape, generator=generator).to(device)
            block = x[rows, lo:hi]
            still_masked = block == mask_id
            confidence = confidence.masked_fill(~still_masked, -float("inf"))
            # 5. fix the k most confident masked positions of each row
            k = schedule[rows, step]
            order = confidence.argsort(dim=-1, descending=True, stable=True)
            chosen = torch.zeros_like(still_masked)
            chosen.scatter_(1, order, torch.arange(block.shape[1], device=device)[None, :] < k[:, None])
            x[rows, lo:hi] = torch.where(chosen & still_masked, candidates, block)
        # 6. rows whose answer has ended need no more blocks (with sharded weights every process must
        #    make the same forward calls, so all rows run to the end)
        if not synced:
            active &= ~torch.isin(x[:, width:hi], stops).any(1)
            if not active.any():
                break

    return [cut_at_stop(x[row, width:].tolist(), stop_ids)[0] for row in range(batch)]


def diffusion_generate(model, tokenizer, sampler: DiffusionSampler, prompts: list[list[int]], stop_ids: list[int],
                       batch_size: int = 32, max_new_tokens: int = 128, bf16: bool = False,
                       progress: bool = True) -> list[str]:
    """Decoded answers for every prompt, in length-sorted batches, returned in the original order."""
    generator = torch.Generator().manual_seed(sampler.seed)
    return generate_batched(
        model, tokenizer, prompts,
        lambda batch: diffusion_generate_batch(model, sampler, batch, tokenizer.pad_token_id, stop_ids, max_new_tokens,
                                               generator, bf16),
        stop_ids, batch_size, progress, desc="sampling")
