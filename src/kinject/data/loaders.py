"""Load knowledge sets: the published formats and kinject's native JSONL.

Documents
    published  a JSON array of {"text": str} (ND_train_no_paraphrase.json, ...)
    native     JSONL, one {"text": str, "id": str?, "paraphrases": [str]?,
               "permuted_paraphrases": [str]?, "entities": [str]?} per line;
               the id defaults to the record's index ("0", "1", ...)
Paraphrases (published)
    a JSON array of {"text": str} in consecutive blocks of k per document, in document order.
    Same-order sets (data.paraphrases): entries identical to their document are dropped (ND's
    record 30*i is the original). Permuted-order sets (data.permuted_paraphrases): every entry is
    kept, as in the file (Biography's record 5*i is the original with its sentences shuffled,
    which for one person is the original order).
Questions
    published  JSONL {"group", "task", "question", "answer"}; direction derived as arXiv 2510.09885 defines it:
               DescriptionIsName: N2D backward, D2N forward; otherwise (NameIsDescription,
               Biography's ""): N2D forward, D2N backward
    native     JSONL {"question", "answer" | "answers", "direction", "group"?, "task"?, "doc_id"?}
    A record with "direction" is native; one with "task" and no "direction" is published.

Every problem is one KinjectError line naming the file, the place and the field:
``path:LINE: field 'x': ...`` for JSONL (1-based line) and ``path: record I: field 'x': ...`` for a
JSON array (I is the 0-based array index, as the dataset README counts records).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from kinject.data.schema import BACKWARD, DIRECTIONS, FORWARD, Document, KnowledgeSet, QAItem
from kinject.errors import KinjectError, located

DOC_KEYS = {"text", "id", "paraphrases", "permuted_paraphrases", "entities"}
PARAPHRASE_KEYS = {"text"}
NATIVE_QA_KEYS = {"question", "answer", "answers", "direction", "group", "task", "doc_id"}
PUBLISHED_QA_KEYS = {"group", "task", "question", "answer"}
TASKS = ("N2D", "D2N")


# ---------------------------------------------------------------- records


def json_type(value) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _read_text(path) -> str:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KinjectError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise KinjectError(f"{path}: is a directory, not a file") from None
    except OSError as e:
        raise KinjectError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise KinjectError(f"{path}:{line}: not valid UTF-8 (byte {e.start})") from None


def _json_array(path, text: str) -> list[tuple[str, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise KinjectError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if not isinstance(data, list):
        raise KinjectError(f"{path}: top-level value must be a JSON array of objects, got {json_type(data)}")
    return [(f"{path}: record {i}", rec) for i, rec in enumerate(data)]


def _json_lines(path, text: str) -> list[tuple[str, object]]:
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((f"{path}:{n}", json.loads(line)))
        except json.JSONDecodeError as e:
            raise KinjectError(f"{path}:{n}: invalid JSON ({e.msg})") from None
    return items


def read_records(path) -> list[tuple[str, dict]]:
    """[(location, record)] from a JSON array (any .json file) or JSONL (one object per line)."""
    text = _read_text(path)
    if not text.strip():
        raise KinjectError(f"{path}: file is empty")
    is_array = Path(path).suffix == ".json" or text.lstrip().startswith("[")
    items = _json_array(path, text) if is_array else _json_lines(path, text)
    if not items:
        raise KinjectError(f"{path}: no records")
    for where, rec in items:
        if not isinstance(rec, dict):
            raise KinjectError(f"{where}: expected a JSON object, got {json_type(rec)}")
    return items


# ---------------------------------------------------------------- fields


def _check_keys(rec: dict, allowed: set, where: str) -> None:
    unknown = sorted(set(rec) - allowed)
    if unknown:
        raise located(where, f"unknown key (allowed: {', '.join(sorted(allowed))})", field=unknown[0])


def _string(rec: dict, key: str, where: str, required: bool = True) -> str:
    """A required non-empty string, or an optional string that defaults to ""."""
    if key not in rec:
        if required:
            raise located(where, "missing", field=key)
        return ""
    value = rec[key]
    if not isinstance(value, str):
        raise located(where, f"must be a string, got {json_type(value)}", field=key)
    if required and not value.strip():
        raise located(where, "must be a non-empty string", field=key)
    return value


def _string_items(values: list, key: str, where: str) -> tuple[str, ...]:
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise located(where, f"must be a string, got {json_type(value)}", field=f"{key}[{i}]")
        if not value.strip():
            raise located(where, "must be a non-empty string", field=f"{key}[{i}]")
    return tuple(values)


def _answers(rec: dict, where: str) -> tuple[str, ...]:
    if "answer" in rec and "answers" in rec:
        raise located(where, "give 'answer' or 'answers', not both", field="answers")
    key = "answers" if "answers" in rec else "answer"
    value = rec.get(key)
    if isinstance(value, str) or key not in rec:
        return (_string(rec, key, where),)
    if not isinstance(value, list) or not value:
        got = "an empty array" if value == [] else json_type(value)
        raise located(where, f"must be a non-empty string or a non-empty list of strings, got {got}", field=key)
    return _string_items(value, key, where)


def _string_list(rec: dict, key: str, where: str) -> tuple[str, ...]:
    value = rec.get(key, [])
    if not isinstance(value, list):
        raise located(where, f"must be a list of strings, got {json_type(value)}", field=key)
    return _string_items(value, key, where)


def _entities(rec: dict, text: str, where: str) -> tuple[str, ...]:
    entities = _string_list(rec, "entities", where)
    for i, entity in enumerate(entities):
        if entity not in text:
            raise located(where, f"{entity!r} does not occur in the text", field=f"entities[{i}]")
    return entities


# ---------------------------------------------------------------- documents


def load_documents(path, paraphrases_path=None, permuted_path=None) -> list[Document]:
    docs, first_seen, seen_text = [], {}, {}
    for i, (where, rec) in enumerate(read_records(path)):
        _check_keys(rec, DOC_KEYS, where)
        text = _string(rec, "text", where)
        doc_id = _string(rec, "id", where) if "id" in rec else str(i)
        if doc_id in first_seen:
            raise located(where, f"duplicate id {doc_id!r} (first at {first_seen[doc_id]})", field="id")
        same = " ".join(text.split())
        if same in seen_text:  # the same document twice would be trained on twice as often
            raise located(where, f"duplicate document (same text as {seen_text[same]})", field="text")
        first_seen[doc_id], seen_text[same] = where, where
        docs.append(Document(
            text=text, id=doc_id,
            paraphrases=tuple(p for p in _string_list(rec, "paraphrases", where) if p != text),
            permuted=_string_list(rec, "permuted_paraphrases", where),
            entities=_entities(rec, text, where)))
    if paraphrases_path:
        docs = attach_paraphrases(docs, paraphrases_path)
    if permuted_path:
        docs = attach_paraphrases(docs, permuted_path, permuted=True)
    return docs


def attach_paraphrases(docs: list[Document], path, permuted: bool = False) -> list[Document]:
    """Block i of k consecutive records belongs to document i. Same-order sets drop copies of the
    document; permuted-order sets keep every record."""
    texts = []
    for where, rec in read_records(path):
        _check_keys(rec, PARAPHRASE_KEYS, where)
        texts.append(_string(rec, "text", where))
    per_doc, rest = divmod(len(texts), len(docs))
    if rest or not per_doc:
        raise KinjectError(f"{path}: {len(texts)} paraphrases is not a multiple of the {len(docs)} documents")
    out = []
    for i, doc in enumerate(docs):
        block = tuple(texts[i * per_doc : (i + 1) * per_doc])
        if permuted:
            out.append(replace(doc, permuted=doc.permuted + block))
        else:
            out.append(replace(doc, paraphrases=doc.paraphrases + tuple(t for t in block if t != doc.text)))
    return out


# ---------------------------------------------------------------- questions


def published_direction(group: str, task: str, where: str) -> str:
    """N2D asks for what follows the name; it is forward when the name comes first in training."""
    if task not in TASKS:
        raise located(where, f"unknown task {task!r} (expected N2D or D2N)", field="task")
    name_first = group != "DescriptionIsName"
    return FORWARD if (task == "N2D") == name_first else BACKWARD


def _native_question(rec: dict, where: str) -> QAItem:
    _check_keys(rec, NATIVE_QA_KEYS, where)
    question = _string(rec, "question", where)
    answers = _answers(rec, where)
    direction = _string(rec, "direction", where)
    if direction not in DIRECTIONS:
        raise located(where, f"unknown direction {direction!r} (expected forward or backward)", field="direction")
    group, task, doc_id = (_string(rec, key, where, required=False) for key in ("group", "task", "doc_id"))
    return QAItem(question, answers, direction, group, task, doc_id)


def _published_question(rec: dict, where: str) -> QAItem:
    _check_keys(rec, PUBLISHED_QA_KEYS, where)
    group = _string(rec, "group", where, required=False)
    task = _string(rec, "task", where)
    question = _string(rec, "question", where)
    answer = _string(rec, "answer", where)
    return QAItem(question, (answer,), published_direction(group, task, where), group, task)


def _located_questions(path) -> list[tuple[str, QAItem]]:
    out = []
    for where, rec in read_records(path):
        published = "task" in rec and "direction" not in rec
        out.append((where, (_published_question if published else _native_question)(rec, where)))
    return out


def load_questions(path) -> list[QAItem]:
    return [q for _, q in _located_questions(path)]


# ---------------------------------------------------------------- sets


def sniff(path) -> str:
    """'documents', 'questions' or 'math' (GSM8K / prompt-response pairs), from the first record's keys."""
    where, first = read_records(path)[0]
    if set(first) <= {"prompt", "response"} and first or (set(first) == {"question", "answer"}
                                                           and "####" in str(first.get("answer"))):
        return "math"
    if "question" in first:
        return "questions"
    if "text" in first:
        return "documents"
    raise KinjectError(f"{where}: cannot tell documents (field 'text') from questions (field 'question')")


def load_knowledge_set(train, test, paraphrases=None, permuted=None) -> KnowledgeSet:
    documents = load_documents(train, paraphrases, permuted)
    ids = {doc.id for doc in documents}
    questions = []
    for where, q in _located_questions(test):
        if q.doc_id and q.doc_id not in ids:
            raise located(where, f"no document with id {q.doc_id!r} in {train}", field="doc_id")
        questions.append(q)
    return KnowledgeSet(documents, questions)
