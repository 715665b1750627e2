"""Masked diffusion LM fine-tuning (arXiv 2510.09885, the dLLM runs), for bidirectional models
(LLaDA-style).

pretrain format:  BOS + document + EOS          BOS never masked; document and EOS maskable
chat (SFT) form:  prompt (chat template, never masked) + answer + end-of-turn (maskable)

Per batch (objective.t_per=sequence: per sequence, as LLaDA pretraining): t ~ Uniform(t_low, t_high)
(or objective.fixed_t), every maskable token masked
independently with probability t, cross-entropy on masked positions only, each weighted 1/t.
Normalization (objective.normalize):
    sequence  per sample: sum / its number of maskable tokens; then mean over samples (MFT default)
    token     sum / number of maskable tokens in the batch
    batch     sum / (batch size x padded length) (LLaDA pretraining)
With objective.eos_fill (LLaDA SFT), SFT-form sequences are filled with EOS up to the batch's
longest sequence and those EOS tokens are maskable like any other: the model learns to end an
answer, which the fixed-length sampler relies on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kinject.objectives.base import IGNORE, ChatPieces, Objective, collate, draw_mask_ratio


class MaskedDiffusionObjective(Objective):
    name = "mdm"
    description = "masked-diffusion loss (1/t-weighted, masked positions) for bidirectional models"
    reads = ("format", "chat_prompt", "t_low", "t_high", "fixed_t", "t_per", "normalize", "eos_fill")
    needs_mask_token = True
    needs_bidirectional = True

    @classmethod
    def check(cls, cfg) -> None:
        from kinject.errors import need

        need(not (cfg.train.packing and cfg.objective.eos_fill), "train.packing",
             "cannot pack with objective.eos_fill (EOS filling pads each answer to the batch's longest)")

    @classmethod
    def label(cls, cfg) -> str:
        o = cfg.objective
        t = f"t={o.fixed_t}" if o.fixed_t is not None else f"t~U({o.t_low},{o.t_high})"
        per = " per sequence" if o.t_per == "sequence" and o.fixed_t is None else ""
        return f"mdm ({o.format}, {t}{per}, {o.normalize} norm.)"

    def __init__(self, cfg, tokenizer, mask_id=None, adapter=None):
        super().__init__(cfg, tokenizer, mask_id, adapter)
        if mask_id is None:
            raise ValueError("masked diffusion needs a mask token id")
        if adapter is None or not adapter.is_diffusion:
            raise ValueError("objective 'mdm' needs a bidirectional model (set model.bidirectional=true, "
                             "or use a LLaDA/Dream checkpoint)")
        self.chat = ChatPieces.from_tokenizer(tokenizer) if cfg.format == "chat" else None
        self.fill_id = tokenizer.eos_token_id
        if cfg.format == "pretrain" and self.fill_id is None:
            raise ValueError("the pretraining form (BOS + document + EOS) needs a tokenizer with an EOS token")

    # --- sequences -----------------------------------------------------------------------------

    @staticmethod
    def feature(context: list[int], maskable: list[int], fill_id: int | None = None) -> dict:
        """context: never masked, no loss; maskable: may be masked, loss where masked."""
        return {
            "input_ids": context + maskable,
            "labels": [IGNORE] * len(context) + maskable,
            "maskable": [False] * len(context) + [True] * len(maskable),
            "target": [False] * len(context) + [True] * len(maskable),
            "fill_id": -1 if fill_id is None else fill_id,
        }

    def build(self, document_ids: list[int]) -> dict:
        tok = self.tokenizer
        if self.cfg.format == "chat":
            prompt = self.chat.prompt_ids(tok, self.cfg.chat_prompt)
            return self.build_pair(prompt, document_ids)
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        if not bos and self.adapter.shifted_logits:  # with shifted logits nothing predicts position 0
            return self.feature(document_ids[:1], document_ids[1:] + [tok.eos_token_id])
        return self.feature(bos, document_ids + [tok.eos_token_id])

    def build_pair(self, prompt_ids: list[int], answer_ids: list[int]) -> dict:
        """SFT form: the prompt (already in the chat template) is never masked."""
        self.chat = self.chat or ChatPieces.from_tokenizer(self.tokenizer)
        fill = self.fill_id if self.cfg.eos_fill else None
        return self.feature(prompt_ids, answer_ids + [self.chat.end_of_turn], fill)

    def collate(self, features: list[dict]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        filled = []
        for f in features:
            extra = length - len(f["input_ids"])
            if f.get("fill_id", -1) >= 0 and extra:
                ids = [f["fill_id"]] * extra
                f = {**f, "input_ids": f["input_ids"] + ids, "labels": f["labels"] + ids,
                     "maskable": f["maskable"] + [True] * extra, "target": f["target"] + [True] * extra}
            filled.append(f)
        return collate(filled, self.tokenizer.pad_token_id)  # packed rows carry no fill_id (no eos_fill)

    # --- loss ----------------------------------------------------------------------------------

    def sample_t(self, generator: torch.Generator, batch_size: int = 1) -> torch.Tensor:
        """(B, 1) mask ratios: one for the whole batch (as published), or one per sequence (LLaDA)."""
        draws = batch_size if self.cfg.t_per == "sequence" else 1
        return draw_mask_ratio(self.cfg, generator, draws)[:, None].expand(batch_size, 1)

    @staticmethod
    def packed_sequences(batch: dict) -> tuple[torch.Tensor, int]:
        """Packed rows: (B, L) index of the training sequence at each position across the batch
        (-1 for padding), and the number of sequences."""
        segment = batch["segment"]
        per_row = segment.max(dim=1).values + 1  # (B,)
        offset = per_row.cumsum(0) - per_row
        return torch.where(segment >= 0, segment + offset[:, None], -1), int(per_row.sum())

    def corrupt(self, batch: dict, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (noisy input_ids, masked positions (B, L) bool, t: (B, 1), or (B, L) for packed rows)."""
        maskable = batch["maskable"]
        # 1. t per batch (or per sequence; a packed row holds several sequences)
        if "segment" in batch:
            ids, n = self.packed_sequences(batch)
            draws = draw_mask_ratio(self.cfg, generator, n if self.cfg.t_per == "sequence" else 1)
            t = draws[ids.clamp(min=0).cpu()] if self.cfg.t_per == "sequence" else draws.expand(maskable.shape)
        else:
            t = self.sample_t(generator, maskable.shape[0])
        # 2. each maskable token independently with probability t (drawn on CPU: same masks on any device)
        masked = (torch.rand(maskable.shape, generator=generator) < t).to(maskable.device) & maskable
        # 3. replace with the mask token
        noisy = batch["input_ids"].masked_fill(masked, self.mask_id)
        return noisy, masked, t

    def weighted_loss(self, logits: torch.Tensor, batch: dict, masked: torch.Tensor, t) -> torch.Tensor:
        """logits (B, L, V) aligned with the input; cross-entropy at masked positions, weight 1/t
        (t a float, (B, 1), or (B, L) for packed rows, whose sequences are normalized one by one)."""
        per_token = F.cross_entropy(logits.float().transpose(1, 2), batch["labels"].masked_fill(~masked, IGNORE),
                                    ignore_index=IGNORE, reduction="none")  # (B, L), 0 where not masked
        weighted = per_token / (t.to(per_token.device) if torch.is_tensor(t) else t)
        if "segment" in batch and self.cfg.normalize == "sequence":
            ids, n = self.packed_sequences(batch)
            real = ids >= 0
            sums = weighted.new_zeros(n).index_add_(0, ids[real], weighted[real])
            counts = weighted.new_zeros(n).index_add_(0, ids[real], batch["maskable"][real].to(weighted.dtype))
            return (sums / counts.clamp(min=1)).mean()
        n_maskable = batch["maskable"].sum(dim=1).clamp(min=1)  # (B,)
        if self.cfg.normalize == "sequence":
            return (weighted.sum(dim=1) / n_maskable).mean()
        if self.cfg.normalize == "token":
            return weighted.sum() / n_maskable.sum()
        return weighted.sum() / masked.numel()  # batch: B x L

    def compute_loss(self, model, batch, generator):
        noisy, masked, t = self.corrupt(batch, generator)
        logits = self.adapter.denoiser_logits(model, noisy, batch["attention_mask"], packed=batch)
        loss = self.weighted_loss(logits, batch, masked, t)
        n_maskable = int(batch["maskable"].sum())
        return loss, {"mask_t": float(t.mean()), "mask_ratio": float(masked.sum()) / max(n_maskable, 1),
                      "loss_tokens": int(masked.sum())}
