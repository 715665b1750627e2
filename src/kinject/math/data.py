"""Math SFT data: (question, answer) pairs with a final number.

Formats (JSONL, one object per line):
    GSM8K      {"question": str, "answer": str}; the answer's last line is "#### <number>"
    generic    {"prompt": str, "response": str}; the gold number is the response's "#### n" if
               it has one, else its last number
Extra keys are refused; every problem is one line naming file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass

from kinject.data.loaders import _string, read_records
from kinject.errors import located

GSM8K_KEYS = {"question", "answer"}
GENERIC_KEYS = {"prompt", "response"}


@dataclass(frozen=True)
class MathItem:
    question: str
    answer: str  # the full worked answer the model is trained to write
    final: str  # the gold final number, normalized (see kinject.math.scoring.normalize_number)


def load_math(path) -> list[MathItem]:
    from kinject.math.scoring import extract_flexible, extract_strict

    items = []
    for where, rec in read_records(path):
        keys = set(rec)
        if keys & GENERIC_KEYS and "question" not in keys:
            question_key, answer_key, allowed = "prompt", "response", GENERIC_KEYS
        else:
            question_key, answer_key, allowed = "question", "answer", GSM8K_KEYS
        unknown = sorted(keys - allowed)
        if unknown:
            raise located(where, f"unknown key (allowed: {', '.join(sorted(allowed))})", field=unknown[0])
        question = _string(rec, question_key, where)
        answer = _string(rec, answer_key, where)
        if question_key == "question":
            final = extract_strict(answer)
            if final is None:
                raise located(where, "must end with a line '#### <number>' (GSM8K layout)", field="answer")
        else:
            final = extract_strict(answer) or extract_flexible(answer)
            if final is None:
                raise located(where, "has no number to compare answers with", field="response")
        items.append(MathItem(question, answer, final))
    return items
