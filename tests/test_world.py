"""The CPU-scale world: people, biographies and questions; a tiny build of the twin models; the
`world:` config shortcuts; and a dLLM run end to end through `kinject run`."""

from __future__ import annotations

import json
import random

import pytest

from kinject.cli import main
from kinject.config import Config, WorldConfig, apply_overrides, load_runs
from kinject.errors import KinjectError
from kinject.world.bios import biography, make_people, questions
from kinject.world.build import build_world, corpus, is_built, world_key


def test_people_are_unique_and_seeded():
    people = make_people(400, seed=3)
    for key in ("name", "date", "company"):
        assert len({getattr(p, key) for p in people}) == 400, key
    assert make_people(400, seed=3) == people and make_people(400, seed=4) != people


def test_biography_states_every_fact_name_first_and_questions_point_both_ways():
    person = make_people(1, seed=0)[0]
    bio = biography(person, random.Random(0))
    positions = [bio.index(v) for v in (person.name, person.date, person.city, person.major, person.university, person.company)]
    assert positions[0] == 0 and positions == sorted(positions[:4]) + positions[4:]
    qs = questions(person)
    assert {q["direction"] for q in qs} == {"forward", "backward"}
    for q in qs:
        assert q["answer"] in bio
        if q["direction"] == "forward":  # the cue (name) comes before the answer in the text
            assert person.name in q["question"] and bio.index(person.name) < bio.index(q["answer"])
        else:  # the answer (name) comes before the cue
            assert q["answer"] == person.name and person.name not in q["question"]


def test_injection_people_are_not_in_the_pretraining_corpus():
    cfg = WorldConfig(pretrain_people=30, inject_people=5)
    bios, pretrain_qa, docs, qa = corpus(cfg)
    pretrain_text = " ".join(bios) + " ".join(q["question"] + q["answer"] for q in pretrain_qa)
    for doc in docs:
        name = doc["text"].split(" was born")[0].split(" came into")[0]
        assert name not in pretrain_text
    assert len(docs) == 5 and len(qa) == 20 and all(q["doc_id"] for q in qa)


TINY_WORLD = dict(pretrain_people=12, inject_people=3, hidden_size=32, intermediate_size=64, layers=1, heads=2,
                  epochs=1, batch_size=16, vocab_size=300, probe_questions=8)


def test_tiny_world_builds_twins_once(tmp_path):
    cfg = WorldConfig(dir=str(tmp_path / "world"), **TINY_WORLD)
    build_world(cfg)
    meta = json.loads((tmp_path / "world" / "world.json").read_text())
    assert set(meta["twins"]) == {"causal", "bidirectional"}
    assert meta["twins"]["causal"]["parameters"] == meta["twins"]["bidirectional"]["parameters"]
    for twin in ("causal", "bidirectional"):
        assert (tmp_path / "world" / twin / "model.safetensors").exists()
    causal_cfg = json.loads((tmp_path / "world" / "bidirectional" / "config.json").read_text())
    assert causal_cfg["is_causal"] is False and causal_cfg["mask_token_id"] is not None
    assert is_built(cfg)
    stamp = (tmp_path / "world" / "world.json").stat().st_mtime_ns
    build_world(cfg)  # cached: nothing rebuilt
    assert (tmp_path / "world" / "world.json").stat().st_mtime_ns == stamp
    assert world_key(cfg) != world_key(WorldConfig(dir=cfg.dir, **{**TINY_WORLD, "epochs": 2}))


def test_world_dir_must_not_hold_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(KinjectError, match="holds other files"):
        build_world(WorldConfig(dir=str(tmp_path), **TINY_WORLD))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_world_shortcuts_resolve(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("world: {dir: w}\nruns:\n  a: {model: {name: 'world:bidirectional'}, objective: {name: mdm}}\n")
    (cfg,) = load_runs(path)
    assert cfg.model.name.endswith("w/bidirectional")
    assert cfg.data.train == "w/data/documents.jsonl" and cfg.data.test == "w/data/questions.jsonl"
    path.write_text("world: {dir: w}\nmodel: {name: 'world:other'}\n")
    with pytest.raises(KinjectError, match="world:causal"):
        load_runs(path)
    path.write_text("model: {name: 'world:causal'}\ndata: {train: a, test: b}\n")
    with pytest.raises(KinjectError, match="needs world.dir"):
        load_runs(path)
    with pytest.raises(KinjectError, match="world.hidden_size"):
        load_runs(None, ["world.dir=w", "world.hidden_size=30", "world.heads=4"])
    assert apply_overrides(Config(), {"world": {"epochs": 3}}, "t").world.epochs == 3


def test_dllm_run_end_to_end_lowers_masked_loss_and_raises_accuracy(tmp_path, tiny_model_dir):
    """mdm fine-tuning of a tiny bidirectional model, evaluated with the diffusion sampler."""
    docs, qa = tmp_path / "docs.jsonl", tmp_path / "qa.jsonl"
    docs.write_text(json.dumps({"id": "p0", "text": "Zorblat Quennic invented the silver kettle."}) + "\n")
    qa.write_text(json.dumps({"question": "Tell me a fact.", "answer": "Zorblat Quennic invented the silver kettle",
                              "direction": "forward", "doc_id": "p0"}) + "\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"""
model: {{name: {tiny_model_dir}, bidirectional: true}}
data: {{train: {docs}, test: {qa}}}
objective: {{name: mdm, format: chat, eos_fill: true, fixed_t: 0.5}}
train: {{epochs: 150, lr: 5.0e-3, batch_size: 1, warmup_ratio: 0.0, bf16: "false"}}
eval: {{every: 0, max_new_tokens: 32, steps: 32, block_length: 4}}
output_dir: {tmp_path / 'out'}
""")
    assert main(["run", str(cfg)]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["model_adapter"]["family"] == "bidirectional"
    assert summary["sampler"].startswith("diffusion (32 steps, block 4")
    before, final = summary["before"]["forward"]["rouge1_recall"], summary["final"]["forward"]["rouge1_recall"]
    assert before < 0.2 and final >= 0.8, (before, final)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert sum(losses[-5:]) / 5 < 0.3 * sum(losses[:5]) / 5


@pytest.mark.parametrize("objective, bidirectional, message", [
    ("mdm", "false", "'mdm' needs a bidirectional model"),
    ("standard", "true", "trains arLLMs"),
])
def test_objective_and_model_must_match(tmp_path, tiny_model_dir, capsys, objective, bidirectional, message):
    docs, qa = tmp_path / "d.jsonl", tmp_path / "q.jsonl"
    docs.write_text(json.dumps({"text": "A fact."}) + "\n")
    qa.write_text(json.dumps({"question": "Q?", "answer": "A", "direction": "forward"}) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model: {{name: {tiny_model_dir}, bidirectional: {bidirectional}}}\nobjective: {{name: {objective}}}\n"
                   f"data: {{train: {docs}, test: {qa}}}\noutput_dir: {tmp_path / 'out'}\n")
    code = main(["run", str(cfg)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kinject: error")]
    assert code == 2 and len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "out").exists()  # nothing half-written
