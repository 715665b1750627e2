"""The knowledge set: documents, optional paraphrase sets, and QA items with a direction."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

FORWARD = "forward"
BACKWARD = "backward"
DIRECTIONS = (FORWARD, BACKWARD)


@dataclass(frozen=True)
class Document:
    text: str
    id: str = ""
    paraphrases: tuple[str, ...] = ()  # same-order rewrites of `text` (never `text` itself)
    permuted: tuple[str, ...] = ()  # permuted-order rewrites (facts in another order)
    entities: tuple[str, ...] = ()  # entity names in `text`, when the data gives them (reverse training)


@dataclass(frozen=True)
class QAItem:
    question: str
    answers: tuple[str, ...]  # any of these counts as correct (metrics take the max)
    direction: str  # FORWARD or BACKWARD, relative to the order the fact has in training
    group: str = ""
    task: str = ""  # free label kept from the source file (e.g. N2D / D2N)
    doc_id: str = ""  # id of the document this question is about, when known


@dataclass
class KnowledgeSet:
    documents: list[Document] = field(default_factory=list)
    questions: list[QAItem] = field(default_factory=list)

    def describe(self) -> dict:
        """Counts for `kinject data validate` and run logs."""
        by_direction = Counter(q.direction for q in self.questions)
        by_group = Counter((q.group or "(none)", q.direction) for q in self.questions)
        return {
            "documents": len(self.documents),
            "paraphrases": sum(len(d.paraphrases) for d in self.documents),
            "permuted_paraphrases": sum(len(d.permuted) for d in self.documents),
            "questions": len(self.questions),
            "by_direction": dict(sorted(by_direction.items())),
            "by_group": {f"{g}/{d}": n for (g, d), n in sorted(by_group.items())},
        }
