"""QA metrics: the published ROUGE-1 recall ("accuracy") and stricter metrics reported beside it.

Source matched (arXiv 2510.09885, its evaluation)
--------------------------------------------
``rouge1_recall`` reproduces ``compute_openQA_recall`` in ``src/eval_util.py`` of the public
repository ``xup5/masked_arLLM`` (commit bc28c777643b202787d1e4ccb61ad0d1993d93e3), which uses the
``rouge==1.0.1`` package (pltrdy) and ``nltk==3.9.1`` (versions from its ``environment.yaml``).
The lines that define the metric (lines 2-38 of that file; 12 stop words, 14-16 remove_punc,
19-22 and 29-31 tokenize + filter, 34-36 Rouge and the max):

* ``pred, gt = pred.strip(), gt.strip()``
* ``exclude_voc = ["a", "of", "the", "and", "is", "are", "be", "to", "new", "on", "in", "at",
  "an", "for"]``
* ``remove_punc``: delete every character of ``string.punctuation`` (ASCII only), so "don't"
  becomes "dont" and "U.S." becomes "US".
* ``word_tokenize`` (NLTK), then ``[w for w in tokens if w.lower() not in exclude_voc]``:
  the stop-word test is case-insensitive but the kept tokens keep their case.
* ``Rouge().get_scores(hyps=[pred] * len(gts), refs=gts)`` and
  ``max(score["rouge-1"]["r"])`` over the references.

What this implies, and what this module does identically (no nltk/rouge dependency):

* Tokens: after ASCII punctuation is gone, the only NLTK 3.9.1 rules that can still fire split
  off the Unicode quotes « “ ‘ „ » ” ’ as tokens of their own (so "Ender’s" gives "Ender", "’",
  "s", and “Paris” gives "“", "Paris", "”"; dashes such as "–" stay inside words; later nltk
  versions also split U+2012..U+2015, 3.9.1 does not), and split the contractions cannot,
  gimme, gonna, gotta, lemme, wanna into two tokens (can + not, ...). Everything else is a
  split on whitespace. Punkt sentence splitting changes nothing (its sentence-end characters
  . ? ! have already been removed). ``_published_tokens`` implements exactly this; it was
  checked against nltk 3.9.1 (``word_tokenize(..., preserve_line=True)``: the punkt data could
  not be downloaded offline) + rouge 1.0.1 on 40,000 randomized inputs, with no mismatch.
* Case: the ``rouge`` package does not lower-case, so the published match is CASE-SENSITIVE
  ("paris" does not recall "Paris"). The paper says "lower-cased"; the repository does not do
  it. We follow the repository by default (``lowercase=False``) so numbers stay comparable with
  the paper; pass ``lowercase=True`` for the paper's wording.
* Counts: ``Rouge()`` defaults to ``exclusive=True``, i.e. unigram SETS, not clipped multisets:
  recall = |set(pred) & set(gold)| / |set(gold)|. Repeating a gold word neither helps nor hurts.
* Empty cases: ``rouge`` raises ``ValueError`` ("Hypothesis is empty." / "Reference is empty.")
  when the prediction or the gold has no token left after filtering, and the training script
  (``src/masked_ar.py``, ``evaluate()``) catches any exception and records recall 0.0. So an
  empty prediction scores 0.0 and a gold made only of stop words / punctuation scores 0.0 for
  every prediction. We return 0.0 in both cases without raising.

Deliberate differences
----------------------
* Several references: the published call passes one gold string (``gt.strip()`` would fail on a
  list, and a single empty reference would zero the whole item). We score each reference on its
  own (an empty-after-filtering reference scores 0.0) and take the maximum, as the paper says.
* No references at all is a caller error: ``ValueError``.

Stricter metrics (our definitions; the published code has none of them)
-----------------------------------------------------------------------
* ``rouge1_f1``: same tokens, same sets, same case rule as ``rouge1_recall``;
  F1 = 2PR / (P + R) with P = overlap / |set(pred)|, R = overlap / |set(gold)| (the exact formula,
  without the 1e-8 that ``rouge`` adds to the denominator); 0.0 when the overlap is empty; max
  over references. A long answer that recites a whole document keeps R = 1 but gets a low P.
* ``contains``: light normalization ``_light_words`` (lower-case; delete every ASCII punctuation
  character and every Unicode punctuation character, category P*, so "don't" -> "dont"; split
  on whitespace, which also collapses it). Score 1.0 if the word sequence of some reference occurs
  as a contiguous run of whole words in the prediction's word sequence ("The answer is Paris."
  contains "paris"; "Parisian" does not contain "paris"). Stop words are kept. A reference with
  no words left never matches.
* ``first_word_match``: the reversal-curse evaluation (Berglund et al. 2023, repository
  ``lukasberglund/reversal_curse``, ``src/tasks/base_evaluator.py``,
  ``BaseEvaluator.evaluate_completion``) counts a completion correct when
  ``completion.strip().lower().startswith(target.strip().lower())`` — the completion must BEGIN
  with the gold answer (its docstring calls it "the first word of the completion must match").
  That rule was written for raw continuations; chat answers open with articles and quotes, so our
  default compares first words instead: 1.0 if the first non-stop word of the prediction equals
  the first non-stop word of some reference, both from ``_light_words`` (lower-cased,
  punctuation deleted) with the 14 published stop words removed. ``prefix=True`` applies the
  Berglund rule verbatim instead. A reference with no non-stop word never matches.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from kinject.registry import metrics_for, register_metric

# The published stop words (xup5/masked_arLLM src/eval_util.py, exclude_voc), in its order.
STOP_WORDS: tuple[str, ...] = ("a", "of", "the", "and", "is", "are", "be", "to", "new", "on", "in", "at",
                               "an", "for")
_STOP = frozenset(STOP_WORDS)
_ASCII_PUNCT = frozenset(string.punctuation)

# NLTK 3.9.1 NLTKWordTokenizer rules that survive the removal of ASCII punctuation.
_NLTK_QUOTES = re.compile("([«“‘„»”’])")
_NLTK_CONTRACTIONS = tuple(re.compile(p) for p in (
    r"(?i)\b(can)(not)\b",
    r"(?i)\b(gim)(me)\b",
    r"(?i)\b(gon)(na)\b",
    r"(?i)\b(got)(ta)\b",
    r"(?i)\b(lem)(me)\b",
    r"(?i)\b(wan)(na)(?=\s)",
))
_WHITESPACE = re.compile(r"\s+")

DIRECTIONS: tuple[str, ...] = ("forward", "backward")


# ---------------------------------------------------------------- normalization


def _published_tokens(text: str) -> list[str]:
    """remove_punc + nltk.word_tokenize of the published code, without nltk."""
    text = "".join(ch for ch in text.strip() if ch not in _ASCII_PUNCT)
    text = _NLTK_QUOTES.sub(r" \1 ", text)
    text = " " + _WHITESPACE.sub(" ", text) + " "
    for rx in _NLTK_CONTRACTIONS:
        text = rx.sub(r" \1 \2 ", text)
    return text.split()


def normalize_words(text: str, *, lowercase: bool = False, drop_stop_words: bool = True) -> list[str]:
    """The published normalization: ASCII punctuation deleted, NLTK word tokens, stop words dropped.

    Case is kept (the stop-word test ignores case), as in the published code; ``lowercase=True``
    lower-cases the tokens. ``normalize_words("Don't go to the U.S.!")`` -> ``["Dont", "go", "US"]``.
    """
    tokens = _published_tokens(text)
    if drop_stop_words:
        tokens = [w for w in tokens if w.lower() not in _STOP]
    if lowercase:
        tokens = [w.lower() for w in tokens]
    return tokens


def _light_words(text: str) -> list[str]:
    """Lower-case, delete ASCII and Unicode punctuation, split on (and so collapse) whitespace."""
    kept = (ch for ch in text.lower() if ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P"))
    return "".join(kept).split()


def _as_references(references: str | Sequence[str]) -> list[str]:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("no reference answers given")
    for r in refs:
        if not isinstance(r, str):
            raise TypeError(f"reference answers must be strings, got {type(r).__name__}")
    return refs


# ---------------------------------------------------------------- metrics


def _overlap(prediction: str, reference: str, lowercase: bool) -> tuple[int, int, int]:
    """(|set(pred)|, |set(gold)|, |set(pred) & set(gold)|) on published tokens."""
    pred = set(normalize_words(prediction, lowercase=lowercase))
    gold = set(normalize_words(reference, lowercase=lowercase))
    return len(pred), len(gold), len(pred & gold)


@register_metric("rouge1_recall", "ROUGE-1 recall (published metric)", "R1", curve="-")
def rouge1_recall(prediction: str, references: str | Sequence[str], *, lowercase: bool = False) -> float:
    """Published "accuracy": ROUGE-1 recall of the gold's unigram set, max over references."""
    best = 0.0
    for ref in _as_references(references):
        n_pred, n_gold, n_common = _overlap(prediction, ref, lowercase)
        if n_pred and n_gold:  # the published code scores 0.0 when either side is empty
            best = max(best, n_common / n_gold)
    return float(best)


@register_metric("contains", "answer contained", "contains", curve="--")
def contains(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 if some reference's words occur as a contiguous run of whole words in the prediction."""
    words = _light_words(prediction)
    for ref in _as_references(references):
        gold = _light_words(ref)
        n = len(gold)
        if n and any(words[i:i + n] == gold for i in range(len(words) - n + 1)):
            return 1.0
    return 0.0


@register_metric("rouge1_f1", "ROUGE-1 F1", "F1")
def rouge1_f1(prediction: str, references: str | Sequence[str], *, lowercase: bool = False) -> float:
    """F1 of the unigram-set overlap (same tokens as rouge1_recall), max over references."""
    best = 0.0
    for ref in _as_references(references):
        n_pred, n_gold, n_common = _overlap(prediction, ref, lowercase)
        if n_common:
            p, r = n_common / n_pred, n_common / n_gold
            best = max(best, 2 * p * r / (p + r))
    return float(best)


@register_metric("first_word", "first word matches", "first word", shown=False)
def first_word_match(prediction: str, references: str | Sequence[str], *, prefix: bool = False) -> float:
    """1.0 if the prediction's first non-stop word equals a reference's first non-stop word.

    ``prefix=True``: the reversal-curse rule verbatim, i.e. the stripped, lower-cased prediction
    starts with the stripped, lower-cased reference (an empty reference never matches).
    """
    refs = _as_references(references)
    if prefix:
        pred = prediction.strip().lower()
        return float(any(r.strip() and pred.startswith(r.strip().lower()) for r in refs))
    pred_words = [w for w in _light_words(prediction) if w not in _STOP]
    if not pred_words:
        return 0.0
    for ref in refs:
        gold = [w for w in _light_words(ref) if w not in _STOP]
        if gold and gold[0] == pred_words[0]:
            return 1.0
    return 0.0


def score(prediction: str, references: str | Sequence[str]) -> dict[str, float]:
    """Every registered knowledge metric for one answer, in registration order."""
    return {m.name: m(prediction, list(references) if not isinstance(references, str) else references)
            for m in metrics_for("knowledge")}


# ---------------------------------------------------------------- aggregation


def _means(rows: list[Mapping]) -> dict:
    out: dict = {m.name: float(sum(float(r[m.name]) for r in rows) / len(rows)) for m in metrics_for("knowledge")}
    out["n"] = len(rows)
    return out


def _by_direction(rows: list[Mapping]) -> dict:
    return {d: _means(sel) for d in DIRECTIONS if (sel := [r for r in rows if r["direction"] == d])}


def aggregate(rows: Iterable[Mapping]) -> dict:
    """Means per direction, overall and per group.

    Returns ``{"forward": {metric: mean, ..., "n": count}, "backward": {...},
    "groups": {group: {"forward": {...}, "backward": {...}}}}``. A direction with no rows is left
    out (overall and inside a group); a missing or None group is the group "". Rows must have
    "direction" in ("forward", "backward") and every metric's key; other keys are ignored.
    """
    rows = list(rows)
    for r in rows:
        if r["direction"] not in DIRECTIONS:
            raise ValueError(f"unknown direction {r['direction']!r}; expected one of {DIRECTIONS}")
    out = _by_direction(rows)
    groups: dict[str, list[Mapping]] = {}
    for r in rows:
        groups.setdefault(r.get("group") or "", []).append(r)
    out["groups"] = {g: _by_direction(groups[g]) for g in sorted(groups)}
    return out
