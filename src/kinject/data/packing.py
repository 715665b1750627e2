"""Packing several training sequences into one row, and chunking documents that are too long.

A packed feature is the concatenation of ordinary features (see kinject.objectives.base) plus

    position_ids  positions restarting at 0 for every sequence in the row
    segment       0, 1, 2, ... : which sequence of the row a token belongs to

The model then gets an attention mask that never lets a token see another sequence of the row
(kinject.models.attention), so a packed row computes exactly what its sequences would compute
one by one, for causal and for bidirectional (dLLM) models alike.
"""

from __future__ import annotations

from kinject.objectives.base import IGNORE

LIST_KEYS = ("input_ids", "labels", "maskable", "target")


def pack_features(features: list[dict], max_length: int, shifted_labels: bool = True) -> list[dict]:
    """Group features into rows of at most max_length tokens, first-fit decreasing (deterministic).

    shifted_labels: the loss predicts token i from position i-1 (arLLM objectives); the first token
    of each packed sequence then gets no label, as it has none when trained alone.
    Rows keep the order in which their first feature appears in `features`."""
    order = sorted(range(len(features)), key=lambda i: (-len(features[i]["input_ids"]), i))
    rows: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = len(features[i]["input_ids"])
        if n > max_length:
            raise ValueError(f"feature {i}: {n} tokens, more than the packing length {max_length}")
        slot = next((r for r, free in enumerate(room) if free >= n), None)
        if slot is None:
            rows.append([i])
            room.append(max_length - n)
        else:
            rows[slot].append(i)
            room[slot] -= n
    rows = [sorted(row) for row in rows]
    rows.sort(key=lambda row: row[0])
    return [concatenate([features[i] for i in row], shifted_labels) for row in rows]


def concatenate(features: list[dict], shifted_labels: bool = True) -> dict:
    packed = {key: [] for key in LIST_KEYS + ("position_ids", "segment")}
    for segment, f in enumerate(features):
        n = len(f["input_ids"])
        for key in LIST_KEYS:
            packed[key] += f[key]
        if shifted_labels and n:
            packed["labels"][len(packed["labels"]) - n] = IGNORE
        packed["position_ids"] += list(range(n))
        packed["segment"] += [segment] * n
    return packed


def sequence_budget(objective, max_length: int) -> int:
    """How many document tokens fit in one training sequence of at most max_length tokens.

    A training sequence is a fixed frame plus the document once (standard, mdm) or twice (masked:
    the masked copy and the answer), so its length is frame + copies x tokens."""
    frame = len(objective.build([])["input_ids"])
    copies = len(objective.build([0])["input_ids"]) - frame
    return (max_length - frame) // copies if copies else max_length


def chunk_document(ids: list[int], budget: int) -> list[list[int]]:
    """Consecutive chunks of at most `budget` tokens (the last one shorter)."""
    return [ids[i : i + budget] for i in range(0, len(ids), budget)] or [ids]


def fit_document(ids: list[int], budget: int, too_long: str) -> list[list[int]] | None:
    """The pieces a document trains as under data.too_long; None when it is too long and refused."""
    if len(ids) <= budget:
        return [ids]
    if too_long == "chunk":
        return chunk_document(ids, budget)
    if too_long == "truncate":
        return [ids[:budget]]
    return None
