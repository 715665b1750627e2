"""Loaders on the published files (skipped without ../shared), malformed inputs, the generator."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import shared_dataset
from kinject.cli import main
from kinject.data.generate import MAX_PEOPLE, generate_name_description, write_name_description
from kinject.data.loaders import load_documents, load_knowledge_set, load_questions, sniff
from kinject.errors import KinjectError
from kinject.tasks.knowledge import link_questions

# ---------------------------------------------------------------- published files


def test_name_description_counts_and_directions():
    ks = load_knowledge_set(shared_dataset("ND_train_no_paraphrase.json"), shared_dataset("ND_test.jsonl"),
                            shared_dataset("ND_train_paraphrase.json"))
    assert len(ks.documents) == 60 and len(ks.questions) == 480
    assert [d.id for d in ks.documents[:3]] == ["0", "1", "2"]
    assert all(len(d.paraphrases) == 29 for d in ks.documents)  # 30 per block, the original dropped
    assert Counter(q.direction for q in ks.questions) == {"forward": 240, "backward": 240}
    table = Counter((q.group, q.task, q.direction) for q in ks.questions)
    assert table == {
        ("NameIsDescription", "N2D", "forward"): 120, ("NameIsDescription", "D2N", "backward"): 120,
        ("DescriptionIsName", "N2D", "backward"): 120, ("DescriptionIsName", "D2N", "forward"): 120,
    }
    linked = link_questions(ks)
    assert [q.doc_id for q in linked.questions[:9]] == ["0"] * 8 + ["1"]
    assert linked.questions[0].answers[0] in ks.documents[0].text


@pytest.mark.parametrize("paraphrases", ["biography_train_paraphrase_same_order.json",
                                         "biography_train_paraphrase_change_order.json"])
def test_biography_counts_and_directions(paraphrases):
    same = "same_order" in paraphrases
    ks = load_knowledge_set(shared_dataset("biography_train_no_paraphrase.json"), shared_dataset("biography_test.jsonl"),
                            shared_dataset(paraphrases) if same else None, None if same else shared_dataset(paraphrases))
    assert len(ks.documents) == 100 and len(ks.questions) == 900
    assert Counter(q.direction for q in ks.questions) == {"forward": 600, "backward": 300}
    assert Counter((q.group, q.task, q.direction) for q in ks.questions) == {
        ("", "N2D", "forward"): 600, ("", "D2N", "backward"): 300}
    if same:
        assert [len(d.paraphrases) for d in ks.documents] == [4] * 100  # record 5*i is the original
    else:  # permuted sets keep all 5, also the one shuffle that equals the original
        assert [len(d.permuted) for d in ks.documents] == [5] * 100
        assert sum(d.text in d.permuted for d in ks.documents) == 1
    assert "\u2013" in "".join(d.text for d in ks.documents)  # en dash decoded


def test_sniff_published_files():
    assert sniff(shared_dataset("ND_train_no_paraphrase.json")) == "documents"
    assert sniff(shared_dataset("biography_test.jsonl")) == "questions"


# ---------------------------------------------------------------- native format


def test_native_documents_and_questions(tmp_path):
    docs = tmp_path / "d.jsonl"
    docs.write_text("\ufeff" + json.dumps({"text": "A is B.", "paraphrases": ["A is B.", "B is what A is."]})
                    + "\n\n" + json.dumps({"text": "C is D.", "id": "c"}) + "\n")
    qa = tmp_path / "q.jsonl"
    qa.write_text(json.dumps({"question": "What is A?", "answers": ["B", "b"], "direction": "forward", "doc_id": "0"}) + "\n"
                  + json.dumps({"group": "DescriptionIsName", "task": "N2D", "question": "Q?", "answer": "A"}) + "\n")
    ks = load_knowledge_set(docs, qa)
    assert [(d.id, d.paraphrases) for d in ks.documents] == [("0", ("B is what A is.",)), ("c", ())]
    assert [(q.answers, q.direction, q.doc_id) for q in ks.questions] == [(("B", "b"), "forward", "0"), (("A",), "backward", "")]
    assert (sniff(docs), sniff(qa)) == ("documents", "questions")


# ---------------------------------------------------------------- malformed inputs

NATIVE_QA = {"question": "Who?", "answer": "A", "direction": "forward"}
PUBLISHED_QA = {"group": "", "task": "N2D", "question": "Q?", "answer": "A"}
CASES = [
    ("q.jsonl", json.dumps(NATIVE_QA) + '\n{"question": "x"\n', load_questions,
     "q.jsonl:2: invalid JSON (Expecting ',' delimiter)"),
    ("q.jsonl", json.dumps({"question": "Who?", "direction": "forward"}), load_questions, "q.jsonl:1: field 'answer': missing"),
    ("q.jsonl", json.dumps({"group": "", "task": "N2D", "question": "Q?"}), load_questions, "q.jsonl:1: field 'answer': missing"),
    ("q.jsonl", json.dumps({**NATIVE_QA, "question": "  "}), load_questions, "q.jsonl:1: field 'question': must be a non-empty string"),
    ("q.jsonl", json.dumps({**NATIVE_QA, "direction": "up"}), load_questions,
     "q.jsonl:1: field 'direction': unknown direction 'up' (expected forward or backward)"),
    ("q.jsonl", json.dumps({**NATIVE_QA, "answer": 3}), load_questions,
     "q.jsonl:1: field 'answer': must be a non-empty string or a non-empty list of strings, got number"),
    ("q.jsonl", json.dumps({**NATIVE_QA, "answer": []}), load_questions,
     "q.jsonl:1: field 'answer': must be a non-empty string or a non-empty list of strings, got an empty array"),
    ("q.jsonl", "\n" + json.dumps({"question": "Who?", "answers": ["A", ""], "direction": "forward"}), load_questions,
     "q.jsonl:2: field 'answers[1]': must be a non-empty string"),
    ("q.jsonl", json.dumps({**NATIVE_QA, "answers": ["A"]}), load_questions,
     "q.jsonl:1: field 'answers': give 'answer' or 'answers', not both"),
    ("q.jsonl", json.dumps({**PUBLISHED_QA, "group": None}), load_questions, "q.jsonl:1: field 'group': must be a string, got null"),
    ("q.jsonl", json.dumps({**PUBLISHED_QA, "task": "X2Y"}), load_questions,
     "q.jsonl:1: field 'task': unknown task 'X2Y' (expected N2D or D2N)"),
    ("q.jsonl", json.dumps({**NATIVE_QA, "answr": "A"}), load_questions,
     "q.jsonl:1: field 'answr': unknown key (allowed: answer, answers, direction, doc_id, group, question, task)"),
    ("q.jsonl", "\n\n", load_questions, "q.jsonl: file is empty"),
    ("q.jsonl", "[1, 2]", load_questions, "q.jsonl: record 0: expected a JSON object, got number"),
    ("q.jsonl", '"just a string"\n', load_questions, "q.jsonl:1: expected a JSON object, got string"),
    ("q.jsonl", b'{"question": "caf\xe9"}\n', load_questions, "q.jsonl:1: not valid UTF-8 (byte 17)"),
    ("d.json", json.dumps({"text": "x"}), load_documents, "d.json: top-level value must be a JSON array of objects, got object"),
    ("d.json", "[]", load_documents, "d.json: no records"),
    ("d.json", json.dumps([{"text": 5}]), load_documents, "d.json: record 0: field 'text': must be a string, got number"),
    ("d.json", json.dumps([{"text": "fine"}, {"text": ""}]), load_documents, "d.json: record 1: field 'text': must be a non-empty string"),
    ("d.json", json.dumps([{"id": "a"}]), load_documents, "d.json: record 0: field 'text': missing"),
    ("d.jsonl", json.dumps({"id": "a", "text": "x"}) + "\n" + json.dumps({"id": "a", "text": "y"}), load_documents,
     "d.jsonl:2: field 'id': duplicate id 'a' (first at {path}:1)"),
    ("d.jsonl", json.dumps({"id": "1", "text": "x"}) + "\n" + json.dumps({"text": "y"}), load_documents,
     "d.jsonl:2: field 'id': duplicate id '1' (first at {path}:1)"),
    ("d.json", json.dumps([{"text": "x", "title": "t"}]), load_documents,
     "d.json: record 0: field 'title': unknown key (allowed: entities, id, paraphrases, permuted_paraphrases, text)"),
    ("d.jsonl", json.dumps({"text": "x", "paraphrases": "y"}), load_documents,
     "d.jsonl:1: field 'paraphrases': must be a list of strings, got string"),
    ("d.json", "[{\"text\": \"x\"},\n", load_documents, "d.json:2: invalid JSON (Expecting value)"),
    ("d.jsonl", json.dumps({"id": "a"}), sniff, "d.jsonl:1: cannot tell documents (field 'text') from questions (field 'question')"),
]


@pytest.mark.parametrize("name, content, load, expected", CASES, ids=[c[3][:48] for c in CASES])
def test_malformed_inputs_give_one_exact_line(tmp_path, name, content, load, expected):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(KinjectError) as err:
        load(path)
    assert str(err.value) == f"{tmp_path}/" + expected.replace("{path}", str(path))


def test_missing_file_directory_and_bad_paraphrases(tmp_path):
    with pytest.raises(KinjectError) as err:
        load_questions(tmp_path / "nope.jsonl")
    assert str(err.value) == f"{tmp_path}/nope.jsonl: file not found"
    with pytest.raises(KinjectError) as err:
        load_documents(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a directory, not a file"
    docs = tmp_path / "d.json"
    docs.write_text(json.dumps([{"text": "a"}, {"text": "b"}]))
    para = tmp_path / "p.json"
    para.write_text(json.dumps([{"text": "x"}] * 3))
    with pytest.raises(KinjectError) as err:
        load_documents(docs, para)
    assert str(err.value) == f"{para}: 3 paraphrases is not a multiple of the 2 documents"
    para.write_text(json.dumps([{"text": "x"}, {"text": "y", "id": "1"}]))
    with pytest.raises(KinjectError) as err:
        load_documents(docs, para)
    assert str(err.value) == f"{para}: record 1: field 'id': unknown key (allowed: text)"


def test_question_doc_id_must_name_a_document(tmp_path):
    docs = tmp_path / "d.jsonl"
    docs.write_text(json.dumps({"id": "p0", "text": "x"}) + "\n")
    qa = tmp_path / "q.jsonl"
    qa.write_text(json.dumps({**NATIVE_QA, "doc_id": "p0"}) + "\n" + json.dumps({**NATIVE_QA, "doc_id": "p1"}) + "\n")
    with pytest.raises(KinjectError) as err:
        load_knowledge_set(docs, qa)
    assert str(err.value) == f"{qa}:2: field 'doc_id': no document with id 'p1' in {docs}"


# ---------------------------------------------------------------- generator


def test_generator_is_seeded_and_atomic(tmp_path):
    a = write_name_description(tmp_path / "a", 24, seed=3)
    b = write_name_description(tmp_path / "b", 24, seed=3)
    c = write_name_description(tmp_path / "c", 24, seed=4)
    assert [p.name for p in a] == ["documents.jsonl", "questions.jsonl"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    names = lambda paths: {json.loads(line)["answer"] for line in paths[1].read_text().splitlines()}
    assert names(a) != names(c)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [  # meta records, no temp files left
        "documents.jsonl", "documents.jsonl.meta.json", "questions.jsonl", "questions.jsonl.meta.json"]
    with pytest.raises(KinjectError, match=f"between 1 and {MAX_PEOPLE}, got 0"):
        generate_name_description(0, seed=0)


@pytest.mark.parametrize("n_people", [24, 200])
def test_generator_people_are_unique_balanced_and_consistent(n_people):
    docs, questions = generate_name_description(n_people, seed=3)
    names = [q["answer"] for q in questions if q["task"] == "D2N"][::2]
    descs = [q["answer"] for q in questions if q["task"] == "N2D"][::2]
    assert len(set(names)) == len(set(descs)) == len({d.split(" who ")[-1] for d in descs}) == n_people
    assert len({n.split()[0] for n in names[:37]}) == min(n_people, 37)  # no first name repeated early on
    for prefix in (2, 10, n_people):
        assert Counter(q["direction"] for q in questions[: 4 * prefix]) == {"forward": 2 * prefix, "backward": 2 * prefix}
    by_id = {d["id"]: d["text"] for d in docs}
    for q in questions:
        text = by_id[q["doc_id"]]
        assert q["answer"] in text
        name_first = q["group"] == "NameIsDescription"
        assert name_first == (not text.startswith("Known for being"))
        assert (q["direction"] == "forward") == ((q["task"] == "N2D") == name_first)
    for name, doc in zip(names, docs):  # no one else's name leaks into a document
        assert sum(name in d["text"] for d in docs) == 1 and name in doc["text"]
    assert all(len({q["question"] for q in questions if q["doc_id"] == d["id"]}) == 4 for d in docs)


def test_generated_rewrites_keep_the_facts_and_set_the_order():
    docs, _ = generate_name_description(10, seed=0)
    for d in docs:
        name, desc = d["entities"]
        name_first = not d["text"].startswith("Known for being")
        assert len(d["paraphrases"]) == len(d["permuted_paraphrases"]) == 4
        for rewrite, keeps_order in [(p, True) for p in d["paraphrases"]] + [(p, False) for p in d["permuted_paraphrases"]]:
            low = rewrite.lower()
            assert name in rewrite and desc.lower() in low  # facts verbatim ("The ..." may start a sentence)
            assert (low.index(name.lower()) < low.index(desc.lower())) == (name_first == keeps_order)
    assert generate_name_description(10, seed=0) == (docs, _)


def test_generated_files_load(tmp_path):
    docs, qa = write_name_description(tmp_path, 30, seed=1)
    ks = load_knowledge_set(docs, qa)
    assert len(ks.documents) == 30 and len(ks.questions) == 120
    assert ks.describe()["by_direction"] == {"backward": 60, "forward": 60}
    assert all(q.doc_id in {d.id for d in ks.documents} for q in ks.questions)


def test_data_validate_command(tmp_path, capsys):
    docs, qa = write_name_description(tmp_path, 4, seed=0)
    assert main(["data", "validate", str(docs), str(qa)]) == 0
    out = capsys.readouterr().out
    assert f"{docs}: 4 documents, 16 paraphrases, 16 permuted-order paraphrases" in out
    assert '16 questions; by direction {"backward": 8, "forward": 8}' in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Q", "answer": "A", "direction": "sideways"}) + "\n")
    assert main(["data", "validate", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"kinject: error: {bad}:1: field 'direction': unknown direction 'sideways' (expected forward or backward)"
