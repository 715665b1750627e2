"""SAM / ASAM: the step equals the base optimizer's step with the gradient taken at the perturbed
point, the perturbation is undone, rho = 0 is the base optimizer; and the same holds inside the
Trainer with gradient accumulation and random masks (the second pass replays the first's masks)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from kinject.config import ObjectiveConfig, TrainConfig
from kinject.objectives.base import encode_text
from kinject.objectives.masked import MaskedObjective
from kinject.objectives.standard import StandardObjective
from kinject.training.sam import SAM
from kinject.training.trainer import KinjectTrainer, training_arguments

from conftest import make_model


def toy(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    return net, (lambda m: F.mse_loss(m(x), y))


def grads_at(net, loss_fn):
    net.zero_grad()
    loss_fn(net).backward()
    return [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_step_equals_base_step_with_perturbed_gradient(adaptive):
    rho, lr = (0.5 if adaptive else 0.05), 0.1
    net, loss_fn = toy()
    reference = copy.deepcopy(net)

    # by hand: g at w, e, g at w + e, AdamW step from w with that gradient
    w = [p.detach().clone() for p in reference.parameters()]
    g = grads_at(reference, loss_fn)
    scaled = [(wi.abs() if adaptive else 1.0) * gi for wi, gi in zip(w, g)]
    norm = torch.sqrt(sum((s ** 2).sum() for s in scaled))
    with torch.no_grad():
        for p, wi, gi in zip(reference.parameters(), w, g):
            p.add_((wi ** 2 if adaptive else 1.0) * gi * rho / norm)
    g_perturbed = grads_at(reference, loss_fn)
    with torch.no_grad():
        for p, wi in zip(reference.parameters(), w):
            p.copy_(wi)
    base_ref = torch.optim.AdamW(reference.parameters(), lr=lr, weight_decay=0.1)
    for p, gi in zip(reference.parameters(), g_perturbed):
        p.grad = gi
    base_ref.step()

    # SAM
    seen = {}

    def second_pass():
        seen["w"] = [p.detach().clone() for p in net.parameters()]
        net.zero_grad()
        loss = loss_fn(net)
        loss.backward()
        return loss

    sam = SAM(torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.1), rho, adaptive, second_pass)
    grads_at(net, loss_fn)
    sam.step()
    for p, q in zip(net.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7)
    # the second pass really ran at a perturbed point, and the step moved from w (not w + e)
    assert any(not torch.equal(a, b) for a, b in zip(seen["w"], w))
    plain, _ = toy()
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=lr, weight_decay=0.1)
    grads_at(plain, loss_fn)
    plain_opt.step()
    assert any(not torch.allclose(p, q) for p, q in zip(net.parameters(), plain.parameters()))


def test_perturbation_is_undone_exactly_and_rho_zero_is_the_base_optimizer():
    net, loss_fn = toy()
    sam = SAM(torch.optim.AdamW(net.parameters(), lr=0.1), rho=0.05)
    w = [p.detach().clone() for p in net.parameters()]
    grads_at(net, loss_fn)
    saved = sam.perturb()
    assert any(not torch.equal(p, wi) for p, wi in zip(net.parameters(), w))
    sam.restore(saved)
    assert all(torch.equal(p, wi) for p, wi in zip(net.parameters(), w))  # bitwise

    a, _ = toy()
    b, _ = toy()
    sam = SAM(torch.optim.AdamW(a.parameters(), lr=0.1), rho=0.0,
              second_pass=lambda: (a.zero_grad(), loss_fn(a).backward()))
    base = torch.optim.AdamW(b.parameters(), lr=0.1)
    for _ in range(3):
        grads_at(a, loss_fn)
        sam.step()
        grads_at(b, loss_fn)
        base.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_only_parameters_with_gradients_are_perturbed():
    net, loss_fn = toy()
    net[0].weight.requires_grad_(False)  # like a frozen base weight under LoRA
    frozen = net[0].weight.detach().clone()
    sam = SAM(torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=0.1), rho=0.5)
    net.zero_grad()
    loss_fn(net).backward()
    sam.perturb()
    assert torch.equal(net[0].weight, frozen)


# ---------------------------------------------------------------- inside the Trainer


def _features(tokenizer, objective, texts):
    return [objective.build(encode_text(tokenizer, t)) for t in texts]


# Adam's first step is about lr * sign(g): with eps 1e-8, gradient entries near 1e-8 turn float rounding
# into visible differences, so the Trainer tests use a larger eps on both sides.
EPS = 1e-4
TEXTS = ["Daphne Barrington, known far and wide for being the director of a film.",
         "Known for being the composer of the first underwater symphony, Uriah Hawthorne now enjoys a quiet life."]


def _train(tokenizer, tmp_path, objective, optimizer="adamw", rho=0.05, grad_accum=2, steps=1, clip=1.0, bf16=False):
    model = make_model(len(tokenizer), seed=0)
    cfg = TrainConfig(epochs=steps, lr=1e-2, batch_size=1, grad_accum=grad_accum, weight_decay=0.0,
                      warmup_ratio=0.0, max_grad_norm=clip, bf16=str(bf16).lower(), seed=0, optimizer=optimizer, sam_rho=rho)
    features = _features(tokenizer, objective, TEXTS)
    args = training_arguments(cfg, str(tmp_path / "trainer"), len(features))
    args.disable_tqdm = True
    args.adam_epsilon = EPS
    sam = {"rho": rho, "adaptive": False} if optimizer == "sam" else None
    trainer = KinjectTrainer(model=model, args=args, train_dataset=features, objective=objective, sam=sam)
    trainer.train()
    return model, trainer


def test_trainer_sam_with_accumulation_matches_hand_computation(tokenizer, tmp_path):
    objective = StandardObjective(ObjectiveConfig(format="pretrain"), tokenizer)
    model, trainer = _train(tokenizer, tmp_path, objective, "sam", rho=0.05, grad_accum=2, clip=0.5)
    assert trainer.pass_tokens == 2 * trainer.train_tokens  # two forward/backward passes

    ref = make_model(len(tokenizer), seed=0)
    batches = [objective.collate([f]) for f in _features(tokenizer, objective, TEXTS)]

    def accumulated_grad():
        ref.zero_grad()
        for b in batches:  # each micro-batch's mean loss / accumulation steps, summed
            loss, _ = objective.compute_loss(ref, b, torch.Generator())
            (loss / 2).backward()
        return [p.grad.clone() for p in ref.parameters()]

    w = [p.detach().clone() for p in ref.parameters()]
    g = accumulated_grad()
    norm = torch.sqrt(sum((gi ** 2).sum() for gi in g))
    with torch.no_grad():
        for p, gi in zip(ref.parameters(), g):
            p.add_(gi * 0.05 / norm)
    g2 = accumulated_grad()
    with torch.no_grad():
        for p, wi in zip(ref.parameters(), w):
            p.copy_(wi)
    for p, gi in zip(ref.parameters(), g2):
        p.grad = gi
    torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)  # clipped before the base step
    opt = torch.optim.AdamW(ref.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0, eps=EPS)
    opt.step()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=2e-6, msg=name)


@pytest.mark.parametrize("bf16", [False, True])
def test_trainer_sam_rho_zero_equals_adamw_with_random_masks(tokenizer, tmp_path, bf16):
    """The second pass must draw the first pass's masks (and run under the same autocast);
    otherwise rho = 0 would not equal AdamW."""
    objective = MaskedObjective(ObjectiveConfig(name="masked"), tokenizer, mask_id=tokenizer.convert_tokens_to_ids("<|spare_0|>"))
    sam_model, _ = _train(tokenizer, tmp_path / "a", objective, "sam", rho=0.0, steps=3, bf16=bf16)
    adamw_model, _ = _train(tokenizer, tmp_path / "b", objective, "adamw", steps=3, bf16=bf16)
    for p, q in zip(sam_model.parameters(), adamw_model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    sam_model, _ = _train(tokenizer, tmp_path / "c", objective, "sam", rho=0.05, steps=3, bf16=bf16)
    assert any(not torch.allclose(p, q, atol=1e-6) for p, q in zip(sam_model.parameters(), adamw_model.parameters()))
