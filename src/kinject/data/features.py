"""Training sequences: the run's objective applied to every document (chunked or truncated as
data.too_long says), to every (question, answer) pair, or to a corpus through datasets.map; then
packed into rows when train.packing is on."""

from __future__ import annotations

import itertools

from kinject import distributed
from kinject.errors import KinjectError


def document_features(texts, objective, tokenizer, max_length: int, source: str, too_long: str = "error",
                      limit: str = "train.max_length") -> tuple[list[dict], int]:
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


def pair_features(items, objective, max_length: int, source: str, limit: str = "train.max_length") -> list[dict]:
    """One training sequence per (question, answer) item."""
    features = []
    for i, item in enumerate(items):
        feature = objective.build_qa(item.question, item.answer)
        if len(feature["input_ids"]) > max_length:
            raise KinjectError(f"{source}: record {i}: {len(feature['input_ids'])} tokens as a {objective.name} "
                               f"training sequence, more than {limit}={max_length}")
        features.append(feature)
    return features


def corpus_training_features(cfg, objective, tokenizer, max_length: int, head: int | None = None):
    """data.corpus through datasets.map: tokenized, chunked and packed batch by batch, memory-mapped
    or streamed (only its first `head` records when given: the check before any run starts)."""
    from kinject.data.corpus import corpus_features, describe_corpus, load_corpus

    d = cfg.data
    corpus = load_corpus(d.corpus, d.corpus_split, d.streaming)
    if head is not None:
        import datasets

        corpus = datasets.Dataset.from_list(list(itertools.islice(iter(corpus), head)))
    with distributed.main_process_first():  # the main process writes the map cache, the others read it
        features = corpus_features(corpus, objective, tokenizer, d.corpus, d.text_field, max_length, d.too_long,
                                   cfg.train.packing)
    if d.streaming:  # read the first batch now: a wrong field or a too-long document fails before any write
        next(iter(features), None)
    return features, {"corpus": d.corpus, **describe_corpus(corpus, features)}


def packed(cfg, objective, features: list[dict], sequences: dict, max_length: int):
    """With train.packing: the features packed into rows (first-fit decreasing)."""
    if not cfg.train.packing:
        return features, sequences
    from kinject.data.packing import pack_features

    features = pack_features(features, max_length, shifted_labels=not objective.needs_bidirectional)
    return features, {**sequences, "packed_rows": len(features)}
