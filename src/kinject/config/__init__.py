"""One config schema for every run: dataclasses with help text (schema), loaded from YAML and
overridden with dotted keys (loading, overrides), checked (validation), and described for people
(reference: `kinject config`, docs/config.md)."""

from kinject.config.loading import load_runs, naming_source, read_yaml, resolve_runs
from kinject.config.overrides import apply_overrides, parse_cli_grid, parse_cli_overrides
from kinject.config.reference import describe_schema
from kinject.config.schema import (DEFAULT_MODEL, AugmentConfig, Config, DataConfig, EvalConfig, LoraConfig,
                                   ModelConfig, ObjectiveConfig, ParaphraseConfig, TrainConfig, WorldConfig)
from kinject.config.validation import check_objective_keys, validate, validate_paraphrase
from kinject.errors import need

__all__ = ["DEFAULT_MODEL", "AugmentConfig", "Config", "DataConfig", "EvalConfig", "LoraConfig", "ModelConfig",
           "ObjectiveConfig", "ParaphraseConfig", "TrainConfig", "WorldConfig", "apply_overrides",
           "check_objective_keys", "describe_schema", "load_runs", "naming_source", "need", "parse_cli_grid",
           "parse_cli_overrides", "read_yaml", "resolve_runs", "validate", "validate_paraphrase"]
