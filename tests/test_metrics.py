"""QA metrics against hand-computed examples (the published metric of arXiv 2510.09885).

The published metric is xup5/masked_arLLM src/eval_util.py compute_openQA_recall: ASCII
punctuation deleted, NLTK word tokens, the 14 stop words dropped case-insensitively, tokens
otherwise case-sensitive, ROUGE-1 recall (rouge 1.0.1) on unigram SETS. Expected numbers below
are worked out by hand in the comments.
"""

from __future__ import annotations

import pytest

from kinject.evaluation.metrics import (
    aggregate,
    contains,
    first_word_match,
    normalize_words,
    rouge1_f1,
    rouge1_recall,
    score,
)

GOLD = "the acclaimed director of the virtual reality masterpiece"
# GOLD tokens: the acclaimed director of the virtual reality masterpiece
# minus stop words (the, of): {acclaimed, director, virtual, reality, masterpiece} -> 5 words

DOC = ('Daphne Barrington, known far and wide for being the acclaimed director of the virtual '
       'reality masterpiece, "A Journey Through Time."')
# DOC after punctuation removal and stop-word dropping (and, for, the, of, the, A):
# Daphne Barrington known far wide being acclaimed director virtual reality masterpiece Journey
# Through Time -> 14 distinct words, 5 of them in GOLD


# ---------------------------------------------------------------- normalization


def test_normalize_drops_stop_words_and_punctuation_but_keeps_case():
    # 'The Director of "A Journey Through Time."' -> quotes and period deleted;
    # The, of, A are stop words (matched case-insensitively); the rest keep their case.
    assert normalize_words('The Director of "A Journey Through Time."') == ["Director", "Journey", "Through", "Time"]
    # comma, periods, apostrophes, "!" deleted: "Don't" -> "Dont", "Mr." -> "Mr", "O'Neil" -> "ONeil"
    assert normalize_words("Don't stop, Mr. O'Neil!") == ["Dont", "stop", "Mr", "ONeil"]
    # every stop word, in mixed case -> nothing left
    assert normalize_words("A of THE and Is are be to New on in at an for") == []
    assert normalize_words("") == []
    assert normalize_words("Don't stop", lowercase=True) == ["dont", "stop"]


def test_normalize_follows_nltk_tokenization():
    # NLTK splits the Unicode quotes off as tokens of their own ('’' in Ender’s too) ...
    assert normalize_words("“Ender’s Game”") == ["“", "Ender", "’", "s", "Game", "”"]
    # ... splits "cannot" and "gonna", and leaves an en dash inside the word
    assert normalize_words("I cannot go, gonna stay") == ["I", "can", "not", "go", "gon", "na", "stay"]
    assert normalize_words("Wisconsin\u2013Milwaukee") == ["Wisconsin\u2013Milwaukee"]
    # hyphen is ASCII punctuation: deleted, the two halves become one word
    assert normalize_words("virtual-reality") == ["virtualreality"]


# ---------------------------------------------------------------- ROUGE-1 recall (published)


def test_recall_hand_computed():
    # pred {She, acclaimed, director} ("is", "an" dropped); overlap {acclaimed, director} = 2 of 5
    assert rouge1_recall("She is an acclaimed director.", GOLD) == pytest.approx(2 / 5)
    # "virtual-reality" -> "virtualreality" (one word, matches neither); overlap
    # {acclaimed, director, masterpiece} = 3 of 5
    assert rouge1_recall("acclaimed director; virtual-reality masterpiece!", GOLD) == pytest.approx(3 / 5)


def test_recall_ignores_stop_words_in_the_gold():
    # gold "the capital of France" -> {capital, France}; "France" covers 1 of 2.
    # (If the stop words were counted the answer would be 1 of 4.)
    assert rouge1_recall("France", "the capital of France") == pytest.approx(1 / 2)
    # pred "The Paris" -> {Paris}: "The" is dropped even capitalized
    assert rouge1_recall("The Paris", "the Paris") == 1.0


def test_recall_is_case_sensitive_like_the_published_code():
    # rouge 1.0.1 does not lower-case: "paris" != "Paris"
    assert rouge1_recall("paris", "Paris") == 0.0
    assert rouge1_recall("paris", "Paris", lowercase=True) == 1.0


def test_recall_apostrophes_are_deleted():
    # gold "don't" -> "dont"; "dont" matches, "do not" does not
    assert rouge1_recall("dont", "don't") == 1.0
    assert rouge1_recall("do not", "don't") == 0.0
    # gold "cannot" -> {can, not} (NLTK split); "can" covers 1 of 2
    assert rouge1_recall("can", "cannot") == pytest.approx(1 / 2)


def test_recall_counts_unigram_sets_not_multisets():
    # gold "new york new york" -> [york, york] -> set {york}: one "york" is enough (set: 1/1;
    # a clipped multiset would give 1/2)
    assert rouge1_recall("york", "new york new york") == 1.0
    # gold "Tom and Tom Smith" -> {Tom, Smith}: set 1/2 (multiset would be 1/3)
    assert rouge1_recall("Tom", "Tom and Tom Smith") == pytest.approx(1 / 2)
    # repeating a word in the prediction does not add credit: {Smith} vs {John, Smith} -> 1/2
    assert rouge1_recall("Smith Smith Smith", "John Smith") == pytest.approx(1 / 2)


def test_recall_takes_the_max_over_references():
    # per reference: London 0, "Paris France" 1/2, Paris 1 -> max 1
    assert rouge1_recall("Paris", ["London", "Paris France", "Paris"]) == 1.0
    # per reference: 0 and 1/2 -> max 1/2 (a mean would give 1/4)
    assert rouge1_recall("Paris", ["Lyon Rhone", "Paris France"]) == pytest.approx(1 / 2)
    assert rouge1_recall("Paris", ("Paris",)) == 1.0
    # the best reference first: per reference 1 and 0 -> max 1 (not the last one's 0)
    assert rouge1_recall("Paris", ["Paris", "Lyon"]) == 1.0


def test_recall_empty_prediction_and_stop_word_gold_score_zero():
    assert rouge1_recall("", GOLD) == 0.0
    assert rouge1_recall("the of a", GOLD) == 0.0  # nothing left after filtering
    assert rouge1_recall("...", GOLD) == 0.0
    # gold made only of stop words: the published code raises inside rouge and records 0.0,
    # even for an identical prediction
    assert rouge1_recall("The", "The") == 0.0
    assert rouge1_recall("to be", "to be") == 0.0
    # ... and such a reference does not spoil the others
    assert rouge1_recall("Paris", ["the", "Paris"]) == 1.0


def test_no_references_is_an_error():
    with pytest.raises(ValueError):
        rouge1_recall("Paris", [])


# ---------------------------------------------------------------- recall vs contains vs F1


def test_reciting_the_document_gets_full_recall_but_low_f1():
    assert rouge1_recall(DOC, GOLD) == 1.0  # all 5 gold words are in DOC
    # light words of DOC contain "the acclaimed director of the virtual reality masterpiece" verbatim
    assert contains(DOC, GOLD) == 1.0
    # F1: overlap 5, P = 5/14, R = 1 -> 2 * (5/14) / (5/14 + 1) = (10/14) / (19/14) = 10/19
    assert rouge1_f1(DOC, GOLD) == pytest.approx(10 / 19)
    # a short answer with the same 5 words: P = R = 1 -> F1 = 1
    assert rouge1_f1("An acclaimed director of a virtual reality masterpiece.", GOLD) == 1.0


def test_rambling_answer_with_scattered_words_gets_recall_but_not_contains():
    rambling = ("The masterpiece of virtual reality, 'A Journey Through Time', has an acclaimed "
                "director: Daphne Barrington.")
    # all of {acclaimed, director, virtual, reality, masterpiece} occur -> recall 5/5
    assert rouge1_recall(rambling, GOLD) == 1.0
    # but never as the contiguous phrase of the gold
    assert contains(rambling, GOLD) == 0.0
    # F1: pred words masterpiece virtual reality Journey Through Time has acclaimed director
    # Daphne Barrington = 11, overlap 5 -> P = 5/11, R = 1 -> (10/11) / (16/11) = 10/16
    assert rouge1_f1(rambling, GOLD) == pytest.approx(10 / 16)


def test_f1_hand_computed():
    # {Paris, France} vs {Paris}: P = 1/2, R = 1 -> F1 = 2 * (1/2) / (3/2) = 2/3
    assert rouge1_f1("Paris France", "Paris") == pytest.approx(2 / 3)
    # max over references: vs "Paris France" P = R = 1 -> 1
    assert rouge1_f1("Paris France", ["Paris", "Paris France"]) == 1.0
    assert rouge1_f1("Paris France", ["Paris France", "Paris"]) == 1.0
    assert rouge1_f1("", "Paris") == 0.0
    assert rouge1_f1("Rome", "Paris") == 0.0
    assert rouge1_f1("The", "The") == 0.0  # stop-word-only gold
    assert rouge1_f1("paris", "Paris") == 0.0  # same case rule as recall
    assert rouge1_f1("paris", "Paris", lowercase=True) == 1.0


# ---------------------------------------------------------------- contains


def test_contains_light_normalization():
    assert contains("The answer is Paris.", "paris") == 1.0  # case and period ignored
    assert contains("May 28, 1952", "May 28 1952") == 1.0  # comma deleted
    assert contains("New\n   York", "new york") == 1.0  # whitespace collapsed
    assert contains("I don't know", "dont know") == 1.0  # apostrophe deleted
    assert contains("“Paris”", "Paris") == 1.0  # Unicode quotes deleted too


def test_contains_needs_whole_words_in_order():
    assert contains("Parisian food", "Paris") == 0.0  # whole words only
    assert contains("State University of Kansas", "Kansas State University") == 0.0
    assert contains("It's Kansas State University!", "kansas state university") == 1.0
    assert contains("director of X", "the director of X") == 0.0  # stop words are kept
    assert contains("Rome", ["Paris", "Rome"]) == 1.0  # any reference
    assert contains("anything", "...") == 0.0  # a reference with no words never matches
    assert contains("", "Paris") == 0.0


# ---------------------------------------------------------------- first word


def test_first_word_match():
    assert first_word_match("Curtis Emley, probably.", "Curtis Chase Emley") == 1.0
    # first non-stop word of the prediction is "person", not "curtis"
    assert first_word_match("The person is Curtis Chase Emley", "Curtis Chase Emley") == 0.0
    # "The" skipped on both sides, case ignored: director == director
    assert first_word_match("The Director of the film", "the director") == 1.0
    assert first_word_match("“Paris,” she said.", "Paris") == 1.0  # quotes and comma deleted
    assert first_word_match("Rome", ["Paris", "Rome is"]) == 1.0  # any reference
    assert first_word_match("", "Curtis") == 0.0
    assert first_word_match("the", "the") == 0.0  # no non-stop word on either side


def test_first_word_prefix_mode_is_the_reversal_curse_rule():
    # Berglund et al.: completion.strip().lower().startswith(target.strip().lower())
    assert first_word_match("  paris is the capital", "Paris", prefix=True) == 1.0
    assert first_word_match("The answer is Paris", "Paris", prefix=True) == 0.0
    # a raw prefix also accepts "Parisian"; the word rule does not
    assert first_word_match("Parisian", "Paris", prefix=True) == 1.0
    assert first_word_match("Parisian", "Paris") == 0.0


# ---------------------------------------------------------------- score and aggregate


def test_score_returns_all_four_metrics():
    # recall: pred {answer, Paris} covers gold {Paris} -> 1; contains: "paris" is a word -> 1;
    # F1: P = 1/2, R = 1 -> 2/3; first word: "answer" != "paris" -> 0
    assert score("The answer is Paris.", ["Paris"]) == pytest.approx(
        {"rouge1_recall": 1.0, "contains": 1.0, "rouge1_f1": 2 / 3, "first_word": 0.0})


def _row(direction, group, r, c, f, w):
    return {"direction": direction, "group": group, "question": "q",
            "rouge1_recall": r, "contains": c, "rouge1_f1": f, "first_word": w}


def test_aggregate_two_directions_two_groups():
    rows = [
        _row("forward", "A", 1.0, 1.0, 0.5, 1.0),
        _row("forward", "B", 0.5, 0.0, 0.25, 0.0),
        _row("forward", "A", 0.0, 0.0, 0.0, 0.0),
        _row("backward", "A", 0.75, 1.0, 0.5, 0.0),
    ]
    agg = aggregate(iter(rows))
    # forward: recall (1 + 0.5 + 0)/3 = 0.5, contains 1/3, F1 0.75/3 = 0.25, first word 1/3
    assert agg["forward"] == pytest.approx(
        {"rouge1_recall": 0.5, "contains": 1 / 3, "rouge1_f1": 0.25, "first_word": 1 / 3, "n": 3})
    assert agg["backward"] == {"rouge1_recall": 0.75, "contains": 1.0, "rouge1_f1": 0.5, "first_word": 0.0, "n": 1}
    assert set(agg) == {"forward", "backward", "groups"}
    assert set(agg["groups"]) == {"A", "B"}
    # group A forward: rows 1 and 3 -> (1+0)/2, (1+0)/2, (0.5+0)/2, (1+0)/2
    assert agg["groups"]["A"]["forward"] == {
        "rouge1_recall": 0.5, "contains": 0.5, "rouge1_f1": 0.25, "first_word": 0.5, "n": 2}
    assert agg["groups"]["A"]["backward"] == agg["backward"]
    # group B has no backward rows: the key is absent
    assert agg["groups"]["B"] == {"forward": {
        "rouge1_recall": 0.5, "contains": 0.0, "rouge1_f1": 0.25, "first_word": 0.0, "n": 1}}
    assert all(type(v) is float for k, v in agg["forward"].items() if k != "n")
    assert type(agg["forward"]["n"]) is int


def test_aggregate_omits_empty_directions_and_names_the_empty_group():
    agg = aggregate([_row("backward", "", 1.0, 0.0, 1.0, 0.0), {**_row("backward", None, 0.0, 0.0, 0.0, 0.0)}])
    assert "forward" not in agg
    assert agg["backward"]["n"] == 2 and agg["backward"]["rouge1_recall"] == 0.5
    assert agg["groups"] == {"": {"backward": {
        "rouge1_recall": 0.5, "contains": 0.0, "rouge1_f1": 0.5, "first_word": 0.0, "n": 2}}}
    assert aggregate([]) == {"groups": {}}


def test_aggregate_rejects_unknown_direction():
    with pytest.raises(ValueError):
        aggregate([_row("sideways", "A", 1.0, 1.0, 1.0, 1.0)])


def test_score_rows_aggregate_end_to_end():
    rows = [
        {"direction": "forward", "group": "g", **score("Paris", "Paris")},  # 1, 1, 1, 1
        {"direction": "forward", "group": "g", **score("Rome", "Paris")},  # 0, 0, 0, 0
    ]
    assert aggregate(rows)["forward"] == {
        "rouge1_recall": 0.5, "contains": 0.5, "rouge1_f1": 0.5, "first_word": 0.5, "n": 2}
