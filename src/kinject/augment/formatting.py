"""Formatting-based augmentation (arXiv 2503.03705, its formatting-based augmentation): copies that change a document's format,
never its wording.

Each transformation maps (text, rng) -> text. Invariant, tested on every transformation: the
output's words (see `words`), after dropping the transformation's own label words (list
numbers, JSON keys, a title), are exactly the original's words in the original order. Only
whitespace, punctuation, markup and those labels are added. Copies are added to the originals,
never substituted for them.

`format_copies(text, k, names, rng)` draws k distinct transformations (all of them, in a
seeded random order, before any repeats), each with seeded random details (bullet character,
quote style, indentation...).
"""

from __future__ import annotations

import json
import random
import re

# A word: a run of word characters, with inner punctuation kept ("J.P", "world's", "Wisconsin–Milwaukee").
WORD = re.compile(r"\w+(?:[^\w\s]+\w+)*")
# Sentence boundary: whitespace after ., ! or ?, possibly followed by closing quotes or brackets.
SENTENCE_END = re.compile(r"(?<=[.!?])(?:[\"'\u201d\u2019)\]]*)\s+")
DIGITS = frozenset(str(i) for i in range(1, 1000))
TITLES = ("Note", "Fact sheet", "Record", "Entry", "Profile", "Document")


def words(text: str) -> list[str]:
    return WORD.findall(text)


def sentences(text: str) -> list[str]:
    """Split at whitespace after sentence-final punctuation; every piece keeps its characters,
    with inner whitespace runs collapsed to one space (layout is format)."""
    pieces, start = [], 0
    for m in SENTENCE_END.finditer(text):
        end = m.start() + len(m.group(0).rstrip())
        pieces.append(text[start:end])
        start = m.end()
    pieces.append(text[start:])
    return [" ".join(p.split()) for p in pieces if p.strip()]


def _spacing(text, rng):
    gaps = [" "] * 8 + ["  ", "   ", "\n", " \n "]
    out = [text.split()[0]] if text.split() else []
    for w in text.split()[1:]:
        out += [rng.choice(gaps), w]
    return rng.choice(["", " ", "\n", "\t"]) + "".join(out) + rng.choice(["", " ", "\n"])


def _sentence_per_line(text, rng):
    return rng.choice(["\n", "\n\n"]).join(sentences(text))


def _bullets(text, rng):
    mark = rng.choice(["- ", "* ", "\u2022 ", "+ "])
    return "\n".join(mark + s for s in sentences(text))


def _numbered(text, rng):
    style = rng.choice(["{}. ", "{}) ", "({}) "])
    return "\n".join(style.format(i) + s for i, s in enumerate(sentences(text), start=1))


def _quoted(text, rng):
    left, right = rng.choice([('"', '"'), ("\u201c", "\u201d"), ("'", "'"), ("\u00ab", "\u00bb")])
    joiner = rng.choice([" ", "\n"])
    if rng.random() < 0.5:
        return left + text.strip() + right
    return joiner.join(left + s + right for s in sentences(text))


def _bracketed(text, rng):
    left, right = rng.choice([("[", "]"), ("(", ")"), ("{", "}"), ("<", ">"), ("\u27e8", "\u27e9")])
    return rng.choice([" ", "\n"]).join(left + s + right for s in sentences(text))


def _special_chars(text, rng):
    left, right = rng.choice([("## ", " ##"), ("** ", " **"), ("|| ", " ||"), ("~~ ", " ~~"), (">> ", " <<"),
                              ("== ", " =="), ("\u00a7 ", ""), ("\u2605 ", " \u2605")])
    return rng.choice([" ", "\n"]).join(left + s + right for s in sentences(text))


def _markdown(text, rng):
    style = rng.choice(["bold", "italic", "blockquote", "heading"])
    parts = sentences(text)
    if style == "bold":
        return " ".join(f"**{s}**" for s in parts)
    if style == "italic":
        return " ".join(f"*{s}*" for s in parts)
    if style == "blockquote":
        return "\n".join(f"> {s}" for s in parts)
    return f"## {parts[0]}\n\n" + " ".join(parts[1:]) if len(parts) > 1 else f"## {parts[0]}"


def _json(text, rng):
    parts = sentences(text)
    key = rng.choice(["text", "content", "sentences"])
    value = parts if key == "sentences" else " ".join(parts)
    return json.dumps({key: value}, ensure_ascii=False, indent=rng.choice([None, 2, 4]))


def _key_value(text, rng):
    parts = sentences(text)
    if rng.random() < 0.5:
        return f"{rng.choice(['text', 'content'])}: " + " ".join(parts)
    sep = rng.choice([": ", " = "])
    return "\n".join(f"fact {i}{sep}{s}" for i, s in enumerate(parts, start=1))


def _title(text, rng):
    title = rng.choice(TITLES)
    return rng.choice([f"# {title}\n\n", f"{title}\n", f"{title.upper()}\n\n"]) + text.strip()


TRANSFORMS = {
    "spacing": (_spacing, frozenset()),
    "sentence_per_line": (_sentence_per_line, frozenset()),
    "bullets": (_bullets, frozenset()),
    "numbered": (_numbered, DIGITS),
    "quoted": (_quoted, frozenset()),
    "bracketed": (_bracketed, frozenset()),
    "special_chars": (_special_chars, frozenset()),
    "markdown": (_markdown, frozenset()),
    "json": (_json, frozenset({"text", "content", "sentences"})),
    "key_value": (_key_value, frozenset({"text", "content", "fact"}) | DIGITS),
    "title": (_title, frozenset(w for t in TITLES for w in t.split()) | frozenset(t.upper() for t in TITLES)
              | frozenset(w.upper() for t in TITLES for w in t.split())),
}


def label_words(name: str) -> frozenset:
    return TRANSFORMS[name][1]


def parse_names(spec: str, where: str = "config: key 'augment.formatting_transforms'") -> list[str]:
    """'all' or a comma-separated list of transformation names."""
    from kinject.errors import KinjectError

    if spec.strip() == "all":
        return list(TRANSFORMS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for n in names:
        if n not in TRANSFORMS:
            import difflib

            close = difflib.get_close_matches(n, list(TRANSFORMS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise KinjectError(f"{where}: unknown transformation {n!r}{hint}; known: {', '.join(TRANSFORMS)}")
    if not names:
        raise KinjectError(f"{where}: no transformation named")
    return names


def apply(name: str, text: str, rng: random.Random) -> str:
    return TRANSFORMS[name][0](text, rng)


def format_copies(text: str, k: int, names: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """k (transformation name, formatted copy) pairs: distinct transformations until all are used."""
    order: list[str] = []
    while len(order) < k:
        order += rng.sample(names, len(names))
    return [(name, apply(name, text, rng)) for name in order[:k]]


def visible_text(name: str, formatted: str) -> str:
    """The text a reader sees: a JSON wrapper's keys and decoded strings (escapes undone)."""
    if name != "json":
        return formatted
    data = json.loads(formatted)
    return " ".join(f"{key} " + (" ".join(value) if isinstance(value, list) else value) for key, value in data.items())


def preserves_words(name: str, original: str, formatted: str) -> bool:
    """True when `formatted`'s words are `original`'s words in order, plus only the
    transformation's label words."""
    labels, want, i = label_words(name), words(original), 0
    for w in words(visible_text(name, formatted)):
        if i < len(want) and w == want[i]:
            i += 1
        elif w not in labels:
            return False
    return i == len(want)
