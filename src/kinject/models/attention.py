"""Attention inputs for packed rows: every token sees only its own sequence.

Attention implementations that take a mask (sdpa, eager, and remote-code models) get an explicit
(B, 1, L, L) mask built from the row's `segment` ids: block-diagonal, lower-triangular within a
block for causal models, full within a block for bidirectional ones; boolean (True = attend) for
sdpa, additive (0 / -inf) for eager. Flash-attention implementations get only the restarting
position_ids, from which transformers derives the variable-length segments (causal models only).
"""

from __future__ import annotations

import torch


def unwrap(model):
    """The Hugging Face model under DDP-style (.module) and peft wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def attention_implementation(model) -> str:
    config = getattr(unwrap(model), "config", None)
    return getattr(config, "_attn_implementation", None) or "sdpa"


def segment_mask(segment: torch.Tensor, causal: bool) -> torch.Tensor:
    """segment (B, L) long, -1 for padding -> (B, 1, L, L) bool, True where query i may attend key j."""
    same = segment[:, :, None] == segment[:, None, :]  # (B, L, L)
    real = segment >= 0
    allowed = same & real[:, :, None] & real[:, None, :]
    if causal:
        length = segment.shape[1]
        allowed &= torch.ones(length, length, dtype=torch.bool, device=segment.device).tril()
    allowed |= torch.eye(segment.shape[1], dtype=torch.bool, device=segment.device)  # padding sees itself: no empty row
    return allowed[:, None]


def packed_attention_inputs(model, segment: torch.Tensor, position_ids: torch.Tensor, causal: bool,
                            dtype: torch.dtype = torch.float32) -> dict:
    implementation = attention_implementation(model)
    if "flash" in implementation:
        if not causal:
            raise ValueError(f"packing a bidirectional model needs attn_implementation sdpa or eager, not "
                             f"{implementation}")
        return {"position_ids": position_ids}  # transformers splits the row where positions restart
    mask = segment_mask(segment, causal)
    if implementation == "eager":
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)
    return {"attention_mask": mask, "position_ids": position_ids}
