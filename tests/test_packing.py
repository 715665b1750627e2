"""Packing several training sequences into one row: nothing crosses from one sequence to another.

- a token's logits do not change when another sequence of its row changes, and equal the logits of
  its sequence trained alone (causal with sdpa and eager attention; bidirectional);
- the packed loss equals the unpacked loss (standard: token mean; mdm: per-sequence normalization);
- rows never exceed the length, every token is kept, positions restart per sequence.
"""

from __future__ import annotations

import pytest
import torch
from conftest import make_model

from kinject.config import ObjectiveConfig
from kinject.data.packing import chunk_document, pack_features, sequence_budget
from kinject.models.adapter import ModelAdapter
from kinject.models.mask_token import MaskToken
from kinject.objectives.base import IGNORE, encode_text
from kinject.objectives.diffusion import MaskedDiffusionObjective
from kinject.objectives.masked import MaskedObjective
from kinject.objectives.standard import StandardObjective

DOCS = ["Daphne Barrington directed a film.", "Uriah Hawthorne composed the first underwater symphony.",
        "Zorblat invented a kettle.", "Known for being the composer of a symphony, Uriah now enjoys a quiet life."]


def model_for(tokenizer, attention: str, causal: bool = True):
    model = make_model(len(tokenizer))
    model.config._attn_implementation = attention
    model.config.is_causal = causal
    return model.eval()


def bidirectional_adapter(tokenizer) -> ModelAdapter:
    return ModelAdapter("bidirectional", MaskToken("<|spare_0|>", tokenizer.convert_tokens_to_ids("<|spare_0|>"), False),
                        shifted_logits=False, attention="bidirectional-2d", takes_position_ids=True)


def standard_features(tokenizer, docs):
    obj = StandardObjective(ObjectiveConfig(format="chat"), tokenizer)
    return obj, [obj.build(encode_text(tokenizer, d)) for d in docs]


def test_rows_keep_every_token_and_restart_positions(tokenizer):
    obj, features = standard_features(tokenizer, DOCS * 3)
    longest = max(len(f["input_ids"]) for f in features)
    rows = pack_features(features, 2 * longest)
    assert len(rows) < len(features)
    assert all(len(r["input_ids"]) <= 2 * longest for r in rows)
    assert sorted(t for r in rows for t in r["input_ids"]) == sorted(t for f in features for t in f["input_ids"])
    for row in rows:
        starts = [i for i, p in enumerate(row["position_ids"]) if p == 0]
        assert starts == [i for i, s in enumerate(row["segment"]) if i == 0 or s != row["segment"][i - 1]]
        assert all(row["labels"][i] == IGNORE for i in starts)  # nothing predicts a sequence's first token
    with pytest.raises(ValueError):
        pack_features(features, longest - 1)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_causal_packed_logits_see_only_their_own_sequence(tokenizer, attention):
    model = model_for(tokenizer, attention)
    obj, features = standard_features(tokenizer, DOCS[:2])
    _, changed = standard_features(tokenizer, [DOCS[2], DOCS[1]])  # first sequence replaced
    row = obj.collate(pack_features(features, 1000))
    row_changed = obj.collate(pack_features(changed, 1000))
    with torch.no_grad():
        logits = model(input_ids=row["input_ids"], **_attention(model, row, causal=True)).logits[0]
        logits_changed = model(input_ids=row_changed["input_ids"],
                               **_attention(model, row_changed, causal=True)).logits[0]
        alone = [model(input_ids=torch.tensor([f["input_ids"]])).logits[0] for f in features]
    n0, n_changed = len(features[0]["input_ids"]), len(changed[0]["input_ids"])
    second, second_changed = logits[n0:], logits_changed[n_changed:]
    torch.testing.assert_close(second, second_changed, atol=1e-5, rtol=0)  # unaffected by the first sequence
    torch.testing.assert_close(second, alone[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[:n0], alone[0], atol=1e-5, rtol=0)
    # the check can fail: without the packed mask the second sequence does see the first
    leaky = model(input_ids=row["input_ids"]).logits[0, n0:]
    assert not torch.allclose(leaky, alone[1], atol=1e-3)


def _attention(model, batch, causal):
    from kinject.objectives.base import model_attention

    return model_attention(model, batch, causal)


def test_bidirectional_packed_logits_see_only_their_own_sequence(tokenizer):
    model = model_for(tokenizer, "sdpa", causal=False)
    adapter = bidirectional_adapter(tokenizer)
    obj = MaskedDiffusionObjective(ObjectiveConfig(name="mdm", format="pretrain"), tokenizer, adapter.mask_id,
                                   adapter=adapter)
    build = [obj.build(encode_text(tokenizer, d)) for d in DOCS[:3]]
    changed = [build[0], obj.build(encode_text(tokenizer, DOCS[3])), build[2]]  # the middle one replaced
    with torch.no_grad():
        def packed_logits(features):
            batch = obj.collate(pack_features(features, 1000, shifted_labels=False))
            return adapter.denoiser_logits(model, batch["input_ids"], batch["attention_mask"], packed=batch)[0]

        def alone(feature):
            batch = obj.collate([feature])
            return adapter.denoiser_logits(model, batch["input_ids"], batch["attention_mask"])[0]

        a, b = packed_logits(build), packed_logits(changed)
    n = [len(f["input_ids"]) for f in build]
    m = [len(f["input_ids"]) for f in changed]
    # the first sequence sits before the changed one, the last after it: both unaffected
    torch.testing.assert_close(a[: n[0]], b[: m[0]], atol=1e-5, rtol=0)
    torch.testing.assert_close(a[n[0] + n[1]:], b[m[0] + m[1]:], atol=1e-5, rtol=0)
    torch.testing.assert_close(a[: n[0]], alone(build[0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(a[n[0] + n[1]:], alone(build[2]), atol=1e-5, rtol=0)


def test_packed_loss_equals_unpacked_loss(tokenizer):
    model = model_for(tokenizer, "sdpa")
    obj, features = standard_features(tokenizer, DOCS)
    g = torch.Generator()
    with torch.no_grad():
        unpacked, _ = obj.compute_loss(model, obj.collate(features), g)
        packed, _ = obj.compute_loss(model, obj.collate(pack_features(features, 1000)), g)
    torch.testing.assert_close(packed, unpacked, atol=1e-5, rtol=0)


def test_packed_mdm_normalizes_each_sequence_on_its_own(tokenizer):
    adapter = bidirectional_adapter(tokenizer)
    obj = MaskedDiffusionObjective(ObjectiveConfig(name="mdm", format="pretrain", normalize="sequence"), tokenizer,
                                   adapter.mask_id, adapter=adapter)
    features = [obj.build(encode_text(tokenizer, d)) for d in DOCS]
    unpacked, packed = obj.collate(features), obj.collate(pack_features(features, 1000, shifted_labels=False))
    torch.manual_seed(0)
    vocab = len(tokenizer)
    # the same logits and masks per sequence, laid out both ways
    per_seq = [(torch.randn(len(f["input_ids"]), vocab), torch.rand(len(f["input_ids"])) < 0.5) for f in features]
    t = torch.tensor([0.3, 0.5, 0.7, 0.9])

    def layout(batch, rows):
        logits = torch.zeros(*batch["input_ids"].shape, vocab)
        masked = torch.zeros(batch["input_ids"].shape, dtype=torch.bool)
        t_tok = torch.ones(batch["input_ids"].shape)
        for r, members in enumerate(rows):
            at = 0
            for i in members:
                n = len(features[i]["input_ids"])
                logits[r, at:at + n], masked[r, at:at + n], t_tok[r, at:at + n] = per_seq[i][0], per_seq[i][1], t[i]
                at += n
        return logits, masked & batch["maskable"], t_tok

    assert packed["input_ids"].shape[0] == 1  # one row, the sequences in their order
    la, ma, ta = layout(unpacked, [[i] for i in range(len(features))])
    lb, mb, tb = layout(packed, [list(range(len(features)))])
    torch.testing.assert_close(obj.weighted_loss(lb, packed, mb, tb), obj.weighted_loss(la, unpacked, ma, ta),
                               atol=1e-5, rtol=0)


def test_chunks_cover_the_document_and_fit(tokenizer):
    obj = MaskedObjective(ObjectiveConfig(name="masked"), tokenizer, tokenizer.convert_tokens_to_ids("<|spare_0|>"))
    ids = encode_text(tokenizer, " ".join(DOCS * 3))
    budget = sequence_budget(obj, 100)
    assert len(obj.build(ids[:budget])["input_ids"]) <= 100 < len(obj.build(ids[: budget + 1])["input_ids"])
    chunks = chunk_document(ids, budget)
    assert len(chunks) > 1 and sum(chunks, []) == ids and all(len(c) <= budget for c in chunks)
