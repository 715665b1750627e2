"""Final-number extraction and accuracy, as GSM8K evaluations do it.

strict     the number after the last "####" (the trained answer format)
flexible   the last number anywhere in the text
Numbers are normalized before comparison: "$1,234.50" -> "1234.5", "-3.0" -> "-3", "07" -> "7".
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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


def score_math(generated: str, gold: str) -> dict:
    strict, flexible = extract_strict(generated), extract_flexible(generated)
    return {"strict": float(strict == gold), "flexible": float(flexible == gold),
            "extracted_strict": strict, "extracted_flexible": flexible}


def aggregate_math(rows: list[dict]) -> dict:
    n = len(rows)
    return {"math": {"strict": sum(r["strict"] for r in rows) / max(n, 1),
                     "flexible": sum(r["flexible"] for r in rows) / max(n, 1), "n": n}}
