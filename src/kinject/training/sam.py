"""Sharpness-aware minimization (SAM; Foret et al. 2021) and its adaptive variant (ASAM; Kwon et
al. 2021) around any base optimizer, as used with formatting augmentation by arXiv 2503.03705.

One step, given the gradient g at the weights w (already accumulated over micro-batches):
    1. e = rho * g / ||g||                 SAM
       e = rho * w^2 * g / ||w * g||       ASAM (element-wise; follows davda54/sam)
    2. w <- w + e
    3. second_pass(): gradients at w + e   (the trainer replays the step's micro-batches with
                                            the same masks, and clips the result)
    4. w <- the saved w                    (copied back, so the perturbation is undone exactly)
    5. base optimizer step with the gradient from 3.
Only parameters with a gradient take part, so with LoRA only adapter weights are perturbed.
rho = 0 reduces to the base optimizer (the second gradient equals the first).
"""

from __future__ import annotations

from typing import Callable

import torch


class SAM(torch.optim.Optimizer):
    def __init__(self, base: torch.optim.Optimizer, rho: float, adaptive: bool = False,
                 second_pass: Callable[[], None] | None = None):
        if rho < 0:
            raise ValueError(f"rho must be >= 0, got {rho}")
        self.base, self.rho, self.adaptive, self.second_pass = base, rho, adaptive, second_pass
        # share the base optimizer's groups and state, so LR schedulers and checkpoints see one optimizer
        super().__init__(base.param_groups, dict(base.defaults))
        self.param_groups = base.param_groups
        self.state = base.state

    def _params(self):
        return [p for group in self.param_groups for p in group["params"] if p.grad is not None]

    @torch.no_grad()
    def perturb(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Steps 1-2: move to w + e; return (parameter, saved w) pairs."""
        params = self._params()
        if not params:
            return []
        scaled = [(p.abs() if self.adaptive else 1.0) * p.grad for p in params]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(s.float()) for s in scaled]))
        scale = self.rho / (norm + 1e-12)
        saved = []
        for p in params:
            saved.append((p, p.detach().clone()))
            e = (p.pow(2) if self.adaptive else 1.0) * p.grad * scale.to(p.dtype)
            p.add_(e)
        return saved

    @torch.no_grad()
    def restore(self, saved) -> None:
        for p, w in saved:
            p.copy_(w)

    def step(self, closure=None):
        second_pass = closure or self.second_pass
        if second_pass is None:
            raise RuntimeError("SAM needs a second_pass (or closure) that recomputes the gradients")
        saved = self.perturb()
        with torch.enable_grad():
            loss = second_pass()
        self.restore(saved)
        self.base.step()
        return loss

    def zero_grad(self, set_to_none: bool = True):
        self.base.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return self.base.state_dict()

    def load_state_dict(self, state_dict):
        self.base.load_state_dict(state_dict)


def sam_rho(train_cfg) -> float:
    """train.sam_rho, or the usual default: 0.05 for SAM, 1.0 for ASAM."""
    if train_cfg.sam_rho is not None:
        return train_cfg.sam_rho
    return 1.0 if train_cfg.sam_adaptive else 0.05
