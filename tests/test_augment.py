"""Augmentations: formatting copies keep the words (property test), counts and seeding are exact,
reverse training reverses segments and keeps names intact, paraphrase sets count as in the files."""

from __future__ import annotations

import json
import random

import pytest

from kinject.augment import formatting
from kinject.augment.reverse import heuristic_entities, reverse_text
from kinject.augment.training_set import build_training_set, describe_training_set
from kinject.config import AugmentConfig, DataConfig
from kinject.data.generate import write_name_description
from kinject.data.loaders import load_documents, load_knowledge_set
from kinject.data.schema import Document, KnowledgeSet, QAItem
from kinject.errors import KinjectError

from conftest import SHARED, shared_dataset

TRICKY = ["world's", '"quoted"', "J.P.", "(aside)", "e.g.", "1,234.5", "Wisconsin\u2013Milwaukee", 'he"llo',
          "back\\slash", "{braces}", "[x]", "\u00e9t\u00e9", "#tag", "*star*", "-", ":", "50%", "$3", "C++", "it's."]
PLAIN = "the a of Daphne Barrington known for being director film Paris born May 28 1952 He She works at HP".split()


def random_documents(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        out = []
        for _ in range(rng.randint(1, 40)):
            out.append(rng.choice(TRICKY) if rng.random() < 0.25 else rng.choice(PLAIN))
            if rng.random() < 0.15:
                out[-1] += rng.choice([".", "!", "?", '."', ".)"])
            out.append(rng.choice([" "] * 10 + ["  ", "\n", "\t", " \n\n "]))
        docs.append("".join(out).strip())
    return docs


def corpus() -> list[str]:
    docs = random_documents(300)
    for name in ("ND_train_no_paraphrase.json", "biography_train_no_paraphrase.json"):
        if (SHARED / name).exists():
            docs += [d["text"] for d in json.loads((SHARED / name).read_text())]
    return docs


@pytest.fixture(scope="module")
def generated_docs(tmp_path_factory):
    path, _ = write_name_description(tmp_path_factory.mktemp("nd"), 40, 0)
    return [d.text for d in load_documents(path)]


@pytest.mark.parametrize("name", list(formatting.TRANSFORMS))
def test_every_transformation_preserves_the_word_sequence(name, generated_docs):
    changed = 0
    for i, text in enumerate(corpus() + generated_docs):
        for seed in range(3):
            out = formatting.apply(name, text, random.Random(f"{seed}/{i}"))
            assert formatting.preserves_words(name, text, out), f"{name} changed the words of {text!r}: {out!r}"
            changed += out != text
    assert changed > 0  # the transformation does change the format


def test_the_word_check_catches_changed_dropped_added_and_reordered_words():
    text = "Daphne Barrington directed the film. She lives in Paris."
    assert formatting.preserves_words("bullets", text, "- Daphne Barrington directed the film.\n- She lives in Paris.")
    for bad in ["Daphne Barrington directed a film. She lives in Paris.",  # changed
                "Daphne Barrington directed film. She lives in Paris.",  # dropped
                "Daphne Barrington directed the new film. She lives in Paris.",  # added
                "She lives in Paris. Daphne Barrington directed the film.",  # reordered
                "1. Daphne Barrington directed the film. 2. She lives in Paris."]:  # labels of another transform
        assert not formatting.preserves_words("bullets", text, bad), bad
    assert formatting.preserves_words("numbered", text, "1. Daphne Barrington directed the film.\n2. She lives in Paris.")


def test_copies_are_exact_in_number_distinct_and_seeded():
    names = list(formatting.TRANSFORMS)
    text = "Daphne Barrington directed the film. She lives in Paris."
    copies = formatting.format_copies(text, 5, names, random.Random("0/p0"))
    assert len(copies) == 5 and len({n for n, _ in copies}) == 5
    assert copies == formatting.format_copies(text, 5, names, random.Random("0/p0"))
    assert copies != formatting.format_copies(text, 5, names, random.Random("1/p0"))
    all_then_more = formatting.format_copies(text, len(names) + 2, names, random.Random(0))
    assert sorted(n for n, _ in all_then_more[: len(names)]) == sorted(names)  # every one before repeats


def test_training_set_counts_and_seeding():
    docs = [Document(f"Person {i} lives in Paris. They work at HP.", str(i), paraphrases=("p1", "p2", "p3"),
                     permuted=("q1", "q2")) for i in range(4)]
    ks = KnowledgeSet(docs, [])
    data, aug = DataConfig(num_paraphrases=2, paraphrase_order="both"), AugmentConfig(formatting=3, reverse=True, seed=7)
    texts = build_training_set(ks, data, aug)
    assert describe_training_set(texts)["by_kind"] == {"original": 4, "paraphrase": 8, "permuted": 8, "format": 12,
                                                       "reversed": 4}
    assert [t.text for t in texts[:6]] == [docs[0].text, "p1", "p2", "q1", "q2", texts[5].text]
    assert texts == build_training_set(ks, data, aug)
    assert texts != build_training_set(ks, data, AugmentConfig(formatting=3, reverse=True, seed=8))
    only = build_training_set(ks, DataConfig(num_paraphrases=None, paraphrase_order="permuted", paraphrases_only=True),
                              AugmentConfig())
    assert [t.text for t in only] == ["q1", "q2"] * 4
    assert len(build_training_set(ks, DataConfig(), AugmentConfig())) == 4  # k = 0: originals only


def test_asking_for_paraphrases_that_are_not_there_is_an_error():
    ks = KnowledgeSet([Document("A is B.", "0")], [])
    with pytest.raises(KinjectError, match="no permuted-order paraphrases .*data.permuted_paraphrases"):
        build_training_set(ks, DataConfig(num_paraphrases=2, paraphrase_order="permuted"), AugmentConfig(), "d.jsonl")
    lonely = KnowledgeSet([Document("A is B.", "0", permuted=("B is A.",)), Document("C is D.", "1")], [])
    with pytest.raises(KinjectError, match="document '1': no paraphrases, and data.paraphrases_only"):
        build_training_set(lonely, DataConfig(num_paraphrases=None, paraphrase_order="permuted",
                                              paraphrases_only=True), AugmentConfig())
    with pytest.raises(KinjectError, match="unknown transformation 'bulets' \\(did you mean 'bullets'\\?\\)"):
        build_training_set(ks, DataConfig(), AugmentConfig(formatting=1, formatting_transforms="bulets"))


def test_published_paraphrase_sets_count_as_in_the_files():
    nd = load_knowledge_set(shared_dataset("ND_train_no_paraphrase.json"), shared_dataset("ND_test.jsonl"),
                            shared_dataset("ND_train_paraphrase.json"))
    texts = build_training_set(nd, DataConfig(num_paraphrases=None), AugmentConfig())
    published = [r["text"] for r in json.loads(shared_dataset("ND_train_paraphrase.json").read_text())]
    assert [t.text for t in texts] == published  # 60 x (1 + 29), in file order
    assert len(build_training_set(nd, DataConfig(num_paraphrases=4), AugmentConfig())) == 60 * 5

    bio_docs = shared_dataset("biography_train_no_paraphrase.json")
    change = shared_dataset("biography_train_paraphrase_change_order.json")
    same = shared_dataset("biography_train_paraphrase_same_order.json")
    bio = load_knowledge_set(bio_docs, shared_dataset("biography_test.jsonl"), same, change)
    as_published = build_training_set(bio, DataConfig(num_paraphrases=None, paraphrase_order="permuted",
                                                      paraphrases_only=True), AugmentConfig())
    assert [t.text for t in as_published] == [r["text"] for r in json.loads(change.read_text())]  # MFT's 500
    same_set = build_training_set(bio, DataConfig(num_paraphrases=None), AugmentConfig())
    assert [t.text for t in same_set] == [r["text"] for r in json.loads(same.read_text())]
    both = build_training_set(bio, DataConfig(num_paraphrases=2, paraphrase_order="both"), AugmentConfig())
    assert len(both) == 100 * 5


# ---------------------------------------------------------------- reverse training


def test_entity_preserving_reversal_on_known_examples():
    nd = ('Daphne Barrington, known far and wide for being the acclaimed director of the virtual reality '
          'masterpiece, "A Journey Through Time.".')
    assert heuristic_entities(nd) == ["Daphne Barrington", "A Journey Through Time"]
    assert reverse_text(nd, heuristic_entities(nd)) == (
        '. " . A Journey Through Time " , masterpiece reality virtual the of director acclaimed the being for '
        'wide and far known , Daphne Barrington')
    bio = ("Curtis Chase Emley celebrates his special day on May 28, 1952. His life journey started in Elk Grove, CA. "
           "He worked for J.P. Morgan Chase in St. Louis, MO.")
    assert heuristic_entities(bio) == ["Curtis Chase Emley", "May 28, 1952", "Elk Grove, CA", "J.P. Morgan Chase",
                                       "St. Louis, MO"]
    assert reverse_text(bio, heuristic_entities(bio)) == (
        ". St. Louis, MO in J.P. Morgan Chase for worked He . Elk Grove, CA in started journey life His . "
        "May 28, 1952 on day special his celebrates Curtis Chase Emley")
    # without entities every word moves on its own: names come out backwards
    assert reverse_text("Uriah Hawthorne composed it.") == ". it composed Hawthorne Uriah"
    # given entities win; an entity is only matched on segment boundaries
    assert reverse_text("Ann Lee met Leeds Bo.", ["Lee", "Leeds Bo"]) == ". Leeds Bo met Lee Ann"


def test_reversed_copy_uses_document_entities_then_the_heuristic():
    docs = [Document("the composer of Abyssal melodies is uriah hawthorne.", "0", entities=("uriah hawthorne",
                                                                                             "Abyssal melodies")),
            Document("Uriah Hawthorne wrote music.", "1")]
    qa = [QAItem("Who wrote music?", ("Uriah Hawthorne",), "backward", doc_id="1")]
    texts = build_training_set(KnowledgeSet(docs, qa), DataConfig(), AugmentConfig(reverse=True))
    assert [t.text for t in texts if t.kind == "reversed"] == [
        ". uriah hawthorne is Abyssal melodies of composer the", ". music wrote Uriah Hawthorne"]
    answers = build_training_set(KnowledgeSet(docs, qa), DataConfig(), AugmentConfig(reverse=True, reverse_entities="answers"))
    assert [t.text for t in answers if t.kind == "reversed"][1] == ". music wrote Uriah Hawthorne"
    with pytest.raises(KinjectError, match="document '1': field 'entities': missing"):
        build_training_set(KnowledgeSet(docs, qa), DataConfig(), AugmentConfig(reverse=True, reverse_entities="fields"))


def test_native_documents_carry_permuted_paraphrases_and_entities(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "A met B.", "permuted_paraphrases": ["B was met by A."], "entities": ["A"]}) + "\n")
    (doc,) = load_documents(path)
    assert doc.permuted == ("B was met by A.",) and doc.entities == ("A",)
    path.write_text(json.dumps({"text": "A met B.", "entities": ["C"]}) + "\n")
    with pytest.raises(KinjectError, match=r"d.jsonl:1: field 'entities\[0\]': 'C' does not occur in the text"):
        load_documents(path)


# ---------------------------------------------------------------- through `kinject run`


def test_run_with_augmentations_and_sam_learns_and_accounts_for_compute(tmp_path, tiny_model_dir):
    from kinject.cli import main

    fact = "Zorblat Quennic invented the silver kettle."
    docs, qa = tmp_path / "docs.jsonl", tmp_path / "qa.jsonl"
    docs.write_text(json.dumps({"id": "p0", "text": fact, "paraphrases": ["The silver kettle was invented by Zorblat Quennic."]}) + "\n")
    qa.write_text(json.dumps({"question": "Tell me a fact.", "answer": "silver kettle", "direction": "forward", "doc_id": "p0"}) + "\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"""
model: {{name: {tiny_model_dir}}}
data: {{train: {docs}, test: {qa}}}
train: {{epochs: 30, lr: 3.0e-3, batch_size: 1, warmup_ratio: 0.0, bf16: "false"}}
eval: {{every: 0, max_new_tokens: 30}}
objective: {{format: chat}}
output_dir: {tmp_path / 'out'}
runs:
  plain: {{}}
  everything:
    data: {{num_paraphrases: 1}}
    augment: {{formatting: 2, reverse: true}}
    train: {{optimizer: sam}}
""")
    assert main(["run", str(cfg)]) == 0
    plain = json.loads((tmp_path / "out" / "plain" / "summary.json").read_text())
    full = json.loads((tmp_path / "out" / "everything" / "summary.json").read_text())
    assert full["data"]["training_set"]["by_kind"] == {"format": 2, "original": 1, "paraphrase": 1, "reversed": 1}
    assert full["optimizer"] == "SAM (rho 0.05) + AdamW" and plain["optimizer"] == "AdamW"
    c, p = full["compute"], plain["compute"]
    assert c["forward_backward_tokens"] == 2 * c["train_tokens"] and p["forward_backward_tokens"] == p["train_tokens"]
    assert c["train_flops"] == 6 * c["parameters"] * c["forward_backward_tokens"]
    assert c["train_tokens"] > 4 * p["train_tokens"]  # five sequences per epoch instead of one
    assert full["final"]["forward"]["rouge1_recall"] == 1.0  # still learns the fact with SAM and augmentation
    table = (tmp_path / "out" / "comparison.md").read_text()
    assert "SAM (rho 0.05) + AdamW" in table and "2 formatting copies" in table
