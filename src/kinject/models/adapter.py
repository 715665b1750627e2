"""What the rest of kinject needs to know about a model: causal or masked-diffusion, its mask id,
whether its logits are shifted, and how to hand it an attention mask.

Families:
    causal         any Hugging Face causal LM (arLLM); evaluated with greedy decoding
    bidirectional  any Hugging Face decoder built with config.is_causal=False (transformers 5.x);
                   logits[:, i] predicts token i unless model.shifted_logits says otherwise
    llada          LLaDA-style remote-code checkpoints (config.model_type 'llada'); mask id from the
                   config (mask_token_id), 126336 for LLaDA-8B; 2-D padding mask; unshifted logits
    dream          Dream-style remote-code checkpoints (model_type 'Dream'); logits[:, i] predicts
                   token i+1 (initialised from an arLLM), so kinject shifts them back; the model wants
                   a 4-D boolean attention mask and explicit position ids
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from kinject.errors import KinjectError
from kinject.models.attention import packed_attention_inputs, segment_mask
from kinject.models.mask_token import MaskToken, resolve_mask_token

LLADA_MASK_ID = 126336  # LLaDA-8B-Base/Instruct, when the config does not say


@dataclass(frozen=True)
class ModelAdapter:
    family: str  # causal | bidirectional | llada | dream
    mask: MaskToken | None
    shifted_logits: bool  # True: logits at i predict token i+1 (arLLMs, Dream)
    attention: str  # 'causal', 'bidirectional-2d' (padding mask) or 'bidirectional-4d' (Dream)
    takes_position_ids: bool

    @property
    def is_diffusion(self) -> bool:
        return self.family != "causal"

    @property
    def mask_id(self) -> int | None:
        return self.mask.id if self.mask else None

    def describe(self) -> dict:
        return {"family": self.family, "mask_token": self.mask.token if self.mask else None,
                "mask_id": self.mask_id, "shifted_logits": self.shifted_logits, "attention": self.attention}

    def denoiser_logits(self, model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        packed: dict | None = None) -> torch.Tensor:
        """Logits aligned with the input: out[:, i] is the prediction for the token at position i.

        input_ids, attention_mask: (B, L); padding may sit on either side. Returns (B, L, V).
        packed: a packed batch (segment, position_ids): every packed sequence attends only to itself.
        """
        kwargs = {}
        if packed is not None and "segment" in packed:
            kwargs = packed_attention_inputs(model, packed["segment"], packed["position_ids"], causal=False)
            if self.attention == "bidirectional-4d":  # Dream's own code wants a boolean mask
                kwargs["attention_mask"] = segment_mask(packed["segment"], causal=False)
        elif self.attention == "bidirectional-4d":
            keep = attention_mask.bool()
            kwargs["attention_mask"] = keep[:, None, None, :] & keep[:, None, :, None]  # (B, 1, L, L)
        else:
            kwargs["attention_mask"] = attention_mask
        if self.takes_position_ids and "position_ids" not in kwargs:  # left padding must not shift positions
            kwargs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=input_ids, **kwargs).logits
        if self.shifted_logits:  # position i-1 predicted token i; position 0 (BOS / prompt) has no prediction
            logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        return logits


def model_family(config) -> str:
    model_type = str(getattr(config, "model_type", "")).lower()
    if "llada" in model_type:
        return "llada"
    if model_type == "dream":
        return "dream"
    if getattr(config, "is_causal", True) is False:
        return "bidirectional"
    return "causal"


def _takes_position_ids(model) -> bool:
    try:
        return "position_ids" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _diffusion_mask(model, tokenizer, model_cfg) -> MaskToken:
    """The mask token of a diffusion model: config option, model config, tokenizer, then resolve."""
    def token_of(i: int) -> str:
        return tokenizer.convert_ids_to_tokens(i) if i < len(tokenizer) else f"<id {i}>"

    if model_cfg.mask_id is not None:
        if not 0 <= model_cfg.mask_id < model.get_input_embeddings().num_embeddings:
            raise KinjectError(f"config: key 'model.mask_id': {model_cfg.mask_id} is outside the model's "
                               f"vocabulary (0..{model.get_input_embeddings().num_embeddings - 1})")
        return MaskToken(token_of(model_cfg.mask_id), model_cfg.mask_id, added=False)
    config_id = getattr(model.config, "mask_token_id", None)
    if config_id is not None:
        return MaskToken(token_of(config_id), int(config_id), added=False)
    if model_family(model.config) == "llada":
        return MaskToken(token_of(LLADA_MASK_ID), LLADA_MASK_ID, added=False)
    if tokenizer.mask_token_id is not None:
        return MaskToken(tokenizer.mask_token, tokenizer.mask_token_id, added=False)
    return resolve_mask_token(tokenizer, model, model_cfg.mask_token)


def resolve_adapter(model, tokenizer, model_cfg, needs_mask: bool) -> ModelAdapter:
    """Describe `model` for kinject. May add a mask token (and resize embeddings) when needed."""
    family = model_family(model.config)
    if family == "causal":
        mask = resolve_mask_token(tokenizer, model, model_cfg.mask_token) if needs_mask else None
        return ModelAdapter("causal", mask, shifted_logits=True, attention="causal",
                            takes_position_ids=_takes_position_ids(model))
    shifted = family == "dream" if model_cfg.shifted_logits == "auto" else model_cfg.shifted_logits == "true"
    return ModelAdapter(
        family, _diffusion_mask(model, tokenizer, model_cfg), shifted_logits=shifted,
        attention="bidirectional-4d" if family == "dream" else "bidirectional-2d",
        takes_position_ids=_takes_position_ids(model),
    )
