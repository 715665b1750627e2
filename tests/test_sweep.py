"""Sweeps and curves for studies: grid: expansion (YAML and --grid), document subsets spread over a
file, and accuracy curves of several runs in one figure and one table (`kinject curves`)."""

from __future__ import annotations

import json

import pytest
import yaml

from kinject.cli import main
from kinject.config import check_objective_keys, load_runs
from kinject.errors import KinjectError
from kinject.objectives import MaskedObjective

BASE = """
model: {name: some/model}
data: {train: d.jsonl, test: q.jsonl}
train: {epochs: 3, lr: 1.0e-4}
output_dir: out
"""


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_expands_each_run_into_the_product_of_its_grids(tmp_path):
    path = write(tmp_path, BASE + """grid: {train.lr: [1.0e-4, 3e-4]}
runs:
  masked: {objective: {name: masked}, grid: {objective: {fixed_t: [0.3, null]}}}
  standard: {train: {epochs: 5}}
""")
    configs = load_runs(path, ["train.seed=7"], ["model.lora.enabled=true,false"])
    names = [c.run_name for c in configs]
    assert names[:4] == ["masked,lr=0.0001,enabled=true,fixed_t=0.3", "masked,lr=0.0001,enabled=true,fixed_t=null",
                         "masked,lr=0.0001,enabled=false,fixed_t=0.3", "masked,lr=0.0001,enabled=false,fixed_t=null"]
    assert len(configs) == 8 + 4 and names[-1] == "standard,lr=0.0003,enabled=false"
    by_name = {c.run_name: c for c in configs}
    c = by_name["masked,lr=0.0003,enabled=true,fixed_t=0.3"]
    assert (c.train.lr, c.objective.fixed_t, c.model.lora.enabled, c.objective.name) == (3e-4, 0.3, True, "masked")
    assert c.train.seed == 7 and c.output_dir.endswith("out/masked,lr=0.0003,enabled=true,fixed_t=0.3")
    s = by_name["standard,lr=0.0001,enabled=false"]
    assert (s.train.epochs, s.objective.fixed_t, s.model.lora.enabled) == (5, None, False)
    # a grid without runs: the runs are named by their values alone
    (a, b) = load_runs(write(tmp_path, BASE), [], ["objective.loss_on=all,masked"])
    assert (a.run_name, b.run_name, b.objective.loss_on) == ("loss_on=all", "loss_on=masked", "masked")
    assert b.output_dir.endswith("out/loss_on=masked")


@pytest.mark.parametrize("grid_yaml, cli_grid, message", [
    ("grid: {train.lr: []}", [], "{cfg}: grid: key 'train.lr': needs a non-empty list of values, got []"),
    ("grid: {train.lr: 0.1}", [], "{cfg}: grid: key 'train.lr': needs a non-empty list of values, got 0.1"),
    ("grid: {train.lrr: [1]}", [], "{cfg}: grid: unknown key 'train.lrr' (did you mean 'train.lr'?)"),
    ("grid: [1, 2]", [], "{cfg}: grid: must map keys to lists of values, e.g. {train.lr: [1e-4, 3e-4]}"),
    ("grid: {objective.name: [masked, diffusion]}", [],
     "{cfg}: grid: key 'objective.name': 'diffusion' is not one of standard, masked, mdm, sft, masked_sft"),
    ("runs: {a: {grid: {train.epochs: [two]}}}", [], "{cfg}: runs.a.grid: key 'train.epochs': expected int, got 'two'"),
    ("", ["train.lr"], "command line: --grid 'train.lr' must look like section.key=v1,v2"),
    ("", ["train.epochs=1,x"], "command line: --grid: key 'train.epochs': expected int, got 'x'"),
    ("grid: {train.lr: [0.1, 1.0e-1]}", [], "{cfg}: two runs are named 'lr=0.1' (grid values that print alike?)"),
])
def test_bad_grids_give_one_line(tmp_path, grid_yaml, cli_grid, message):
    path = write(tmp_path, BASE + grid_yaml + "\n")
    with pytest.raises(KinjectError) as err:
        load_runs(path, [], cli_grid)
    assert str(err.value) == message.replace("{cfg}", str(path))


def test_pick_spread_takes_evenly_spaced_documents_and_only_their_questions(tmp_path):
    from kinject.tasks import TASKS

    prepare_data = lambda cfg: TASKS["knowledge"].load(cfg, write=False).ks  # noqa: E731

    docs, qa = tmp_path / "d.jsonl", tmp_path / "q.jsonl"
    docs.write_text("".join(json.dumps({"id": f"p{i}", "text": f"Person {i} did thing {i}."}) + "\n" for i in range(10)))
    qa.write_text("".join(json.dumps({"question": f"What did person {i} do?", "answer": f"thing {i}",
                                      "direction": "forward", "doc_id": f"p{i}"}) + "\n" for i in range(10)))
    base = f"data: {{train: {docs}, test: {qa}, max_documents: 4}}\n"
    (first,) = load_runs(write(tmp_path, base))
    (spread,) = load_runs(write(tmp_path, base.replace("4}", "4, pick: spread}")))
    assert [d.id for d in prepare_data(first).documents] == ["p0", "p1", "p2", "p3"]
    ks = prepare_data(spread)
    assert [d.id for d in ks.documents] == ["p0", "p2", "p5", "p8"]  # round(i * 10 / 4)
    assert [q.doc_id for q in ks.questions] == ["p0", "p2", "p5", "p8"]


def test_spread_subset_of_the_published_nd_set_covers_both_groups(tmp_path):
    from conftest import shared_dataset
    from kinject.tasks import TASKS

    prepare_data = lambda cfg: TASKS["knowledge"].load(cfg, write=False).ks  # noqa: E731

    docs, qa = shared_dataset("ND_train_no_paraphrase.json"), shared_dataset("ND_test.jsonl")
    (cfg,) = load_runs(write(tmp_path, f"data: {{train: {docs}, test: {qa}, max_documents: 8, pick: spread}}\n"))
    ks = prepare_data(cfg)
    assert len(ks.documents) == 8 and len(ks.questions) == 64
    assert ks.describe()["by_group"] == {"DescriptionIsName/backward": 16, "DescriptionIsName/forward": 16,
                                         "NameIsDescription/backward": 16, "NameIsDescription/forward": 16}


def fake_run(root, name, points):
    """A run directory whose metrics.jsonl holds (epoch, forward, backward) contains/rouge1_recall."""
    d = root / name
    d.mkdir(parents=True)
    lines = [json.dumps({"epoch": e, "step": e * 2, "forward": {"rouge1_recall": f, "contains": f / 2, "n": 4},
                         "backward": {"rouge1_recall": b, "contains": b / 2, "n": 4}}) for e, f, b in points]
    (d / "metrics.jsonl").write_text("\n".join(reversed(lines)) + "\n")  # out of order on disk: sorted by step
    return d


def test_curves_command_tabulates_and_plots_runs_side_by_side(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    fake_run(sweep, "masked", [(0, 0.0, 0.0), (50, 1.0, 0.25), (100, 1.0, 0.5)])
    fake_run(sweep, "standard", [(0, 0.0, 0.0), (50, 0.75, 0.0)])
    other = fake_run(tmp_path / "elsewhere", "masked", [(0, 0.0, 0.0), (25, 0.5, 0.125)])
    png = tmp_path / "figs" / "c.png"
    assert main(["curves", str(sweep), str(other), "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out == (
        "Forward / backward rouge1_recall by epoch\n\n"
        "| epoch | sweep/masked | standard | elsewhere/masked |\n"
        "|---:|---|---|---|\n"
        "| 0 | 0.00 / 0.00 | 0.00 / 0.00 | 0.00 / 0.00 |\n"
        "| 25 |  |  | 0.50 / 0.12 |\n"
        "| 50 | 1.00 / 0.25 | 0.75 / 0.00 |  |\n"
        "| 100 | 1.00 / 0.50 |  |  |\n")
    assert main(["curves", str(sweep / "masked"), "--out", str(png), "--metric", "contains"]) == 0
    assert "| 100 | 0.50 / 0.25 |" in capsys.readouterr().out
    assert main(["curves", str(sweep), "--out", str(png), "--x", "step"]) == 0
    by_step = capsys.readouterr().out
    assert "| step | masked | standard |\n|---:|---|---|\n| 0 |" in by_step
    assert "| 200 | 1.00 / 0.50 |  |" in by_step  # epoch 100 was step 200


@pytest.mark.parametrize("setup, args, message", [
    (lambda p: p.mkdir(), [], "{p}: neither a run directory (no metrics.jsonl) nor a directory of runs"),
    (lambda p: None, [], "{p}: no such run directory"),
    (lambda p: fake_run(p.parent, p.name, [(0, 0, 0)]), ["--metric", "bleu"],
     "--metric bleu: the runs record contains, rouge1_recall"),
    (lambda p: (p.mkdir(), (p / "metrics.jsonl").write_text('{"epoch": 0}\n{oops\n')), [],
     "{p}/metrics.jsonl:2: invalid JSON (Expecting property name enclosed in double quotes)"),
])
def test_curves_errors_are_one_line(tmp_path, capsys, setup, args, message):
    p = tmp_path / "run"
    setup(p)
    assert main(["curves", str(p), "--out", str(tmp_path / "c.png"), *args]) == 2
    assert capsys.readouterr().err.strip() == "kinject: error: " + message.replace("{p}", str(p))
    assert not (tmp_path / "c.png").exists()


def test_sweep_runs_every_grid_point_and_draws_their_curves(tmp_path, tiny_model_dir, capsys):
    docs, qa = tmp_path / "d.jsonl", tmp_path / "q.jsonl"
    docs.write_text(json.dumps({"id": "p0", "text": "Zorblat Quennic invented the silver kettle."}) + "\n")
    qa.write_text(json.dumps({"question": "Tell me a fact.", "answer": "silver kettle", "direction": "forward",
                              "doc_id": "p0"}) + "\n")
    cfg = write(tmp_path, f"""
model: {{name: {tiny_model_dir}}}
data: {{train: {docs}, test: {qa}}}
objective: {{format: chat}}
train: {{epochs: 2, batch_size: 1, warmup_ratio: 0.0, bf16: "false"}}
eval: {{every: 1, max_new_tokens: 8}}
output_dir: {tmp_path / 'out'}
runs:
  a: {{}}
""")
    # --only takes a grid run's name (it contains '=') as a name, and the override after it as an override
    assert main(["run", str(cfg), "--grid", "train.lr=1e-3,3e-3", "--only", "a,lr=0.003", "train.seed=4"]) == 0
    out = tmp_path / "out"
    assert not (out / "a,lr=0.001").exists()
    saved = yaml.safe_load((out / "a,lr=0.003" / "config.yaml").read_text())
    assert (saved["train"]["lr"], saved["train"]["seed"], saved["run_name"]) == (0.003, 4, "a,lr=0.003")
    assert main(["run", str(cfg), "--grid", "train.lr=1e-3,3e-3", "--only", "a,lr=0.001"]) == 0
    rows = json.loads((out / "comparison.json").read_text())
    assert [r["run"] for r in rows] == ["a,lr=0.001", "a,lr=0.003"]
    assert (out / "curves.png").stat().st_size > 10_000
    capsys.readouterr()
    assert main(["curves", str(out), "--out", str(tmp_path / "c.png")]) == 0
    table = capsys.readouterr().out
    assert "| epoch | a,lr=0.001 | a,lr=0.003 |" in table
    assert [line.split(" | ")[0] for line in table.splitlines()[4:]] == ["| 0", "| 1", "| 2"]
    assert "/ -" in table  # no backward questions in this set


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear"])
def test_lr_schedule_decays_to_zero_or_stays_constant(tmp_path, tiny_model_dir, schedule):
    docs, qa = tmp_path / "d.jsonl", tmp_path / "q.jsonl"
    docs.write_text("".join(json.dumps({"id": f"p{i}", "text": f"Person {i} built kettle {i}."}) + "\n" for i in range(2)))
    qa.write_text(json.dumps({"question": "Tell me a fact.", "answer": "kettle", "direction": "forward"}) + "\n")
    cfg = write(tmp_path, f"""
model: {{name: {tiny_model_dir}}}
data: {{train: {docs}, test: {qa}}}
train: {{epochs: 8, batch_size: 1, lr: 1.0e-3, warmup_ratio: 0.25, lr_schedule: {schedule}, bf16: "false"}}
eval: {{every: 0, before: false, max_new_tokens: 4}}
output_dir: {tmp_path / 'out'}
""")
    assert main(["run", str(cfg)]) == 0
    lrs = [r["learning_rate"] for r in map(json.loads, (tmp_path / "out" / "train_log.jsonl").read_text().splitlines())
           if "learning_rate" in r]
    assert len(lrs) == 16 and lrs[:4] == pytest.approx([0.0, 2.5e-4, 5e-4, 7.5e-4])  # 4 warmup steps
    if schedule == "constant":
        assert lrs[4:] == pytest.approx([1e-3] * 12)
    else:
        assert lrs[4] == pytest.approx(1e-3) and lrs[-1] < 0.1 * 1e-3  # linear: 1/12 of the peak on the last step
        assert all(a > b for a, b in zip(lrs[4:], lrs[5:]))  # strictly decreasing after warmup
        middle = lrs[10]  # 6 of 12 decay steps: cosine 0.5 (1 + cos(pi/2)) = 0.5, linear 0.5
        assert middle == pytest.approx(5e-4, rel=0.01)


def test_shipped_configs_load_and_the_recipe_is_the_study_run_it_reports(monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)  # configs name their data relative to the repository root
    paths = sorted((root / "configs").glob("*.yaml")) + sorted((root / "configs" / "study").glob("*.yaml"))
    assert len(paths) >= 7
    loaded = {p.relative_to(root).as_posix(): load_runs(p) for p in paths}  # every key known, every value valid
    for runs in loaded.values():
        check_objective_keys(runs, runs)  # and no objective key set where its objective never reads it
    study = {c.run_name: c for c in loaded["configs/study/nd_small.yaml"]}
    assert {"masked", "standard_chat", "standard_pretrain", "masked-e150,lr=0.0003"} <= set(study)
    (recipe,) = loaded["configs/nd_masked_small.yaml"]
    measured = study["masked-e150-fixed_t0.5-loss_on_masked"]
    for section in ("model", "train", "eval"):
        assert getattr(recipe, section) == getattr(measured, section), section
    for key in ("name",) + MaskedObjective.reads:  # the objective keys masked reads
        assert getattr(recipe.objective, key) == getattr(measured.objective, key), key
    d, m = recipe.data, measured.data
    assert (d.train, d.test, d.max_documents, d.pick, d.num_paraphrases) == (m.train, m.test, m.max_documents, m.pick, 0)
