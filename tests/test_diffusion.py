"""Masked diffusion: attention direction, the mdm objective's masking and loss, the model adapter,
and the sampler (pinned on a model that deterministically predicts a known sequence)."""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F
from conftest import make_model

from kinject.config import EvalConfig, ModelConfig, ObjectiveConfig
from kinject.errors import KinjectError
from kinject.evaluation.diffusion import DiffusionSampler, block_steps, diffusion_generate_batch, split_evenly
from kinject.models.adapter import LLADA_MASK_ID, ModelAdapter, model_family, resolve_adapter
from kinject.models.mask_token import MaskToken
from kinject.objectives import MaskedDiffusionObjective
from kinject.objectives.base import IGNORE, ChatPieces, encode_text


def bidirectional_model(vocab: int, seed: int = 0):
    model = make_model(vocab, seed)
    model.config.is_causal = False  # set before building: what model.bidirectional does
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(model.config).eval()


def adapter_for(model, tokenizer, **model_kwargs) -> ModelAdapter:
    return resolve_adapter(model, tokenizer, ModelConfig(name="x", **model_kwargs), needs_mask=True)


# --- attention ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [True, False])
def test_later_token_changes_earlier_logits_only_when_bidirectional(tokenizer, bidirectional):
    model = bidirectional_model(len(tokenizer)) if bidirectional else make_model(len(tokenizer)).eval()
    ids = torch.tensor([encode_text(tokenizer, "Daphne Barrington is known for being a director.")])
    changed = ids.clone()
    changed[0, -2] = (changed[0, -2] + 7) % len(tokenizer)
    with torch.no_grad():
        delta = (model(ids).logits[0, :-2] - model(changed).logits[0, :-2]).abs().max().item()
    assert (delta > 1e-4) == bidirectional


def test_bidirectional_option_builds_bidirectional_model(tiny_model_dir):
    from kinject.models.loading import load_model_and_tokenizer

    model, tok, _ = load_model_and_tokenizer(ModelConfig(name=str(tiny_model_dir), bidirectional=True))
    adapter = resolve_adapter(model, tok, ModelConfig(name="x", bidirectional=True), needs_mask=True)
    assert model.config.is_causal is False and adapter.family == "bidirectional" and adapter.is_diffusion
    assert adapter.mask_id is not None and not adapter.shifted_logits
    causal, tok2, _ = load_model_and_tokenizer(ModelConfig(name=str(tiny_model_dir)))
    assert resolve_adapter(causal, tok2, ModelConfig(name="x"), needs_mask=False).family == "causal"


# --- adapter -----------------------------------------------------------------------------------


def fake_model(model_type: str, vocab: int = 130000, **config):
    cfg = types.SimpleNamespace(model_type=model_type, **config)
    emb = types.SimpleNamespace(num_embeddings=vocab)
    return types.SimpleNamespace(config=cfg, get_input_embeddings=lambda: emb, forward=lambda input_ids, attention_mask: None)


def test_adapter_families(tokenizer):
    llada = resolve_adapter(fake_model("llada"), tokenizer, ModelConfig(name="x"), needs_mask=False)
    assert (llada.family, llada.mask_id, llada.shifted_logits, llada.attention) == ("llada", LLADA_MASK_ID, False, "bidirectional-2d")
    dream = resolve_adapter(fake_model("Dream", mask_token_id=151666), tokenizer, ModelConfig(name="x"), needs_mask=False)
    assert (dream.family, dream.mask_id, dream.shifted_logits, dream.attention) == ("dream", 151666, True, "bidirectional-4d")
    own = resolve_adapter(fake_model("llada", mask_token_id=5), tokenizer, ModelConfig(name="x", mask_id=7), needs_mask=False)
    assert own.mask_id == 7  # the config option wins over the model config
    forced = resolve_adapter(fake_model("llada"), tokenizer, ModelConfig(name="x", shifted_logits="true"), needs_mask=False)
    assert forced.shifted_logits
    with pytest.raises(KinjectError, match="model.mask_id"):
        resolve_adapter(fake_model("llada", vocab=100), tokenizer, ModelConfig(name="x", mask_id=500), needs_mask=False)
    assert model_family(types.SimpleNamespace(model_type="llama", is_causal=False)) == "bidirectional"
    assert model_family(types.SimpleNamespace(model_type="llama")) == "causal"


class Recorder(torch.nn.Module):
    """Records the keyword arguments it is called with; logits = one-hot of the input ids."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab, self.calls = vocab, []

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        self.calls.append({"attention_mask": attention_mask, "position_ids": position_ids})
        return types.SimpleNamespace(logits=F.one_hot(input_ids, self.vocab).float())


def test_dream_adapter_unshifts_logits_and_passes_4d_mask_and_positions():
    adapter = ModelAdapter("dream", MaskToken("m", 9, False), shifted_logits=True, attention="bidirectional-4d",
                           takes_position_ids=True)
    model = Recorder(10)
    ids = torch.tensor([[0, 0, 4, 5, 6]])
    mask = torch.tensor([[0, 0, 1, 1, 1]])
    out = adapter.denoiser_logits(model, ids, mask)
    # position i now holds what position i-1 predicted
    assert out.argmax(-1).tolist() == [[0, 0, 0, 4, 5]]
    call = model.calls[0]
    assert call["attention_mask"].shape == (1, 1, 5, 5) and call["attention_mask"].dtype == torch.bool
    assert not call["attention_mask"][0, 0, 2, 0] and call["attention_mask"][0, 0, 2, 4]
    assert call["position_ids"].tolist() == [[0, 0, 0, 1, 2]]


# --- the mdm objective -------------------------------------------------------------------------


@pytest.fixture()
def mdm_setup(tokenizer):
    model = bidirectional_model(len(tokenizer))
    adapter = adapter_for(model, tokenizer)
    return model, adapter


def make_mdm(tokenizer, adapter, **cfg) -> MaskedDiffusionObjective:
    return MaskedDiffusionObjective(ObjectiveConfig(name="mdm", **cfg), tokenizer, adapter.mask_id, adapter=adapter)


def test_mdm_pretrain_form_never_masks_bos_and_may_mask_eos(tokenizer, mdm_setup):
    _, adapter = mdm_setup
    obj = make_mdm(tokenizer, adapter, fixed_t=1.0)
    doc = encode_text(tokenizer, "Zorblat Quennic invented the silver kettle.")
    batch = obj.collate([obj.build(doc), obj.build(doc[:4])])
    noisy, masked, t = obj.corrupt(batch, torch.Generator().manual_seed(0))
    assert (t == 1.0).all()
    assert batch["input_ids"][0, 0] == tokenizer.bos_token_id and not masked[:, 0].any()
    assert masked[0, 1 : len(doc) + 2].all()  # every document token and the EOS
    assert batch["input_ids"][0, len(doc) + 1] == tokenizer.eos_token_id
    assert not masked[1, 6:].any()  # padding is never masked
    assert (noisy[masked] == adapter.mask_id).all() and (noisy[~masked] == batch["input_ids"][~masked]).all()


def test_mdm_sft_form_never_masks_the_prompt(tokenizer, mdm_setup):
    _, adapter = mdm_setup
    obj = make_mdm(tokenizer, adapter, format="chat")
    chat = ChatPieces.from_tokenizer(tokenizer)
    prompt = chat.prompt_ids(tokenizer, "Who is known for this?")
    answer = encode_text(tokenizer, "Daphne Barrington")
    batch = obj.collate([obj.build_pair(prompt, answer)] * 8)
    for seed in range(20):
        _, masked, _ = obj.corrupt(batch, torch.Generator().manual_seed(seed))
        assert not masked[:, : len(prompt)].any()
    assert batch["maskable"][0].tolist() == [False] * len(prompt) + [True] * (len(answer) + 1)
    assert batch["labels"][0, len(prompt) + len(answer)] == chat.end_of_turn
    assert (batch["labels"][0, : len(prompt)] == IGNORE).all()


def test_eos_fill_pads_answers_with_maskable_eos(tokenizer, mdm_setup):
    _, adapter = mdm_setup
    obj = make_mdm(tokenizer, adapter, format="chat", eos_fill=True)
    chat = ChatPieces.from_tokenizer(tokenizer)
    prompt = chat.prompt_ids(tokenizer, "Q?")
    short, long = obj.build_pair(prompt, encode_text(tokenizer, "A")), obj.build_pair(prompt, encode_text(tokenizer, "A much longer answer"))
    batch = obj.collate([short, long])
    n = len(short["input_ids"])
    assert batch["attention_mask"][0].all()  # filled, not padded
    assert (batch["input_ids"][0, n:] == tokenizer.eos_token_id).all() and batch["maskable"][0, n:].all()
    assert (batch["labels"][0, n:] == tokenizer.eos_token_id).all()


def hand_loss(logits, labels, masked, maskable, t, normalize):
    """Straight loops: the definitions of masked-diffusion fine-tuning (LLaDA; arXiv 2510.09885)."""
    B, L, _ = logits.shape
    per_row, total = [], 0.0
    for b in range(B):
        row = 0.0
        for i in range(L):
            if masked[b, i]:
                row += -torch.log_softmax(logits[b, i], -1)[labels[b, i]].item() / t
        per_row.append(row / max(int(maskable[b].sum()), 1))
        total += row
    if normalize == "sequence":
        return sum(per_row) / B
    if normalize == "token":
        return total / int(maskable.sum())
    return total / (B * L)


@pytest.mark.parametrize("normalize", ["sequence", "token", "batch"])
def test_mdm_loss_normalizations_match_hand_computation(tokenizer, mdm_setup, normalize):
    _, adapter = mdm_setup
    obj = make_mdm(tokenizer, adapter, normalize=normalize)
    feats = [obj.build(encode_text(tokenizer, "Daphne Barrington directs.")), obj.build(encode_text(tokenizer, "Uriah"))]
    batch = obj.collate(feats)
    g = torch.Generator().manual_seed(3)
    _, masked, t = obj.corrupt(batch, g)
    logits = torch.randn(*batch["input_ids"].shape, len(tokenizer), generator=torch.Generator().manual_seed(1))
    got = obj.weighted_loss(logits, batch, masked, t).item()
    want = hand_loss(logits, batch["labels"], masked, batch["maskable"], t, normalize)
    assert got == pytest.approx(want, rel=1e-5)


def test_mdm_loss_weight_is_one_over_t(tokenizer, mdm_setup):
    _, adapter = mdm_setup
    obj = make_mdm(tokenizer, adapter)
    batch = obj.collate([obj.build(encode_text(tokenizer, "Daphne Barrington directs."))])
    masked = batch["maskable"].clone()
    logits = torch.randn(*batch["input_ids"].shape, len(tokenizer))
    at_half, at_quarter = obj.weighted_loss(logits, batch, masked, 0.5), obj.weighted_loss(logits, batch, masked, 0.25)
    assert at_quarter.item() == pytest.approx(2 * at_half.item(), rel=1e-6)
    unweighted = F.cross_entropy(logits[masked], batch["labels"][masked], reduction="sum") / masked.sum()
    assert at_half.item() == pytest.approx(unweighted.item() / 0.5, rel=1e-5)  # one row: per-sequence = per-token


def test_mdm_loss_is_only_on_masked_positions(tokenizer, mdm_setup):
    model, adapter = mdm_setup
    obj = make_mdm(tokenizer, adapter, fixed_t=0.5)
    batch = obj.collate([obj.build(encode_text(tokenizer, "Daphne Barrington is known for being a director."))])
    _, masked, t = obj.corrupt(batch, torch.Generator().manual_seed(0))
    logits = torch.randn(*batch["input_ids"].shape, len(tokenizer), requires_grad=True)
    obj.weighted_loss(logits, batch, masked, t).backward()
    has_grad = logits.grad.abs().sum(-1) > 0
    assert torch.equal(has_grad, masked)


def test_t_per_sequence_draws_one_ratio_per_row_and_weights_each_row_by_it(tokenizer, mdm_setup):
    _, adapter = mdm_setup
    per_batch = make_mdm(tokenizer, adapter).sample_t(torch.Generator().manual_seed(0), 6)
    per_row = make_mdm(tokenizer, adapter, t_per="sequence").sample_t(torch.Generator().manual_seed(0), 6)
    assert per_batch.shape == per_row.shape == (6, 1)
    assert len(set(per_batch.flatten().tolist())) == 1 and len(set(per_row.flatten().tolist())) == 6
    assert ((per_row >= 0.05) & (per_row <= 0.95)).all()
    obj = make_mdm(tokenizer, adapter, t_per="sequence", normalize="sequence")
    doc = encode_text(tokenizer, "Daphne Barrington directs.")
    batch = obj.collate([obj.build(doc), obj.build(doc)])
    masked = batch["maskable"].clone()
    logits = torch.randn(*batch["input_ids"].shape, len(tokenizer))
    logits[1] = logits[0]
    both = obj.weighted_loss(logits, batch, masked, torch.tensor([[0.5], [0.25]]))
    one = obj.weighted_loss(logits[:1], {k: v[:1] for k, v in batch.items()}, masked[:1], 0.5)
    assert both.item() == pytest.approx((one.item() + 2 * one.item()) / 2, rel=1e-5)


def test_mdm_needs_a_bidirectional_model(tokenizer):
    causal = make_model(len(tokenizer))
    adapter = resolve_adapter(causal, tokenizer, ModelConfig(name="x"), needs_mask=True)
    with pytest.raises(ValueError, match="bidirectional"):
        MaskedDiffusionObjective(ObjectiveConfig(name="mdm"), tokenizer, adapter.mask_id, adapter=adapter)


# --- the sampler -------------------------------------------------------------------------------


class Oracle(torch.nn.Module):
    """Predicts SEQUENCE[position] at every position, more confidently at later positions.

    Positions come from position_ids (or the attention mask), so left padding does not move them."""

    def __init__(self, sequence: list[int], vocab: int, shifted: bool = False):
        super().__init__()
        self.sequence, self.vocab, self.shifted = torch.tensor(sequence), vocab, shifted
        self.device_anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        B, L = input_ids.shape
        positions = position_ids if position_ids is not None else torch.arange(L).expand(B, L)
        if self.shifted:
            positions = positions + 1  # Dream-style: position i predicts token i+1
        target = self.sequence[positions.clamp(max=len(self.sequence) - 1)]
        logits = torch.zeros(B, L, self.vocab)
        logits.scatter_(2, target[..., None], 1.0 + positions[..., None].float() % 5)  # varied confidence
        return types.SimpleNamespace(logits=logits)


VOCAB, MASK, STOP, PAD = 40, 39, 38, 0


def oracle_sequence(length=64) -> list[int]:
    g = torch.Generator().manual_seed(0)
    seq = torch.randint(1, 30, (length,), generator=g).tolist()
    seq[30] = STOP
    return seq


@pytest.mark.parametrize("block_length", [1, 3, 4, 8, 32])
@pytest.mark.parametrize("remasking", ["low_confidence", "random"])
def test_sampler_recovers_a_known_sequence(block_length, remasking):
    seq = oracle_sequence()
    model = Oracle(seq, VOCAB)
    adapter = ModelAdapter("bidirectional", MaskToken("m", MASK, False), False, "bidirectional-2d", True)
    sampler = DiffusionSampler(adapter, steps=32, block_length=block_length, remasking=remasking)
    prompts = [seq[:5], seq[:9], seq[:12]]
    out = diffusion_generate_batch(model, sampler, prompts, PAD, [STOP], 32, torch.Generator().manual_seed(0))
    for prompt, got in zip(prompts, out):
        want = seq[len(prompt) : len(prompt) + 32]
        want = want[: want.index(STOP)] if STOP in want else want
        assert got == want


def test_sampler_handles_shifted_logits():
    seq = oracle_sequence()
    adapter = ModelAdapter("dream", MaskToken("m", MASK, False), True, "bidirectional-2d", True)
    out = diffusion_generate_batch(Oracle(seq, VOCAB, shifted=True), DiffusionSampler(adapter, steps=16, block_length=4),
                                   [seq[:10]], PAD, [STOP], 16, torch.Generator())
    assert out == [seq[10:26]]


def test_schedules():
    assert split_evenly(torch.tensor([5, 4, 0]), 2).tolist() == [[3, 2], [2, 2], [0, 0]]
    assert block_steps(10, 4, 6) == [(0, 4, 2), (4, 8, 2), (8, 10, 2)]
    assert sum(n for *_, n in block_steps(128, 4, 128)) == 128


def test_sampler_stops_rows_early_without_changing_outputs():
    seq = oracle_sequence()
    model = Oracle(seq, VOCAB)
    calls = []
    original = model.forward

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    model.forward = counting
    adapter = ModelAdapter("bidirectional", MaskToken("m", MASK, False), False, "bidirectional-2d", True)
    out = diffusion_generate_batch(model, DiffusionSampler(adapter, steps=64, block_length=4), [seq[:26]], PAD,
                                   [STOP], 64, torch.Generator())
    assert out == [seq[26:30]]
    # the stop token is the 5th generated token: blocks 1 and 2 (4 steps each) of 16, then the row ends
    assert len(calls) == 8


def test_batched_sampling_equals_one_at_a_time(tokenizer):
    from kinject.evaluation.diffusion import diffusion_generate
    from kinject.evaluation.qa import stop_ids

    model = bidirectional_model(len(tokenizer), seed=1)
    adapter = adapter_for(model, tokenizer)
    sampler = DiffusionSampler.from_config(EvalConfig(steps=12, block_length=4), adapter)
    chat = ChatPieces.from_tokenizer(tokenizer)
    prompts = [chat.prompt_ids(tokenizer, q) for q in
               ["Who is Daphne?", "What is Daphne Barrington known for?", "Tell me a fact.", "Who?"]]
    stops = stop_ids(tokenizer)
    batched = diffusion_generate(model, tokenizer, sampler, prompts, stops, batch_size=4, max_new_tokens=12, progress=False)
    single = [diffusion_generate(model, tokenizer, sampler, [p], stops, batch_size=1, max_new_tokens=12, progress=False)[0]
              for p in prompts]
    assert batched == single
    assert any(batched)  # a random model still writes something


# --- remote-code checkpoints -------------------------------------------------------------------


def test_remote_code_checkpoints_need_consent(tmp_path):
    from kinject.models.loading import load_model_and_tokenizer

    (tmp_path / "config.json").write_text(
        '{"model_type": "llada", "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig", '
        '"AutoModelForCausalLM": "modeling_llada.LLaDAModelLM"}}')
    with pytest.raises(KinjectError, match="set model.trust_remote_code=true"):
        load_model_and_tokenizer(ModelConfig(name=str(tmp_path)))


def test_dream_style_checkpoints_load_with_automodel():
    from transformers import AutoModel, AutoModelForCausalLM

    from kinject.models.loading import _model_class

    dream = types.SimpleNamespace(auto_map={"AutoConfig": "c.DreamConfig", "AutoModel": "m.DreamModel"})
    llada = types.SimpleNamespace(auto_map={"AutoModelForCausalLM": "m.LLaDAModelLM", "AutoModel": "m.LLaDAModelLM"})
    assert _model_class(dream) is AutoModel
    assert _model_class(llada) is AutoModelForCausalLM
    assert _model_class(types.SimpleNamespace()) is AutoModelForCausalLM


def test_shifted_logits_without_bos_never_mask_position_zero(tokenizer):
    adapter = ModelAdapter("dream", MaskToken("m", 3, False), True, "bidirectional-4d", True)
    no_bos = types.SimpleNamespace(bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                                   pad_token_id=tokenizer.pad_token_id)
    obj = MaskedDiffusionObjective(ObjectiveConfig(name="mdm"), no_bos, 3, adapter=adapter)
    feature = obj.build([10, 11, 12])
    assert feature["input_ids"] == [10, 11, 12, tokenizer.eos_token_id]
    assert feature["maskable"] == [False, True, True, True]
