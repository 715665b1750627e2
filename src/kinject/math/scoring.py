"""Final-number extraction and accuracy, as GSM8K evaluations do it.

strict     the number after the last "####" (the trained answer format)
flexible   the last number anywhere in the text
Numbers are normalized before comparison: "$1,234.50" -> "1234.5", "-3.0" -> "-3", "07" -> "7".
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from kinject.registry import metrics_for, register_metric

NUMBER = r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
STRICT = re.compile(r"####\s*(" + NUMBER + ")")
ANY = re.compile(NUMBER)


def normalize_number(text: str) -> str | None:
    cleaned = text.replace("$", "").replace(",", "").replace(" ", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))  # exact for any length ("-3.0" -> "-3", a 60-digit run of 1s stays whole)
    return format(value.normalize(), "f")


def extract_strict(text: str) -> str | None:
    found = STRICT.findall(text)
    return normalize_number(found[-1]) if found else None


def extract_flexible(text: str) -> str | None:
    found = ANY.findall(text)
    return normalize_number(found[-1]) if found else None


@register_metric("strict", "strict", task="math", curve="-")
def strict_accuracy(generated: str, gold: str) -> float:
    return float(extract_strict(generated) == gold)


@register_metric("flexible", "flexible", task="math", curve="--")
def flexible_accuracy(generated: str, gold: str) -> float:
    return float(extract_flexible(generated) == gold)


def score_math(generated: str, gold: str) -> dict:
    scores = {m.name: m(generated, gold) for m in metrics_for("math")}
    return {**scores, "extracted_strict": extract_strict(generated), "extracted_flexible": extract_flexible(generated)}


def aggregate_math(rows: list[dict]) -> dict:
    n = len(rows)
    return {"math": {**{m.name: sum(r[m.name] for r in rows) / max(n, 1) for m in metrics_for("math")}, "n": n}}
