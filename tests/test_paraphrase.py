"""Paraphrase generation: a valid documents file, token accounting, resume without duplicates
(ending with the file an uninterrupted job writes), caching, and refusal of mismatched settings."""

from __future__ import annotations

import json

import pytest

import kinject.models.loading as loading
from kinject.augment.paraphrase import generate_paraphrases, meta_path, partial_path
from kinject.cli import main
from kinject.config import ModelConfig, ParaphraseConfig
from kinject.data.loaders import load_documents
from kinject.errors import KinjectError

TEXTS = ["Daphne Barrington directed a film.", "Uriah Hawthorne composed a symphony.", "Ann Lee lives in Paris.",
         "Bo Chen works at HP.", "Cy Dore was born in 1952."]


@pytest.fixture()
def docs(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    return path


def settings(**kw):
    return ParaphraseConfig(count=2, orders="both", batch_size=4, max_new_tokens=12, **kw)


def test_writes_a_valid_documents_file_with_token_counts(tmp_path, docs, tiny_model_dir):
    out = tmp_path / "para.jsonl"
    meta = generate_paraphrases(docs, out, settings(), ModelConfig(name=str(tiny_model_dir)), progress=False)
    loaded = load_documents(out)
    assert [d.text for d in loaded] == TEXTS and [d.id for d in loaded] == [f"d{i}" for i in range(5)]
    n_same = sum(len(d.paraphrases) for d in loaded)
    n_perm = sum(len(d.permuted) for d in loaded)
    assert meta["paraphrases"] == {"same": n_same, "permuted": n_perm}
    assert n_same + n_perm + meta["empty_outputs"] == 5 * 2 * 2
    assert 0 < meta["generated_tokens"] <= 5 * 4 * 12  # at most max_new_tokens per request
    assert meta["prompt_tokens"] > 0 and meta["estimated_flops"] > 0 and meta["generation_seconds"] >= 0
    assert 0 <= meta["kept_all_names"] <= 1
    assert json.loads(meta_path(out).read_text()) == meta and not partial_path(out).exists()


def test_resume_after_interruption_has_no_duplicates_and_matches_an_uninterrupted_job(tmp_path, docs, tiny_model_dir):
    model = ModelConfig(name=str(tiny_model_dir))
    whole = tmp_path / "whole" / "para.jsonl"
    generate_paraphrases(docs, whole, settings(), model, progress=False)

    out = tmp_path / "para.jsonl"
    with pytest.raises(KeyboardInterrupt):
        generate_paraphrases(docs, out, settings(), model, progress=False, stop_after_chunks=2)
    assert not out.exists()
    written = partial_path(out).read_text().splitlines()[1:]
    assert [json.loads(line)["id"] for line in written] == ["d0", "d1"]
    with open(partial_path(out), "a") as f:
        f.write('{"id": "d2", "text": "torn')  # killed in the middle of a write
    generate_paraphrases(docs, out, settings(), model, progress=False)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["d0", "d1", "d2", "d3", "d4"]  # each once, in input order
    assert out.read_text() == whole.read_text()  # chunk seeds make the resumed job draw the same


def test_a_complete_file_is_reused_and_other_settings_are_refused(tmp_path, docs, tiny_model_dir, monkeypatch):
    model = ModelConfig(name=str(tiny_model_dir))
    out = tmp_path / "para.jsonl"
    first = generate_paraphrases(docs, out, settings(), model, progress=False)

    def no_model(*a, **k):
        raise AssertionError("the model must not load for a cached file")

    monkeypatch.setattr(loading, "load_model_and_tokenizer", no_model)
    assert generate_paraphrases(docs, out, settings(), model, progress=False) == first
    with pytest.raises(KinjectError, match="exists but was not written with these paraphrase settings"):
        generate_paraphrases(docs, out, settings(seed=1), model, progress=False)


def test_cli(tmp_path, docs, tiny_model_dir, capsys):
    out = tmp_path / "p.jsonl"
    assert main(["paraphrase", str(docs), str(out), f"paraphrase.model={tiny_model_dir}",
                 "paraphrase.count=1", "paraphrase.max_new_tokens=8"]) == 0
    assert "5 documents" in capsys.readouterr().out
    assert main(["paraphrase", str(docs), str(out), "train.lr=1"]) == 2
    assert "paraphrase.* and model.* keys only" in capsys.readouterr().err
