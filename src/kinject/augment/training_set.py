"""The training set: each document, its paraphrases, formatted copies and reversed copy.

Per document, in this order:
    the original                      unless data.paraphrases_only
    paraphrases                       first data.num_paraphrases (null: all) of each set in
                                      data.paraphrase_order (same, permuted, or both)
    augment.formatting copies         of the original (arXiv 2503.03705)
    a reversed copy                   of the original, if augment.reverse (Golovneva et al. 2024)
The trainer shuffles, so the order only fixes the seeded draws.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from kinject.augment import formatting
from kinject.augment.reverse import answer_entities, heuristic_entities, reverse_text
from kinject.data.schema import KnowledgeSet
from kinject.errors import KinjectError


@dataclass(frozen=True)
class TrainingText:
    text: str
    doc_id: str
    kind: str  # original | paraphrase | permuted | format:<transformation> | reversed


def _entities(doc, questions, how: str) -> list[str]:
    if how == "fields" or (how == "auto" and doc.entities):
        return list(doc.entities)
    if how == "answers":
        return answer_entities(doc.text, [a for q in questions for a in q.answers])
    return heuristic_entities(doc.text)


def build_training_set(ks: KnowledgeSet, data_cfg, augment_cfg, source: str = "data.train") -> list[TrainingText]:
    d, a = data_cfg, augment_cfg
    sets = {"same": ("paraphrase",), "permuted": ("permuted",), "both": ("paraphrase", "permuted")}[d.paraphrase_order]
    k = d.num_paraphrases
    if k != 0:
        available = {"paraphrase": sum(len(doc.paraphrases) for doc in ks.documents),
                     "permuted": sum(len(doc.permuted) for doc in ks.documents)}
        missing = [kind for kind in sets if not available[kind]]
        if missing:
            which = "same-order" if missing[0] == "paraphrase" else "permuted-order"
            key = "data.paraphrases" if missing[0] == "paraphrase" else "data.permuted_paraphrases"
            raise KinjectError(f"{source}: data.num_paraphrases={k} but the documents have no {which} "
                               f"paraphrases (set {key}, give them in the documents file, or set paraphrase.output)")
    names = formatting.parse_names(a.formatting_transforms) if a.formatting else []
    if a.reverse and a.reverse_entities == "answers" and ks.questions and not all(q.doc_id for q in ks.questions):
        raise KinjectError(f"{source}: augment.reverse_entities=answers needs questions linked to documents")
    if a.reverse and a.reverse_entities == "fields" and not all(doc.entities for doc in ks.documents):
        missing = next(doc.id for doc in ks.documents if not doc.entities)
        raise KinjectError(f"{source}: document {missing!r}: field 'entities': missing, and "
                           "augment.reverse_entities=fields")
    by_doc: dict[str, list] = {}
    for q in ks.questions:
        by_doc.setdefault(q.doc_id, []).append(q)

    out: list[TrainingText] = []
    for doc in ks.documents:
        if not d.paraphrases_only:
            out.append(TrainingText(doc.text, doc.id, "original"))
        chosen = []
        for kind in sets:
            pool = doc.paraphrases if kind == "paraphrase" else doc.permuted
            chosen += [TrainingText(p, doc.id, kind) for p in (pool if k is None else pool[:k])]
        if d.paraphrases_only and not chosen:
            raise KinjectError(f"{source}: document {doc.id!r}: no paraphrases, and data.paraphrases_only "
                               "would leave it out of training")
        out += chosen
        if a.formatting:
            rng = random.Random(f"{a.seed}/{doc.id}")
            out += [TrainingText(text, doc.id, f"format:{name}")
                    for name, text in formatting.format_copies(doc.text, a.formatting, names, rng)]
        if a.reverse:
            entities = _entities(doc, by_doc.get(doc.id, []), a.reverse_entities)
            out.append(TrainingText(reverse_text(doc.text, entities), doc.id, "reversed"))
    return out


def describe_training_set(texts: list[TrainingText]) -> dict:
    kinds = Counter(t.kind.split(":")[0] for t in texts)
    transforms = Counter(t.kind.split(":", 1)[1] for t in texts if t.kind.startswith("format:"))
    out = {"sequences": len(texts), "by_kind": dict(sorted(kinds.items()))}
    if transforms:
        out["formatting_transforms"] = dict(sorted(transforms.items()))
    return out
