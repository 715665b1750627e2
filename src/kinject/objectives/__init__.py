"""Training objectives. Each is one small module; register new ones in OBJECTIVES."""

from kinject.objectives.base import Objective
from kinject.objectives.diffusion import MaskedDiffusionObjective
from kinject.objectives.masked import MaskedObjective
from kinject.objectives.sft import MaskedSFTObjective, SFTObjective
from kinject.objectives.standard import StandardObjective

OBJECTIVES: dict[str, type[Objective]] = {
    StandardObjective.name: StandardObjective,
    MaskedObjective.name: MaskedObjective,
    MaskedDiffusionObjective.name: MaskedDiffusionObjective,
    SFTObjective.name: SFTObjective,
    MaskedSFTObjective.name: MaskedSFTObjective,
}


def objective_class(name: str) -> type[Objective]:
    return OBJECTIVES[name]


__all__ = ["OBJECTIVES", "Objective", "objective_class", "MaskedObjective", "MaskedDiffusionObjective", "StandardObjective"]
