"""Training-set augmentations: paraphrases (given or generated), formatting copies, reversed copies."""
