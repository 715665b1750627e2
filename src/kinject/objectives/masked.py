"""Masked fine-tuning for arLLMs (arXiv 2510.09885, the method): read a masked copy, write out the
original.

    user:      {document, some tokens replaced by the mask token}\nReturn the recovered masked passage.
    assistant: Here is the recovered text:\n\n{document}<end-of-turn>

Loss on the document tokens of the assistant turn and the end-of-turn token, nothing else
(loss_on='masked': only on document tokens whose copy in the prompt was masked, plus the
end-of-turn unless objective.eot_loss=false).
Control (corruption='random_tokens'): the whole prompt copy becomes uniformly random tokens.
"""

from __future__ import annotations

import torch

from kinject.objectives.base import (IGNORE, ChatPieces, Objective, causal_lm_loss, draw_mask_ratio, encode_text,
                                     make_feature)


class MaskedObjective(Objective):
    name = "masked"
    description = "read a masked copy of the document in the prompt, write out the original"
    reads = ("t_low", "t_high", "fixed_t", "loss_on", "eot_loss", "corruption", "instruction", "response_prefix")
    needs_mask_token = True
    default_loss_on = "all"  # objective.loss_on=auto

    @classmethod
    def label(cls, cfg) -> str:
        o = cfg.objective
        t = f"t={o.fixed_t}" if o.fixed_t is not None else f"t~U({o.t_low},{o.t_high})"
        loss_on = cls.default_loss_on if o.loss_on == "auto" else o.loss_on
        extra = "" if loss_on == "all" else ", loss on masked only"
        control = ", random-token control" if o.corruption == "random_tokens" else ""
        return f"{cls.name} ({t}{extra}{control})"

    def __init__(self, cfg, tokenizer, mask_id=None, adapter=None):
        super().__init__(cfg, tokenizer, mask_id, adapter)
        if cfg.corruption == "mask" and mask_id is None:
            raise ValueError("masked fine-tuning needs a mask token id")
        self.loss_on = self.default_loss_on if cfg.loss_on == "auto" else cfg.loss_on
        self.chat = ChatPieces.from_tokenizer(tokenizer)
        self.instruction = encode_text(tokenizer, cfg.instruction)
        self.response_prefix = encode_text(tokenizer, cfg.response_prefix)
        special = set(tokenizer.all_special_ids) | ({mask_id} if mask_id is not None else set())
        # random-token control draws from ordinary tokens only
        self.ordinary_ids = torch.tensor([i for i in range(len(tokenizer)) if i not in special])

    def build(self, document_ids: list[int]) -> dict:
        return make_feature([
            (self.chat.before_user, "context"),
            (document_ids, "maskable"),  # the copy that compute_loss corrupts
            (self.instruction + self.chat.between + self.response_prefix, "context"),
            (document_ids, "target"),
            ([self.chat.end_of_turn], "label"),
        ])

    def sample_t(self, generator: torch.Generator) -> float:
        return draw_mask_ratio(self.cfg, generator).item()

    def corrupt(self, batch: dict, generator: torch.Generator) -> tuple[dict, dict]:
        """Return a copy of the batch with the prompt copy corrupted and labels set, plus stats."""
        input_ids, labels = batch["input_ids"].clone(), batch["labels"].clone()
        maskable, target = batch["maskable"], batch["target"]

        # 1. one mask ratio t for the whole batch
        t = self.sample_t(generator)
        # 2. each maskable token independently with probability t (drawn on CPU for determinism)
        drawn = (torch.rand(maskable.shape, generator=generator) < t).to(maskable.device) & maskable
        # 3. corrupt the prompt copy
        if self.cfg.corruption == "random_tokens":
            picks = torch.randint(len(self.ordinary_ids), (int(maskable.sum()),), generator=generator)
            input_ids[maskable] = self.ordinary_ids[picks].to(input_ids.device)
        else:
            input_ids[drawn] = self.mask_id
        # 4. optionally keep loss only where the prompt copy was masked; the k-th maskable position
        #    of a row pairs with its k-th target position (same document, same length)
        if self.loss_on == "masked":
            was_masked = torch.zeros_like(target)
            was_masked[target] = drawn[maskable]
            labels[target & ~was_masked] = IGNORE
            if not self.cfg.eot_loss:  # end-of-turn has no prompt copy; by default it is still trained
                labels[(labels != IGNORE) & ~target] = IGNORE
        n_maskable = int(maskable.sum())
        stats = {"mask_t": t, "mask_ratio": float(drawn.sum()) / max(n_maskable, 1),
                 "loss_tokens": int((labels[:, 1:] != IGNORE).sum())}
        return {**batch, "input_ids": input_ids, "labels": labels}, stats

    def compute_loss(self, model, batch, generator):
        corrupted, stats = self.corrupt(batch, generator)
        loss = causal_lm_loss(model, corrupted["input_ids"], corrupted["attention_mask"], corrupted["labels"],
                              packed=batch)
        return loss, stats
