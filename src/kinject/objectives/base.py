"""What every objective shares: chat-template pieces, the feature layout, collation, the loss.

An objective turns one tokenized document into a *feature* (token ids plus per-position flags)
once, before training; `collate` pads features into a batch; `compute_loss` does the per-batch
random work (masking) and returns the loss. Features never change between epochs, so all
randomness lives in `compute_loss`, driven by a generator the trainer seeds per step.

Feature / batch keys (B = batch, L = padded length):
    input_ids      (B, L) long   the sequence the model reads
    labels         (B, L) long   target token at each position, -100 where there is no loss;
                                 labels[i] is the token *at* position i (the shift happens in the loss)
    attention_mask (B, L) long   1 for real tokens
    maskable       (B, L) bool   positions a masked objective may corrupt (the prompt copy)
    target         (B, L) bool   positions of the document in the answer, same count per row as maskable
Packed rows (train.packing, kinject.data.packing) add
    position_ids   (B, L) long   positions restarting at 0 per packed sequence (padding: its own run)
    segment        (B, L) long   which packed sequence a token belongs to, -1 for padding
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kinject.models.attention import packed_attention_inputs, unwrap

IGNORE = -100
SENTINEL_USER = "\u2063KINJECT_USER\u2063"
SENTINEL_ASSISTANT = "\u2063KINJECT_ASSISTANT\u2063"


def encode_text(tokenizer, text: str) -> list[int]:
    """Tokenize user text: no BOS/EOS added, and special-token strings inside it stay plain text."""
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]


def encode_template(tokenizer, text: str) -> list[int]:
    """Tokenize chat-template text, where special-token strings are real special tokens."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@dataclass(frozen=True)
class ChatPieces:
    """Token ids of the model's chat template around one user turn and one assistant turn."""

    before_user: list[int]  # system prompt (if the template adds one) + user header
    between: list[int]  # end of user turn + assistant header
    end_of_turn: int  # the token that closes the assistant turn (loss-bearing)

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "ChatPieces":
        if not tokenizer.chat_template:
            raise ValueError("the tokenizer has no chat template")
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": SENTINEL_USER}, {"role": "assistant", "content": SENTINEL_ASSISTANT}],
            tokenize=False,
        )
        head, rest = rendered.split(SENTINEL_USER)
        between, tail = rest.split(SENTINEL_ASSISTANT)
        tail_ids = encode_template(tokenizer, tail)
        special = set(tokenizer.all_special_ids)
        eot = tail_ids[0] if tail_ids and tail_ids[0] in special else tokenizer.eos_token_id
        return cls(encode_template(tokenizer, head), encode_template(tokenizer, between), eot)

    def prompt_ids(self, tokenizer, user_text: str) -> list[int]:
        """User turn + assistant header, as the evaluation prompt is built."""
        return self.before_user + encode_text(tokenizer, user_text) + self.between


def draw_mask_ratio(cfg, generator: torch.Generator, n: int = 1) -> torch.Tensor:
    """(n,) mask ratios: cfg.fixed_t, or t ~ Uniform(cfg.t_low, cfg.t_high) from `generator`."""
    if cfg.fixed_t is not None:
        return torch.full((n,), float(cfg.fixed_t))
    return cfg.t_low + (cfg.t_high - cfg.t_low) * torch.rand((n,), generator=generator)


def make_feature(pieces: list[tuple[list[int], str]]) -> dict:
    """Concatenate (ids, role) pieces; role is 'context', 'maskable', 'target' or 'label'.

    'target' = document tokens in the answer (loss-bearing), 'label' = other loss-bearing
    tokens (end-of-turn / EOS), 'maskable' = the prompt copy a masked objective may corrupt.
    """
    input_ids, labels, maskable, target = [], [], [], []
    for ids, role in pieces:
        input_ids += ids
        labels += ids if role in ("target", "label") else [IGNORE] * len(ids)
        maskable += [role == "maskable"] * len(ids)
        target += [role == "target"] * len(ids)
    return {"input_ids": input_ids, "labels": labels, "maskable": maskable, "target": target}


def collate(features: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of features into a batch."""
    length = max(len(f["input_ids"]) for f in features)

    def pad(key, value, dtype):
        return torch.tensor([f[key] + [value] * (length - len(f[key])) for f in features], dtype=dtype)

    batch = {
        "input_ids": pad("input_ids", pad_id, torch.long),
        "labels": pad("labels", IGNORE, torch.long),
        "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * (length - len(f["input_ids"])) for f in features]),
        "maskable": pad("maskable", False, torch.bool),
        "target": pad("target", False, torch.bool),
    }
    if "segment" in features[0]:  # packed rows
        batch["segment"] = pad("segment", -1, torch.long)
        batch["position_ids"] = torch.tensor([f["position_ids"] + list(range(length - len(f["position_ids"])))
                                              for f in features])
    return batch


def model_attention(model, batch: dict, causal: bool = True) -> dict:
    """The attention keyword arguments for the model: the padding mask, or for packed rows a mask
    that keeps every packed sequence to itself."""
    if "segment" not in batch:
        return {"attention_mask": batch["attention_mask"]}
    return packed_attention_inputs(model, batch["segment"], batch["position_ids"], causal)


def causal_lm_loss(model, input_ids, attention_mask, labels, packed: dict | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy over positions whose label is not IGNORE.
    packed: a packed batch's segment / position_ids (see model_attention)."""
    attention = model_attention(model, packed) if packed is not None else {"attention_mask": attention_mask}
    # Positions before the batch's first loss-bearing prediction (the prompt, the masked copy) need no
    # logits: logits_to_keep skips the LM head there, saving its compute and most (B, L, V) logits.
    length = input_ids.shape[1]
    predicts = (labels[:, 1:] != IGNORE).any(dim=0).nonzero()  # position i predicts token i+1
    keep = length - int(predicts[0]) if len(predicts) else 1
    extra = {"logits_to_keep": keep} if keep < length and accepts(model, "logits_to_keep") else {}
    logits = model(input_ids=input_ids, use_cache=False, **attention, **extra).logits  # (B, kept, V)
    start = length - logits.shape[1]
    shift_labels = labels[:, start + 1:]  # logits[:, i] (position start + i) predicts token start + i + 1
    scored = shift_labels != IGNORE
    return F.cross_entropy(logits[:, :-1][scored].float(), shift_labels[scored])  # fp32 only where it counts


def accepts(model, argument: str) -> bool:
    """Whether the model's forward (under DDP / peft wrappers) takes `argument`."""
    try:
        return argument in inspect.signature(unwrap(model).forward).parameters
    except (TypeError, ValueError):
        return False


class Objective:
    """Interface every objective implements. A subclass declares what it is (name, task, the
    objective.* keys it reads, a one-line description), writes `build` (or `build_pair`) and, where
    the plain causal-LM loss is not enough, `compute_loss`; then one line registers it
    (kinject.objectives.register_objective)."""

    name = "base"
    task = "knowledge"  # the task whose data it trains on (kinject.tasks)
    description = ""
    reads: tuple[str, ...] = ()  # objective.* keys it reads; setting any other one is an error
    needs_mask_token = False
    needs_bidirectional = False  # True: masked-diffusion objectives; False: arLLM objectives

    @classmethod
    def check(cls, cfg) -> None:
        """Config checks of this objective's own (kinject.config.need raises the one-line error)."""

    @classmethod
    def label(cls, cfg) -> str:
        """How summaries and tables name a run of this objective with these settings."""
        return cls.name

    def __init__(self, cfg, tokenizer, mask_id: int | None = None, adapter=None):
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.mask_id = mask_id
        self.adapter = adapter  # kinject.models.adapter.ModelAdapter

    def build(self, document_ids: list[int]) -> dict:
        """One tokenized document -> one feature (see the module docstring)."""
        raise NotImplementedError

    def build_pair(self, prompt_ids: list[int], answer_ids: list[int]) -> dict:
        """A (prompt, answer) pair in SFT form: the prompt is context, the answer carries the loss."""
        raise NotImplementedError(f"objective '{self.name}' has no (prompt, answer) form")

    def build_qa(self, question: str, answer: str) -> dict:
        """SFT on a (question, answer) pair: the plain question in the chat template, then the answer."""
        chat = ChatPieces.from_tokenizer(self.tokenizer)
        return self.build_pair(chat.prompt_ids(self.tokenizer, question), encode_text(self.tokenizer, answer))

    def collate(self, features: list[dict]) -> dict[str, torch.Tensor]:
        return collate(features, self.tokenizer.pad_token_id)

    def compute_loss(self, model, batch: dict, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """Return (loss, scalar stats to log; 'loss_tokens' is counted, not logged).
        The default: plain causal-LM loss on `labels`."""
        loss = causal_lm_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"], packed=batch)
        return loss, {"loss_tokens": int((batch["labels"][:, 1:] != IGNORE).sum())}
