"""Reverse training (a baseline of arXiv 2510.09885; Golovneva et al. 2024, "Reverse Training to Nurse the
Reversal Curse"): a reversed copy of each document is added to training, with the order of its
segments reversed and entity names kept intact (entity-preserving reversal).

    "Daphne Barrington, known for being the director of a film."
 -> ". film a of director the being for known , Daphne Barrington"

Segments are words and punctuation marks (`TOKEN`); an entity is a run of segments that is
moved as one unit, its inner order kept. Entities come, in order of preference, from:
    fields     the document's own "entities" list (native JSONL)
    answers    the answers of the questions linked to the document, where they occur in it
               verbatim (uses test-set answers to choose spans: label results accordingly)
    heuristic  capitalized runs (below)
`augment.reverse_entities=auto` uses the document's entities where it has them, else the heuristic.

Heuristic: a maximal run of capitalized segments ("Curtis Chase Emley", "Kansas State
University"), which may take in numbers ("May 28, 1952"), abbreviations ("J.P.", "St."), and the
connectors of/the/and/de/van/von/&, or a comma, when a capitalized segment or number follows
("University of Wisconsin", "Elk Grove, CA"). A lone capitalized word (a sentence-initial
"He") is a one-segment entity, which reverses like any word.
"""

from __future__ import annotations

import re

ABBREVIATIONS = r"(?:St|Mt|Ft|Dr|Mr|Mrs|Ms|Jr|Sr|Inc|Co|Corp|Ltd)\."
TOKEN = re.compile(ABBREVIATIONS + r"(?=\s+[A-Z])|(?:[A-Z]\.){2,}|\w+(?:[^\w\s]+\w+)*|[^\w\s]")
CONNECTORS = frozenset({"of", "the", "and", "de", "van", "von", "&", "der", "la", "du", "da"})


def _is_cap(tok: str) -> bool:
    return tok[:1].isupper()


def _is_num(tok: str) -> bool:
    return tok[:1].isdigit()


def tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the segments."""
    return [m.span() for m in TOKEN.finditer(text)]


def heuristic_entities(text: str) -> list[str]:
    spans = tokens(text)
    toks = [text[a:b] for a, b in spans]
    out, i = [], 0
    while i < len(toks):
        if not (_is_cap(toks[i]) or (_is_num(toks[i]) and i + 1 < len(toks) and _is_cap(toks[i + 1]))):
            i += 1
            continue
        j = i + 1
        while j < len(toks):
            t = toks[j]
            nxt = toks[j + 1] if j + 1 < len(toks) else ""
            if _is_cap(t) or _is_num(t):
                j += 1
            elif (t in CONNECTORS or t == ",") and (_is_cap(nxt) or _is_num(nxt)):
                j += 1
            else:
                break
        if j - i > 1:
            out.append(text[spans[i][0] : spans[j - 1][1]])
        i = j
    return out


def reverse_text(text: str, entities: list[str] | tuple[str, ...] = ()) -> str:
    """Segments in reverse order, each entity occurrence kept intact as one unit."""
    spans = tokens(text)
    starts, ends = {a for a, _ in spans}, {b for _, b in spans}
    # character ranges of entity occurrences on segment boundaries (longest first; no overlaps)
    claimed: list[tuple[int, int]] = []
    for ent in sorted({e.strip() for e in entities if e.strip()}, key=len, reverse=True):
        for m in re.finditer(re.escape(ent), text):
            a, b = m.span()
            if a in starts and b in ends and not any(a < y and x < b for x, y in claimed):
                claimed.append((a, b))
    units, k = [], 0
    claimed.sort()
    for a, b in spans:
        while k < len(claimed) and a >= claimed[k][1]:
            k += 1
        if k < len(claimed) and claimed[k][0] <= a < claimed[k][1]:
            if units and units[-1][0] == claimed[k][0]:
                continue  # already emitted this entity
            units.append((claimed[k][0], claimed[k][1]))
        else:
            units.append((a, b))
    return " ".join(" ".join(text[a:b].split()) for a, b in reversed(units))


def answer_entities(text: str, answers: list[str]) -> list[str]:
    return [a for a in answers if a.strip() and a in text]
