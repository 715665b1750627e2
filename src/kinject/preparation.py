"""Before a run trains: its data, its objective on its model, and its training sequences.

`check_run` does all of it without loading weights (the model on the meta device), so that
`kinject run` can check every run of a config before the first one starts; `run_one` then does the
same steps for real with the loaded model.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from pathlib import Path

from kinject import distributed
from kinject.augment.training_set import TrainingText, build_training_set
from kinject.config import Config
from kinject.data.generated import materialize, preview
from kinject.data.loaders import load_knowledge_set
from kinject.data.schema import KnowledgeSet
from kinject.errors import KinjectError
from kinject.models.loading import log


def link_questions(ks: KnowledgeSet) -> KnowledgeSet:
    """Published test files carry no document ids; their questions come in equal consecutive
    blocks per document, in document order, so the block index names the document."""
    if not ks.documents or any(q.doc_id for q in ks.questions):
        return ks
    per_doc, rest = divmod(len(ks.questions), len(ks.documents))
    if rest or not per_doc:
        return ks
    questions = [replace(q, doc_id=ks.documents[i // per_doc].id) for i, q in enumerate(ks.questions)]
    return KnowledgeSet(ks.documents, questions)


def documents_path(cfg: Config) -> str:
    """paraphrase.output holds data.train's documents with generated paraphrases, once written."""
    return cfg.paraphrase.output or cfg.data.train


REFUSE_HINT = "move it away, or set data.generated_dir to another directory"


def generated_set(cfg: Config):
    """The set data.generate_people / data.generate_problems asks for, or None."""
    d = cfg.data
    if cfg.world.dir or d.corpus:
        return None
    if cfg.task == "math" and d.generate_problems:
        from kinject.math.generate import math_set

        return math_set(d.generate_problems, d.generate_test_problems, d.generate_seed)
    if cfg.task == "knowledge" and d.generate_people:
        from kinject.data.generate import name_description_set

        return name_description_set(d.generate_people, d.generate_seed)
    return None


@contextlib.contextmanager
def data_files(cfg: Config, write: bool = True):
    """(train file, test file) to read: the user's own files, or the generated set in
    data.generated_dir, brought up to date first (write=True) or previewed without writing (the
    pre-run check)."""
    generated = generated_set(cfg)
    if generated is None:
        yield cfg.data.train, cfg.data.test
        return
    directory = Path(cfg.data.generated_dir)
    if write:
        written = materialize(directory, generated, REFUSE_HINT)
        if written:
            log(f"generated {', '.join(written)} into {directory} ({generated.generator}, {generated.settings})")
        yield cfg.data.train, cfg.data.test
        return
    with preview(directory, generated, REFUSE_HINT) as readable:
        yield tuple(str(readable / name) for name in generated.files)


def prepare_math(cfg: Config, write: bool = True):
    """task=math: (train items, test items)."""
    from kinject.math.data import load_math

    with data_files(cfg, write) as (train_path, test_path):
        train, test = load_math(train_path), load_math(test_path)
    if cfg.eval.max_questions is not None:
        test = test[: cfg.eval.max_questions]
    return train, test


def prepare_data(cfg: Config, write: bool = True):
    """The run's data; write=False (the pre-run check) writes nothing, not even generated data."""
    if cfg.task == "math":
        return prepare_math(cfg, write)
    d = cfg.data
    if d.corpus:  # documents stream from the corpus; only the questions are loaded here
        from kinject.data.loaders import load_questions

        questions = load_questions(d.test)[: cfg.eval.max_questions]
        if not questions:
            raise KinjectError(f"{d.test}: no questions left to evaluate")
        return KnowledgeSet([], questions)
    with data_files(cfg, write) as (train, test):
        documents = cfg.paraphrase.output or train
        ks = link_questions(load_knowledge_set(documents, test, d.paraphrases, d.permuted_paraphrases))
    if d.max_documents is not None:
        n, total = min(d.max_documents, len(ks.documents)), len(ks.documents)
        picks = range(n) if d.pick == "first" else [round(i * total / n) for i in range(n)]
        kept = [ks.documents[i] for i in picks]
        ids = {doc.id for doc in kept}
        if any(not q.doc_id for q in ks.questions):
            raise KinjectError(f"{d.test}: data.max_documents needs questions linked to documents (field 'doc_id')")
        ks = KnowledgeSet(kept, [q for q in ks.questions if q.doc_id in ids])
    if cfg.eval.max_questions is not None:
        ks = KnowledgeSet(ks.documents, ks.questions[: cfg.eval.max_questions])
    if not ks.questions:
        raise KinjectError(f"{d.test}: no questions left to evaluate")
    return ks


def build_sft_features(items, objective, max_length: int, source: str, limit: str = "train.max_length") -> list[dict]:
    features = []
    for i, item in enumerate(items):
        feature = objective.build_qa(item.question, item.answer)
        if len(feature["input_ids"]) > max_length:
            raise KinjectError(f"{source}: record {i}: {len(feature['input_ids'])} tokens as a {objective.name} "
                               f"training sequence, more than {limit}={max_length}")
        features.append(feature)
    return features


def build_features(texts: list[TrainingText], objective, tokenizer, max_length: int, source: str,
                   too_long: str = "error", limit: str = "train.max_length") -> tuple[list[dict], int]:
    """(one training sequence per text, chunked or truncated as data.too_long says; how many texts
    were truncated). `limit` names where max_length comes from, for the error."""
    from kinject.data.packing import fit_document, sequence_budget
    from kinject.objectives.base import encode_text

    budget = sequence_budget(objective, max_length)
    features, truncated = [], 0
    for t in texts:
        ids = encode_text(tokenizer, t.text)
        pieces = fit_document(ids, budget, too_long) if budget >= 1 else None
        if pieces is None:
            what = "field 'text'" if t.kind == "original" else f"its {t.kind} copy"
            raise KinjectError(
                f"{source}: document {t.doc_id!r}: {what}: {len(objective.build(ids)['input_ids'])} tokens as a "
                f"{objective.name} training sequence, more than {limit}={max_length}; set data.too_long=chunk or "
                "truncate")
        truncated += len(ids) > budget and too_long == "truncate"
        features += [objective.build(piece) for piece in pieces]
    return features, truncated



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


def training_features(cfg: Config, objective, tokenizer, model_config, train_items, texts, head: int | None = None):
    """(training features, what they are for summary.json): math pairs, documents, or a corpus
    (only its first `head` records when given: the check before any run starts)."""
    t, d = cfg.train, cfg.data
    max_length, limit = sequence_limit(cfg, model_config)
    if d.corpus:  # datasets.map: tokenized, chunked and packed batch by batch, memory-mapped or streamed
        from kinject.data.corpus import corpus_features, describe_corpus, load_corpus

        corpus = load_corpus(d.corpus, d.corpus_split, d.streaming)
        if head is not None:
            import datasets

            corpus = datasets.Dataset.from_list(list(itertools.islice(iter(corpus), head)))
        with distributed.main_process_first():  # the main process writes the map cache, the others read it
            features = corpus_features(corpus, objective, tokenizer, d.corpus, d.text_field, max_length, d.too_long,
                                       t.packing)
        if d.streaming:  # read the first batch now: a wrong field or a too-long document fails before any write
            next(iter(features), None)
        return features, {"corpus": d.corpus, **describe_corpus(corpus, features)}
    if train_items is not None:
        features = build_sft_features(train_items, objective, max_length, d.train, limit)
        sequences = {"training_sequences": len(features)}
    else:
        features, truncated = build_features(texts, objective, tokenizer, max_length, documents_path(cfg), d.too_long,
                                             limit)
        if truncated and head is None:
            log(f"truncated {truncated} documents to fit {limit}={max_length} (data.too_long=truncate)")
        sequences = {"training_sequences": len(features)}
        if d.too_long == "truncate":
            sequences["truncated_documents"] = truncated
    if t.packing:
        from kinject.data.packing import pack_features

        features = pack_features(features, max_length, shifted_labels=not objective.needs_bidirectional)
        sequences["packed_rows"] = len(features)
    return features, sequences


def check_run(cfg: Config) -> None:
    """Everything a run checks before it trains, without loading weights (the model is built on
    the meta device): data files, model config and tokenizer, remote code, mask token, objective,
    and the length of every training sequence. `kinject run` checks every run of a config this way
    before the first one starts."""
    from kinject.models.loading import load_skeleton

    data = prepare_data(cfg, write=False)
    skeleton, tokenizer, _ = load_skeleton(cfg.model)
    _, objective = make_objective(cfg, skeleton, tokenizer)
    if cfg.task == "math":
        training_features(cfg, objective, tokenizer, skeleton.config, data[0], [])
    else:
        texts = [] if cfg.data.corpus else build_training_set(data, cfg.data, cfg.augment, documents_path(cfg))
        training_features(cfg, objective, tokenizer, skeleton.config, None, texts, head=100)


def check_compatible(cfg: Config, objective_cls, adapter) -> None:
    """arLLM objectives need a causal model and masked diffusion a bidirectional one."""
    name = cfg.model.name
    if objective_cls.needs_bidirectional and not adapter.is_diffusion:
        raise KinjectError(f"config: key 'objective.name': 'mdm' needs a bidirectional model; '{name}' is causal "
                           "(set model.bidirectional=true, or use a LLaDA/Dream checkpoint)")
    if adapter.is_diffusion and not objective_cls.needs_bidirectional:
        raise KinjectError(f"config: key 'objective.name': '{cfg.objective.name}' trains arLLMs; '{name}' is a "
                           f"bidirectional ({adapter.family}) model: use objective.name=mdm")
    if cfg.eval.sampler == "greedy" and adapter.is_diffusion:
        raise KinjectError(f"config: key 'eval.sampler': greedy decoding needs a causal model; '{name}' is "
                           f"bidirectional ({adapter.family})")
    if cfg.eval.sampler == "diffusion" and not adapter.is_diffusion:
        raise KinjectError(f"config: key 'eval.sampler': the diffusion sampler needs a bidirectional model; "
                           f"'{name}' is causal")
