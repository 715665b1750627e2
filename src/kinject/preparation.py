"""Before a run trains: its data, its objective on its model, and its training sequences, by one
path for both the pre-run check (`check_run`: the model built on the meta device, nothing written,
not even generated data) and the run itself (`prepare` with the loaded model)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from kinject.config import Config
from kinject.data.generated import materialize, preview
from kinject.errors import KinjectError
from kinject.console import log

REFUSE_HINT = "move it away, or set data.generated_dir to another directory"


def documents_path(cfg: Config) -> str:
    """paraphrase.output holds data.train's documents with generated paraphrases, once written."""
    return cfg.paraphrase.output or cfg.data.train


@contextlib.contextmanager
def data_files(cfg: Config, write: bool = True):
    """(train file, test file) to read: the user's own files, or the generated set in
    data.generated_dir, brought up to date first (write=True) or previewed without writing."""
    from kinject.registry import TASKS

    task = TASKS[cfg.task]
    if not task.generation(cfg)[1] or cfg.world.dir or cfg.data.corpus:
        yield cfg.data.train, cfg.data.test
        return
    generated, directory = task.generated_set(cfg), Path(cfg.data.generated_dir)
    if write:
        written = materialize(directory, generated, REFUSE_HINT)
        if written:
            log(f"generated {', '.join(written)} into {directory} ({generated.generator}, {generated.settings})")
        yield cfg.data.train, cfg.data.test
        return
    with preview(directory, generated, REFUSE_HINT) as readable:
        yield tuple(str(readable / name) for name in generated.files)


@dataclass
class Prepared:
    data: object  # the task's data (kinject.tasks.*Data)
    adapter: object  # kinject.models.adapter.ModelAdapter
    objective: object  # kinject.objectives.Objective
    features: object  # list of features, or a datasets Dataset / IterableDataset
    sequences: dict  # what the training sequences are, for summary.json


def prepare(cfg: Config, model, tokenizer, write: bool = True, head: int | None = None) -> Prepared:
    """Data -> objective on the model (mask token, family) -> training sequences."""
    from kinject.registry import TASKS

    task = TASKS[cfg.task]
    data = task.load(cfg, write)
    adapter, objective = make_objective(cfg, model, tokenizer)
    features, sequences = task.features(cfg, objective, tokenizer, model.config, data, head)
    return Prepared(data, adapter, objective, features, sequences)


def check_run(cfg: Config) -> None:
    """Everything a run checks before it trains, without loading weights: data files, model config
    and tokenizer, remote code, mask token, objective, and the length of every training sequence
    (a corpus: its first 100 records). `kinject run` checks every run of a config this way first."""
    from kinject.models.loading import load_skeleton

    skeleton, tokenizer, _ = load_skeleton(cfg.model)
    prepare(cfg, skeleton, tokenizer, write=False, head=100)


def make_objective(cfg: Config, model, tokenizer):
    """(adapter, objective) for the run: model family, mask token (added if needed), the objective."""
    from kinject.models.adapter import resolve_adapter
    from kinject.objectives import objective_class

    objective_cls = objective_class(cfg.objective.name)
    adapter = resolve_adapter(model, tokenizer, cfg.model, needs_mask=objective_cls.needs_mask_token)
    check_compatible(cfg, objective_cls, adapter)
    try:
        return adapter, objective_cls(cfg.objective, tokenizer, adapter.mask_id, adapter=adapter)
    except ValueError as e:
        raise KinjectError(f"model '{cfg.model.name}': {e}") from None


def sequence_limit(cfg: Config, model_config) -> tuple[int, str]:
    """The longest training sequence: train.max_length, or the model's maximum position if smaller."""
    most = getattr(model_config, "max_position_embeddings", None)
    if isinstance(most, int) and 0 < most < cfg.train.max_length:
        return most, f"model '{cfg.model.name}' max_position_embeddings"
    return cfg.train.max_length, "train.max_length"


def check_compatible(cfg: Config, objective_cls, adapter) -> None:
    """arLLM objectives need a causal model and masked diffusion a bidirectional one."""
    name = cfg.model.name
    if objective_cls.needs_bidirectional and not adapter.is_diffusion:
        raise KinjectError(f"config: key 'objective.name': '{objective_cls.name}' needs a bidirectional model; '{name}' "
                           "is causal (set model.bidirectional=true, or use a LLaDA/Dream checkpoint)")
    if adapter.is_diffusion and not objective_cls.needs_bidirectional:
        raise KinjectError(f"config: key 'objective.name': '{cfg.objective.name}' trains arLLMs; '{name}' is a "
                           f"bidirectional ({adapter.family}) model: use objective.name=mdm")
    check_sampler(cfg, adapter)


def check_sampler(cfg: Config, adapter) -> None:
    """eval.sampler greedy needs a causal model, diffusion a bidirectional one."""
    name = cfg.model.name
    if cfg.eval.sampler == "greedy" and adapter.is_diffusion:
        raise KinjectError(f"config: key 'eval.sampler': greedy decoding needs a causal model; '{name}' is "
                           f"bidirectional ({adapter.family})")
    if cfg.eval.sampler == "diffusion" and not adapter.is_diffusion:
        raise KinjectError(f"config: key 'eval.sampler': the diffusion sampler needs a bidirectional model; "
                           f"'{name}' is causal")
