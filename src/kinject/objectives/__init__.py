"""Training objectives: each is one module with one class, registered here by one line. Code outside
kinject registers its own with `register_objective` (see docs/extending.md)."""

from kinject.objectives.base import Objective
from kinject.objectives.diffusion import MaskedDiffusionObjective
from kinject.objectives.masked import MaskedObjective
from kinject.objectives.sft import MaskedSFTObjective, SFTObjective
from kinject.objectives.standard import StandardObjective
from kinject.registry import OBJECTIVES


def register_objective(cls: type[Objective], replace: bool = False) -> type[Objective]:
    """Make `objective.name: <cls.name>` usable; usable as a class decorator."""
    return OBJECTIVES.register(cls.name, cls, replace)


register_objective(StandardObjective)
register_objective(MaskedObjective)
register_objective(MaskedDiffusionObjective)
register_objective(SFTObjective)
register_objective(MaskedSFTObjective)


def objective_class(name: str) -> type[Objective]:
    return OBJECTIVES[name]


__all__ = ["OBJECTIVES", "Objective", "register_objective", "objective_class", "MaskedObjective",
           "MaskedDiffusionObjective", "StandardObjective"]
