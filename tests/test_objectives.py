"""Token-level assertions on the sequences each objective builds and the losses it computes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import make_model, make_tokenizer
from kinject.config import ObjectiveConfig
from kinject.models.mask_token import resolve_mask_token
from kinject.objectives import MaskedObjective, StandardObjective
from kinject.objectives.base import IGNORE, causal_lm_loss, encode_text
from kinject.training.trainer import step_seed

DOC = "Daphne Barrington, known far and wide for being the acclaimed director of a film."


def masked(tokenizer, **kw):
    mask = resolve_mask_token(tokenizer, None, "auto")
    return MaskedObjective(ObjectiveConfig(name="masked", **kw), tokenizer, mask.id), mask.id


def loss_positions(feature):
    return [i for i, x in enumerate(feature["labels"]) if x != IGNORE]


def test_standard_pretrain_is_bos_document_eos(tokenizer):
    doc = encode_text(tokenizer, DOC)
    f = StandardObjective(ObjectiveConfig(format="pretrain"), tokenizer).build(doc)
    assert f["input_ids"] == [tokenizer.bos_token_id] + doc + [tokenizer.eos_token_id]
    assert f["labels"] == [IGNORE] + doc + [tokenizer.eos_token_id]
    assert not any(f["maskable"])


def test_standard_chat_puts_document_in_assistant_turn(tokenizer):
    doc = encode_text(tokenizer, DOC)
    f = StandardObjective(ObjectiveConfig(format="chat"), tokenizer).build(doc)
    expected = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Tell me a fact."}, {"role": "assistant", "content": DOC}], tokenize=False)
    assert tokenizer.decode(f["input_ids"]) + "\n" == expected
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert [x for x in f["labels"] if x != IGNORE] == doc + [im_end]
    assert loss_positions(f) == list(range(len(f["input_ids"]) - len(doc) - 1, len(f["input_ids"])))


def test_masked_layout_copy_in_user_turn_loss_on_original_and_end_of_turn(tokenizer):
    obj, _ = masked(tokenizer)
    doc = encode_text(tokenizer, DOC)
    f = obj.build(doc)
    text = tokenizer.decode(f["input_ids"])
    assert text == (f"<|im_start|>user\n{DOC}\nReturn the recovered masked passage.<|im_end|>\n"
                    f"<|im_start|>assistant\nHere is the recovered text:\n\n{DOC}<|im_end|>")
    maskable = [i for i, m in enumerate(f["maskable"]) if m]
    assistant_start = text.index("<|im_start|>assistant")
    # the maskable span is exactly the document copy, and it lies in the user turn
    assert [f["input_ids"][i] for i in maskable] == doc
    assert len(tokenizer.decode(f["input_ids"][: maskable[-1] + 1])) < assistant_start
    # loss: the original document in the assistant turn plus <|im_end|>, nothing else
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert [f["labels"][i] for i in loss_positions(f)] == doc + [im_end]
    assert loss_positions(f)[0] > maskable[-1]
    assert "recovered" not in tokenizer.decode([x for x in f["labels"] if x != IGNORE])


@pytest.mark.parametrize("seed", range(5))
def test_masking_corrupts_only_the_prompt_copy_and_never_leaks_into_labels(tokenizer, seed):
    obj, mask_id = masked(tokenizer)
    docs = [encode_text(tokenizer, DOC), encode_text(tokenizer, DOC[:30])]
    batch = obj.collate([obj.build(d) for d in docs])
    out, stats = obj.corrupt(batch, torch.Generator().manual_seed(seed))
    changed = out["input_ids"] != batch["input_ids"]
    assert not (changed & ~batch["maskable"]).any()  # nothing outside the copy changes
    assert (out["input_ids"][changed] == mask_id).all()
    assert (out["labels"] == batch["labels"]).all()  # loss_on=all: labels untouched
    assert not (out["labels"] == mask_id).any()
    assert 0.05 <= stats["mask_t"] <= 0.95


def test_document_containing_the_mask_string_stays_plain_text(tokenizer):
    obj, mask_id = masked(tokenizer)
    f = obj.build(encode_text(tokenizer, "A note about <|spare_0|> and <|im_end|> tokens."))
    assert mask_id not in f["labels"] and mask_id not in f["input_ids"]
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert f["labels"].count(im_end) == 1  # only the real end-of-turn


def test_mask_ratio_statistics_uniform_t(tokenizer):
    obj, mask_id = masked(tokenizer)
    long_doc = encode_text(tokenizer, " ".join([DOC] * 6))
    batch = obj.collate([obj.build(long_doc)])
    ts, gaps = [], []
    for seed in range(400):
        out, stats = obj.corrupt(batch, torch.Generator().manual_seed(seed))
        ts.append(stats["mask_t"])
        gaps.append(stats["mask_ratio"] - stats["mask_t"])
    ts = torch.tensor(ts)
    assert ts.min() >= 0.05 and ts.max() <= 0.95
    assert abs(ts.mean().item() - 0.5) < 0.04  # Uniform(0.05, 0.95) has mean 0.5, sd 0.26
    assert abs(ts.std().item() - 0.26) < 0.03
    assert abs(torch.tensor(gaps).mean().item()) < 0.01  # realized ratio tracks t


def test_fixed_t_mask_ratio(tokenizer):
    obj, _ = masked(tokenizer, fixed_t=0.75)
    batch = obj.collate([obj.build(encode_text(tokenizer, DOC))] * 8)
    ratios = []
    for seed in range(100):
        _, stats = obj.corrupt(batch, torch.Generator().manual_seed(seed))
        assert stats["mask_t"] == 0.75
        ratios.append(stats["mask_ratio"])
    assert abs(sum(ratios) / len(ratios) - 0.75) < 0.01


@pytest.mark.parametrize("eot_loss", [True, False])
def test_loss_on_masked_keeps_exactly_the_masked_positions(tokenizer, eot_loss):
    obj, mask_id = masked(tokenizer, loss_on="masked", fixed_t=0.5, eot_loss=eot_loss)
    docs = [encode_text(tokenizer, DOC), encode_text(tokenizer, DOC[:40])]
    batch = obj.collate([obj.build(d) for d in docs])
    out, _ = obj.corrupt(batch, torch.Generator().manual_seed(3))
    for row in range(2):
        copy = out["input_ids"][row][batch["maskable"][row]]
        target_labels = out["labels"][row][batch["target"][row]]
        was_masked = copy == mask_id
        assert was_masked.any() and (~was_masked).any()
        assert (target_labels[was_masked] != IGNORE).all()
        assert (target_labels[~was_masked] == IGNORE).all()
        # + the end-of-turn token unless eot_loss is off
        assert int((out["labels"][row] != IGNORE).sum()) == int(was_masked.sum()) + int(eot_loss)


def test_random_token_control_replaces_the_whole_copy(tokenizer):
    obj, mask_id = masked(tokenizer, corruption="random_tokens")
    doc = encode_text(tokenizer, DOC)
    batch = obj.collate([obj.build(doc)])
    out, _ = obj.corrupt(batch, torch.Generator().manual_seed(0))
    copy = out["input_ids"][0][batch["maskable"][0]]
    assert not (copy == mask_id).any()
    assert not any(int(x) in tokenizer.all_special_ids for x in copy)
    assert (copy != torch.tensor(doc)).float().mean() > 0.8
    assert (out["labels"] == batch["labels"]).all()


def test_masks_are_deterministic_per_step_and_differ_across_processes(tokenizer):
    obj, _ = masked(tokenizer)
    batch = obj.collate([obj.build(encode_text(tokenizer, DOC))])

    def draw(process, step):
        out, _ = obj.corrupt(batch, torch.Generator().manual_seed(step_seed(0, process, step, 0)))
        return out["input_ids"]

    assert torch.equal(draw(0, 5), draw(0, 5))
    assert not torch.equal(draw(0, 5), draw(1, 5))
    assert not torch.equal(draw(0, 5), draw(0, 6))


def test_loss_is_cross_entropy_on_label_positions_only(tokenizer):
    model = make_model(len(tokenizer))
    obj = StandardObjective(ObjectiveConfig(format="chat"), tokenizer)
    batch = obj.collate([obj.build(encode_text(tokenizer, DOC)), obj.build(encode_text(tokenizer, DOC[:20]))])
    loss = causal_lm_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"])
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    terms = [F.cross_entropy(logits[b, i - 1], batch["labels"][b, i], reduction="sum")
             for b in range(2) for i in range(1, batch["labels"].shape[1]) if batch["labels"][b, i] != IGNORE]
    assert torch.allclose(loss, torch.stack(terms).mean(), atol=1e-5)
    # changing a context token changes the loss; changing a padded position does not
    padded = batch["input_ids"].clone()
    padded[1, -1] = 7
    assert batch["attention_mask"][1, -1] == 0
    assert torch.allclose(loss, causal_lm_loss(model, padded, batch["attention_mask"], batch["labels"]), atol=1e-6)


def test_mask_token_auto_uses_an_unused_special_token(tokenizer):
    model = make_model(len(tokenizer))
    mask = resolve_mask_token(tokenizer, model, "auto")
    assert (mask.token, mask.added) == ("<|spare_0|>", False)
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)


def test_mask_token_is_added_when_the_tokenizer_has_none():
    tok = make_tokenizer(spare_special=False)
    model = make_model(len(tok))
    before = len(tok)
    mask = resolve_mask_token(tok, model, "auto")
    assert mask.added and mask.token == "<|mask|>" and mask.id == before
    assert model.get_input_embeddings().num_embeddings == before + 1
    assert tok.encode("x <|mask|>", add_special_tokens=False)[-1] == mask.id
