"""The Python API: kinject.load_config + kinject.run, as a notebook would use them."""

from __future__ import annotations

import json

import pytest

import kinject
from kinject.errors import KinjectError


def test_load_config_and_run_from_python(tmp_path, tiny_model_dir):
    runs = kinject.load_config(
        {"model": {"name": str(tiny_model_dir)}, "data": {"generate_people": 2}, "output_dir": str(tmp_path / "out"),
         "runs": {"chat": {"objective": {"format": "chat"}}, "masked": {"objective": {"name": "masked"}}}},
        train={"epochs": 2, "bf16": "false", "batch_size": 2}, eval={"every": 0, "max_new_tokens": 4},
        **{"train.lr": 3e-3})
    assert runs.names == ["chat", "masked"] and runs[0].train.lr == 3e-3 and runs[1].train.epochs == 2
    results = kinject.run(runs, only="masked", quiet=True)
    assert list(results) == ["masked"]
    assert results["masked"]["final"]["epoch"] == 2
    assert results["masked"] == json.loads((tmp_path / "out" / "masked" / "summary.json").read_text())
    assert not (tmp_path / "out" / "chat").exists()  # only the run asked for
    with pytest.raises(KinjectError, match="no run named 'nope'"):
        runs.only("nope")


def test_load_config_reads_yaml_and_checks_like_the_cli(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {train: d.jsonl, test: q.jsonl}\n")
    (cfg,) = kinject.load_config(path, objective={"name": "masked", "fixed_t": 0.5})
    assert (cfg.objective.name, cfg.objective.fixed_t) == ("masked", 0.5)
    with pytest.raises(KinjectError, match="unknown key 'train.lrr'"):
        kinject.load_config(path, train={"lrr": 1})
    grid = kinject.load_config(path, grid={"train.lr": [1e-4, 3e-4]})
    assert grid.names == ["lr=0.0001", "lr=0.0003"]
