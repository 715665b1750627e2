"""Resolve the mask token per model: an unused special token if there is one, else a new one."""

from __future__ import annotations

from dataclasses import dataclass

from kinject.errors import KinjectError

NEW_MASK_TOKEN = "<|mask|>"


@dataclass(frozen=True)
class MaskToken:
    token: str
    id: int
    added: bool  # True when the token was added and the embeddings resized


def unused_special_tokens(tokenizer) -> list[str]:
    """Special tokens the model never needs: not BOS/EOS/PAD/UNK and absent from the chat template.

    Reserved tokens (Llama-3's <|reserved_special_token_N|>) come first.
    """
    in_use = {tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token}
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    found = []
    for _, added in sorted(tokenizer.added_tokens_decoder.items()):
        if added.special and added.content not in in_use and added.content not in template:
            found.append(added.content)
    return sorted(found, key=lambda t: "reserved" not in t)  # stable: keeps id order otherwise


def resolve_mask_token(tokenizer, model, spec: str = "auto") -> MaskToken:
    """Pick or add the mask token. Adding resizes `model`'s embeddings in place."""
    if spec == "auto":
        candidates = unused_special_tokens(tokenizer)
        if candidates:
            token = candidates[0]
            return MaskToken(token, tokenizer.convert_tokens_to_ids(token), added=False)
        spec = NEW_MASK_TOKEN
    roles = {"BOS": tokenizer.bos_token, "EOS": tokenizer.eos_token, "PAD": tokenizer.pad_token, "UNK": tokenizer.unk_token}
    role = next((name for name, token in roles.items() if token == spec), None)
    if role:
        raise KinjectError(f"config: key 'model.mask_token': {spec!r} is the tokenizer's {role} token and cannot be the mask")
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    if spec in template:
        raise KinjectError(f"config: key 'model.mask_token': {spec!r} appears in the chat template and cannot be the mask")
    ids = tokenizer.encode(spec, add_special_tokens=False)
    if len(ids) == 1 and tokenizer.convert_ids_to_tokens(ids[0]) == spec:
        return MaskToken(spec, ids[0], added=False)
    tokenizer.add_special_tokens({"additional_special_tokens": [spec]}, replace_extra_special_tokens=False)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return MaskToken(spec, tokenizer.convert_tokens_to_ids(spec), added=True)
