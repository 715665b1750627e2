"""Generated data never touch a user's files: generators write only into their own directory, with
a meta record per file; a user's file named beside generation is refused; the check writes nothing;
what kinject writes for people to read has normal permissions."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from kinject.cli import main
from kinject.config import load_runs
from kinject.data.generate import generate_name_description, name_description_set
from kinject.data.generated import materialize, meta_path, plan
from kinject.errors import KinjectError
from kinject.io import jsonl_text, write_atomic
from kinject.preparation import check_run, data_files

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
HINT = "move it away"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("config, key, partner", [
    ("demo.yaml", "data.test", "data.train"),
    ("demo.yaml", "data.train", "data.test"),
    ("math_demo.yaml", "data.train", "data.test"),
    ("math_demo.yaml", "data.test", "data.train"),
])
def test_user_file_beside_generation_is_refused_and_kept(in_tmp, capsys, config, key, partner):
    """From a fresh state (no generated data on disk): the user's file is byte-identical afterwards,
    the run exits 2 with one line naming both keys, and nothing is written."""
    shutil.copy(CONFIGS / config, in_tmp / config)
    mine = in_tmp / "mine.jsonl"
    mine.write_text('{"question": "Who?", "answer": "Me", "direction": "forward"}\n')
    before = sha(mine)
    assert main(["run", config, f"{key}=mine.jsonl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"key '{key}'" in err[0] and partner in err[0] and "=0" in err[0]
    assert sha(mine) == before
    assert sorted(p.name for p in in_tmp.iterdir()) == sorted([config, "mine.jsonl"])  # no runs/ at all


def test_both_user_files_with_generation_on_are_refused_not_ignored(in_tmp, capsys):
    shutil.copy(CONFIGS / "demo.yaml", in_tmp)
    for name in ("d.jsonl", "q.jsonl"):
        (in_tmp / name).write_text("{}\n")
    assert main(["run", "demo.yaml", "data.train=d.jsonl", "data.test=q.jsonl"]) == 2
    assert "data.train=d.jsonl and data.test=q.jsonl names your own file" in capsys.readouterr().err
    # the way out the line names works: turning generation off makes them the run's data
    cfg = load_runs("demo.yaml", ["data.train=d.jsonl", "data.test=q.jsonl", "data.generate_people=0"])[0]
    assert (cfg.data.train, cfg.data.test) == ("d.jsonl", "q.jsonl")


def test_missing_input_path_stays_missing(in_tmp, tiny_model_dir, capsys):
    (in_tmp / "qa.jsonl").write_text('{"question": "Who?", "answer": "Me", "direction": "forward"}\n')
    code = main(["run", str(CONFIGS / "demo.yaml"), "data.generate_people=0", "data.train=data/typo/my_docs.json",
                 "data.test=qa.jsonl", f"model.name={tiny_model_dir}"])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith("data/typo/my_docs.json: file not found")
    assert not (in_tmp / "data").exists() and not (in_tmp / "runs").exists()


def test_generated_paths_default_under_the_output_directory(in_tmp):
    configs = load_runs(CONFIGS / "demo.yaml")
    assert {c.data.generated_dir for c in configs} == {"runs/demo/data"}
    assert configs[0].data.train == "runs/demo/data/documents.jsonl"
    assert configs[0].data.test == "runs/demo/data/questions.jsonl"
    single = load_runs(None, ["data.generate_people=4", "output_dir=out"])[0]
    assert single.data.train == "out/data/documents.jsonl"
    math = load_runs(CONFIGS / "math_demo.yaml")[0]
    assert math.data.train == "runs/math_demo/data/train.jsonl"
    # a run's resolved config.yaml loads again: its data paths are the generated ones
    again = load_runs(None, [f"data.{k}={getattr(configs[0].data, k)}" for k in ("train", "test", "generated_dir")]
                      + ["data.generate_people=10", "output_dir=runs/demo/masked"])[0]
    assert again.data.train == configs[0].data.train


def test_classification_of_existing_files(tmp_path):
    people = name_description_set(4, 0)
    assert set(plan(tmp_path, people, HINT).values()) == {"write"}
    assert materialize(tmp_path, people, HINT) == ["documents.jsonl", "questions.jsonl"]
    docs = tmp_path / "documents.jsonl"
    meta = json.loads(meta_path(docs).read_text())
    assert meta["generator"] == "name_description" and meta["settings"] == {"people": 4, "seed": 0}
    assert meta["sha256"] == sha(docs) and meta["written_by"].startswith("kinject ")
    assert set(plan(tmp_path, people, HINT).values()) == {"reuse"}
    assert materialize(tmp_path, people, HINT) == []
    other = name_description_set(6, 1)  # ours, other settings: regenerated
    assert set(plan(tmp_path, other, HINT).values()) == {"write"}
    materialize(tmp_path, other, HINT)
    assert docs.read_text() == other.files["documents.jsonl"]
    docs.write_text(docs.read_text() + '{"text": "my own addition"}\n')  # edited after generation
    with pytest.raises(KinjectError, match="changed since"):
        plan(tmp_path, other, HINT)
    assert "my own addition" in docs.read_text()


def test_legacy_generated_data_without_meta_is_adopted_when_identical(in_tmp):
    """runs/demo/data written before meta records existed: byte-identical to what the generator
    writes for the config's settings, so it is adopted (meta added, file untouched); anything else
    there is refused."""
    cfg = load_runs(CONFIGS / "demo.yaml")[0]
    docs, questions = generate_name_description(10, 0)
    legacy = Path(cfg.data.generated_dir)
    write_atomic(legacy / "documents.jsonl", jsonl_text(docs))  # what the old code wrote
    write_atomic(legacy / "questions.jsonl", jsonl_text(questions))
    hashes = {p.name: sha(p) for p in legacy.iterdir()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in legacy.iterdir()}
    with data_files(cfg) as (train, test):
        assert (train, test) == (cfg.data.train, cfg.data.test)
    assert {p.name: sha(p) for p in legacy.glob("*.jsonl")} == hashes
    assert {p.name: p.stat().st_mtime_ns for p in legacy.glob("*.jsonl")} == mtimes
    assert meta_path(legacy / "documents.jsonl").exists() and meta_path(legacy / "questions.jsonl").exists()

    (legacy / "questions.jsonl").write_text('{"question": "Mine?", "answer": "yes", "direction": "forward"}\n')
    meta_path(legacy / "questions.jsonl").unlink()
    with pytest.raises(KinjectError, match="not written by kinject's generator"):
        with data_files(cfg):
            pass


def test_the_pre_run_check_writes_nothing(in_tmp, tiny_model_dir):
    cfg = load_runs(None, ["data.generate_people=4", "output_dir=out", f"model.name={tiny_model_dir}",
                           "objective.name=masked"])[0]
    check_run(cfg)
    assert list(in_tmp.iterdir()) == []


def test_a_run_writes_generated_data_once_then_reuses_them(in_tmp, tiny_model_dir, capsys):
    args = ["run", str(CONFIGS / "demo.yaml"), "--only", "masked", f"model.name={tiny_model_dir}",
            "output_dir=out", "data.generate_people=4", "train.epochs=1", "train.bf16=false", "eval.every=0",
            "eval.before=false", "eval.max_new_tokens=4"]
    old = os.umask(0o022)
    try:
        assert main(args) == 0
    finally:
        os.umask(old)
    data = in_tmp / "out" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["documents.jsonl", "documents.jsonl.meta.json",
                                                      "questions.jsonl", "questions.jsonl.meta.json"]
    assert "generated documents.jsonl, questions.jsonl into out/data" in capsys.readouterr().err
    # files for people to read: 0644 under umask 022, not the 0600 of a temporary file
    for path in [*data.iterdir(), *(in_tmp / "out" / "masked").glob("*.*")]:
        assert path.stat().st_mode & 0o777 == 0o644, path
    mtimes = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    assert main(args + ["--overwrite"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir()} == mtimes  # reused, not rewritten
    assert "generated" not in capsys.readouterr().err


@pytest.mark.parametrize("command, files", [
    (["data", "generate", "--people", "4"], ("documents.jsonl", "questions.jsonl")),
    (["data", "math", "--train", "6", "--test", "3"], ("train.jsonl", "test.jsonl")),
])
def test_data_commands_refuse_to_overwrite_unless_asked(tmp_path, capsys, command, files):
    out = tmp_path / "gen"
    assert main(command + ["--out", str(out)]) == 0
    for name in files:
        assert meta_path(out / name).exists()
    mine = out / files[1]
    mine.write_text("my edits\n")
    assert main(command + ["--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{out / files[0]}: exists; pass --overwrite to replace it "
                                                    "(or choose another --out)")
    assert mine.read_text() == "my edits\n"
    assert main(command + ["--out", str(out), "--overwrite"]) == 0
    assert mine.read_text() != "my edits\n"


def test_overwrite_removes_only_what_a_run_wrote(tmp_path):
    from kinject.reporting.run_dir import clear_run, foreign_entries, kept_in_run_dir

    run = tmp_path / "out"
    for name in ("config.yaml", "summary.json", ".summary.json.x1y2", "data/documents.jsonl", "model/w.bin"):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text("x")
    cfg = load_runs(None, ["data.generate_people=4", f"output_dir={run}"])[0]
    assert kept_in_run_dir(cfg) == ("data",) and foreign_entries(run, ("data",)) == []
    (run / "notes.txt").write_text("mine")
    assert foreign_entries(run, ("data",)) == ["notes.txt"]
    clear_run(run, ("data",))
    assert sorted(p.name for p in run.iterdir()) == ["data", "notes.txt"]
