"""End to end on a tiny local model: `kinject run` trains, changes weights, lowers loss, raises
QA accuracy, and leaves a complete run directory."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from kinject.cli import main

FACT = "Zorblat Quennic invented the silver kettle."
RUN_FILES = ["config.yaml", "metrics.jsonl", "summary.json", "summary.md", "accuracy.png",
             "generations.jsonl", "train_log.jsonl"]


@pytest.fixture()
def tiny_set(tmp_path):
    docs = tmp_path / "docs.jsonl"
    qa = tmp_path / "qa.jsonl"
    docs.write_text(json.dumps({"id": "p0", "text": FACT}) + "\n")
    # The chat-format objective trains "Tell me a fact." -> document, so asking exactly that
    # probes whether the fact was learned; both directions are present so both get reported.
    qa.write_text(
        json.dumps({"question": "Tell me a fact.", "answer": "silver kettle", "direction": "forward", "doc_id": "p0"}) + "\n"
        + json.dumps({"question": "Tell me a fact.", "answer": "Zorblat Quennic", "direction": "backward", "doc_id": "p0"}) + "\n"
    )
    return docs, qa


def config_file(tmp_path, model_dir, docs, qa, runs: str) -> str:
    path = tmp_path / "cfg.yaml"
    path.write_text(f"""
model: {{name: {model_dir}}}
data: {{train: {docs}, test: {qa}}}
train: {{epochs: 40, lr: 3.0e-3, batch_size: 1, warmup_ratio: 0.0, bf16: "false", seed: 0}}
eval: {{every: 20, max_new_tokens: 40, batch_size: 4}}
objective: {{format: chat}}
output_dir: {tmp_path / 'out'}
save_model: true
runs:
{runs}
""")
    return str(path)


def test_run_trains_and_raises_accuracy(tmp_path, tiny_model_dir, tiny_set):
    docs, qa = tiny_set
    cfg = config_file(tmp_path, tiny_model_dir, docs, qa, "  chat: {}\n  masked: {objective: {name: masked}}")
    assert main(["run", cfg]) == 0
    out = tmp_path / "out"
    assert (out / "comparison.md").exists() and len(json.loads((out / "comparison.json").read_text())) == 2
    for run in ("chat", "masked"):
        d = out / run
        for name in RUN_FILES:
            assert (d / name).stat().st_size > 0, f"{run}/{name} missing or empty"
        summary = json.loads((d / "summary.json").read_text())
        for key in ("before", "final", "best"):
            for direction in ("forward", "backward"):
                assert set(summary[key][direction]) >= {"rouge1_recall", "contains", "rouge1_f1", "n"}
        assert summary["best"]["selected_on"].startswith("test questions")
        assert [m["epoch"] for m in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())] == [0, 20, 40]
        losses = [r["loss"] for r in map(json.loads, (d / "train_log.jsonl").read_text().splitlines()) if "loss" in r]
        assert len(losses) == 40 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
        # weights moved away from the initial checkpoint
        trained = load_file(d / "model" / "model.safetensors")
        initial = load_file(tiny_model_dir / "model.safetensors")
        assert any(not torch.equal(trained[k], initial[k]) for k in initial)
    chat = json.loads((out / "chat" / "summary.json").read_text())
    assert chat["before"]["forward"]["rouge1_recall"] < 0.5
    assert chat["final"]["forward"]["rouge1_recall"] == 1.0  # recites the fact it was trained on
    assert chat["final"]["backward"]["contains"] == 1.0
    masked = json.loads((out / "masked" / "summary.json").read_text())
    assert masked["mask_token"]["token"] == "<|spare_0|>"
    assert masked["timing"]["train_tokens"] > chat["timing"]["train_tokens"]  # the document appears twice


def test_existing_run_directory_is_refused_without_overwrite(tmp_path, tiny_model_dir, tiny_set, capsys):
    docs, qa = tiny_set
    cfg = config_file(tmp_path, tiny_model_dir, docs, qa, "  a: {train: {epochs: 1}, eval: {every: 0}}")
    (tmp_path / "out" / "a").mkdir(parents=True)
    (tmp_path / "out" / "a" / "summary.json").write_text("{}")
    assert main(["run", cfg]) == 2
    assert "output directory already holds files; pass --overwrite" in capsys.readouterr().err
    assert main(["run", cfg, "--overwrite"]) == 0
    assert json.loads((tmp_path / "out" / "a" / "summary.json").read_text())["final"]["epoch"] == 1


def test_only_reruns_one_run_and_the_comparison_keeps_the_others(tmp_path, tiny_model_dir, tiny_set):
    docs, qa = tiny_set
    runs = "  a: {train: {epochs: 1}, eval: {every: 0}}\n  b: {train: {epochs: 2}, eval: {every: 0}}"
    cfg = config_file(tmp_path, tiny_model_dir, docs, qa, runs)
    assert main(["run", cfg]) == 0
    assert main(["run", cfg, "--only", "b", "train.seed=5", "--overwrite"]) == 0  # an override right after --only
    assert yaml.safe_load((tmp_path / "out" / "b" / "config.yaml").read_text())["train"]["seed"] == 5
    rows = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert [r["run"] for r in rows] == ["a", "b"]
    table = (tmp_path / "out" / "comparison.md").read_text()
    assert "| a |" in table and "| b |" in table


def test_bad_data_fails_before_anything_is_written(tmp_path, tiny_model_dir, tiny_set, capsys):
    docs, qa = tiny_set
    qa.write_text(json.dumps({"question": "Q?", "answer": "A", "direction": "sideways"}) + "\n")
    cfg = config_file(tmp_path, tiny_model_dir, docs, qa, "  a: {}")
    assert main(["run", cfg]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"kinject: error: {qa}:1: field 'direction'")
    assert not (tmp_path / "out").exists()


def test_batched_evaluation_equals_one_question_at_a_time(tokenizer):
    from conftest import make_model
    from kinject.data.schema import QAItem
    from kinject.evaluation.qa import evaluate_qa

    tok = tokenizer
    model = make_model(len(tok), seed=1, init_std=1.0)  # large weights: varied, non-trivial generations
    questions = [QAItem(q, ("x",), "forward") for q in
                 ["Who is Daphne?", "Tell me a fact.", "What is the composer known for in the symphony?", "Who?"]]
    _, batched = evaluate_qa(model, tok, questions, batch_size=4, max_new_tokens=12, progress=False)
    single = [evaluate_qa(model, tok, [q], batch_size=1, max_new_tokens=12, progress=False)[1][0] for q in questions]
    assert [r["generated"] for r in batched] == [r["generated"] for r in single]
    assert len({r["generated"] for r in batched}) > 1


def test_eval_command_scores_a_model_directory(tmp_path, tiny_model_dir, tiny_set, capsys):
    _, qa = tiny_set
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_model_dir), "--test", str(qa), "--out", str(out),
                 "--max-new-tokens", "8"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final"]["forward"]["n"] == 1 and summary["final"]["backward"]["n"] == 1
    assert len((out / "generations.jsonl").read_text().splitlines()) == 2
    assert "ROUGE-1 recall" in capsys.readouterr().out


def test_data_generate_command(tmp_path, capsys):
    assert main(["data", "generate", "--out", str(tmp_path), "--people", "6", "--seed", "1"]) == 0
    assert len((tmp_path / "documents.jsonl").read_text().splitlines()) == 6
    assert len((tmp_path / "questions.jsonl").read_text().splitlines()) == 24


def test_wandb_asked_for_but_not_installed_fails_before_anything_is_written(tmp_path, tiny_model_dir, tiny_set, capsys):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    docs, qa = tiny_set
    cfg = config_file(tmp_path, tiny_model_dir, docs, qa, "  a: {}")
    assert main(["run", cfg, "train.wandb=true"]) == 2
    assert "key 'train.wandb': Weights & Biases is not installed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
