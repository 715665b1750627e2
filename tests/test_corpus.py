"""Large corpora through the datasets library (data.corpus): memory-mapped or streamed, chunked,
packed; length grouping; the bad-input messages."""

from __future__ import annotations

import json

import pytest

from kinject.cli import main
from kinject.config import ObjectiveConfig
from kinject.data.corpus import corpus_features, load_corpus
from kinject.data.packing import sequence_budget
from kinject.errors import KinjectError
from kinject.objectives.base import encode_text
from kinject.objectives.standard import StandardObjective

DOCS = ["Daphne Barrington directed a film.",
        "Uriah Hawthorne composed the first underwater symphony, and now enjoys a quiet life by the sea.",
        "Zorblat invented a kettle.",
        "Known for being the composer of a symphony, Uriah now enjoys a quiet life. " * 3,
        "Mira painted a bridge.",
        "Corvin Ashdale wrote a long book on river stones, their colours, their weight and their songs."]


def write_jsonl(path, docs, field="text"):
    path.write_text("".join(json.dumps({field: d, "source": "test"}) + "\n" for d in docs))
    return path


def rows(ds) -> list[dict]:
    return [dict(r) for r in ds]


@pytest.fixture()
def objective(tokenizer):
    return StandardObjective(ObjectiveConfig(format="chat"), tokenizer)


def test_memory_mapped_corpus_builds_the_same_sequences_as_the_documents_file(tmp_path, tokenizer, objective):
    corpus = load_corpus(str(write_jsonl(tmp_path / "c.jsonl", DOCS)))
    features = corpus_features(corpus, objective, tokenizer, "c.jsonl", "text", 512, too_long="error", packing=False)
    assert features.cache_files  # memory-mapped Arrow, not a Python list
    expected = [objective.build(encode_text(tokenizer, d)) for d in DOCS]
    got = rows(features)
    assert [r["input_ids"] for r in got] == [e["input_ids"] for e in expected]
    assert [r["labels"] for r in got] == [e["labels"] for e in expected]
    assert [r["length"] for r in got] == [len(e["input_ids"]) for e in expected]


def test_streamed_saved_and_parquet_corpora_give_the_same_packed_rows(tmp_path, tokenizer, objective):
    import datasets

    jsonl = str(write_jsonl(tmp_path / "c.jsonl", DOCS))
    datasets.Dataset.from_list([{"text": d} for d in DOCS]).save_to_disk(str(tmp_path / "saved"))
    datasets.Dataset.from_list([{"text": d} for d in DOCS]).to_parquet(str(tmp_path / "c.parquet"))
    build = lambda ds: rows(corpus_features(ds, objective, tokenizer, "c", "text", 96, too_long="error", packing=True))
    saved = sorted((tmp_path / "saved").iterdir())
    mapped = build(load_corpus(jsonl))
    assert len(mapped) < len(DOCS) and sum(r["sequences"] for r in mapped) == len(DOCS)
    assert all(r["length"] <= 96 for r in mapped)
    for other in (load_corpus(jsonl, streaming=True), load_corpus(str(tmp_path / "saved")),
                  load_corpus(str(tmp_path / "saved"), streaming=True), load_corpus(str(tmp_path / "c.parquet"))):
        got = build(other)
        assert [r["input_ids"] for r in got] == [r["input_ids"] for r in mapped]
        assert [r["segment"] for r in got] == [r["segment"] for r in mapped]
    assert sorted((tmp_path / "saved").iterdir()) == saved  # map's cache went elsewhere, not into the user's folder


def test_long_documents_are_chunked_or_refused(tmp_path, tokenizer, objective):
    corpus = load_corpus(str(write_jsonl(tmp_path / "c.jsonl", DOCS)))
    with pytest.raises(KinjectError, match=r"c.jsonl: record 3: field 'text': \d+ tokens.*data.too_long=chunk or truncate"):
        corpus_features(corpus, objective, tokenizer, "c.jsonl", "text", 64, too_long="error", packing=False)
    chunked = rows(corpus_features(corpus, objective, tokenizer, "c.jsonl", "text", 64, too_long="chunk", packing=False))
    assert len(chunked) > len(DOCS) and all(r["length"] <= 64 for r in chunked)
    document = [t for r in chunked for t, target in zip(r["input_ids"], r["target"]) if target]
    assert document == [t for d in DOCS for t in encode_text(tokenizer, d)]  # every token, in order, once
    truncated = rows(corpus_features(corpus, objective, tokenizer, "c.jsonl", "text", 64, too_long="truncate",
                                     packing=False))
    too_long = sum(len(encode_text(tokenizer, d)) > sequence_budget(objective, 64) for d in DOCS)
    assert len(truncated) == len(DOCS) and sum(r["truncated"] for r in truncated) == too_long >= 1  # counted
    assert all(r["length"] <= 64 for r in truncated)
    kept = [t for t, target in zip(truncated[3]["input_ids"], truncated[3]["target"]) if target]
    assert kept == encode_text(tokenizer, DOCS[3])[: len(kept)] and len(kept) < len(encode_text(tokenizer, DOCS[3]))


def test_bad_corpora_get_one_line_errors(tmp_path, tokenizer, objective):
    wrong_field = load_corpus(str(write_jsonl(tmp_path / "w.jsonl", DOCS, field="body")))
    with pytest.raises(KinjectError, match=r"w.jsonl: record 0: field 'text' missing \(fields: body, source\)"):
        corpus_features(wrong_field, objective, tokenizer, "w.jsonl", "text", 512, "error", False)
    empty = load_corpus(str(write_jsonl(tmp_path / "e.jsonl", ["fine", "  "])))
    with pytest.raises(KinjectError, match=r"e.jsonl: record 1: field 'text': empty"):
        corpus_features(empty, objective, tokenizer, "e.jsonl", "text", 512, "error", False)
    (tmp_path / "c.xml").write_text("<doc/>")
    with pytest.raises(KinjectError, match=r"c.xml: cannot tell the format"):
        load_corpus(str(tmp_path / "c.xml"))
    (tmp_path / "broken.jsonl").write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(KinjectError, match=r"broken.jsonl: cannot read as a corpus"):
        load_corpus(str(tmp_path / "broken.jsonl"))


def run_config(tmp_path, model_dir, name: str, extra: str) -> str:
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps({"question": f"Tell me about {d.split()[0]}.", "answer": d,
                                      "direction": "forward"}) + "\n" for d in DOCS))
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"""
model: {{name: {model_dir}}}
data: {{corpus: {tmp_path / 'c.jsonl'}, test: {qa}}}
objective: {{format: chat}}
train: {{epochs: 2, lr: 3.0e-3, batch_size: 2, bf16: "false", max_length: 256}}
eval: {{every: 0, max_new_tokens: 6}}
output_dir: {tmp_path / name}
{extra}
""")
    return str(cfg)


def test_runs_on_a_corpus_streamed_packed_and_grouped(tmp_path, tiny_model_dir):
    write_jsonl(tmp_path / "c.jsonl", DOCS * 8)  # enough for the sampler's mega-batches (8 x batch size)
    summaries = {}
    for name, overrides in (("plain", []), ("grouped", ["train.group_by_length=true"]),
                            ("streamed", ["data.streaming=true", "train.max_steps=4", "train.packing=true"])):
        assert main(["run", run_config(tmp_path, tiny_model_dir, name, ""), *overrides]) == 0
        summaries[name] = json.loads((tmp_path / name / "summary.json").read_text())
    plain, grouped, streamed = summaries["plain"], summaries["grouped"], summaries["streamed"]
    assert plain["data"]["corpus_documents"] == 48 and plain["data"]["training_sequences"] == 48
    assert plain["final"]["forward"]["n"] == len(DOCS)
    # same tokens, less padding
    assert grouped["timing"]["train_tokens"] == plain["timing"]["train_tokens"]
    assert grouped["timing"]["padding_fraction"] < plain["timing"]["padding_fraction"]
    # a stream has no length: max_steps steps, counts unknown up front
    log = [json.loads(line) for line in (tmp_path / "streamed" / "train_log.jsonl").read_text().splitlines()]
    assert max(r.get("step", 0) for r in log) == 4 and streamed["data"]["training_sequences"] is None


def test_corpus_options_are_checked_before_anything_runs(tmp_path, tiny_model_dir, capsys):
    write_jsonl(tmp_path / "c.jsonl", DOCS)
    cfg = run_config(tmp_path, tiny_model_dir, "bad", "")
    assert main(["run", cfg, "data.streaming=true"]) == 2
    assert "train.max_steps': is needed with data.streaming" in capsys.readouterr().err
    assert main(["run", cfg, "augment.formatting=2"]) == 2
    assert "augment.formatting': applies to data.train, not to data.corpus" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
