"""Config: YAML + named runs + command-line overrides, with clear one-line errors."""

from __future__ import annotations

import pytest

from kinject.config import Config, load_runs
from kinject.errors import KinjectError

BASE = """
model: {name: some/model}
data: {train: d.jsonl, test: q.jsonl}
train: {epochs: 3, lr: 1.0e-4}
output_dir: out
"""


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides_resolve_with_precedence(tmp_path):
    path = write(tmp_path, BASE + "runs:\n  a: {objective: {name: masked}, train.lr: 2.0e-4}\n  b: {}\n")
    a, b = load_runs(path, ["train.lr=5e-5", "objective.fixed_t=0.5"])
    assert (a.run_name, a.objective.name, b.objective.name) == ("a", "masked", "standard")
    assert a.train.lr == 5e-5 and b.train.lr == 5e-5  # command line beats the run's override
    assert a.objective.fixed_t == 0.5 and a.train.epochs == 3
    assert a.output_dir.endswith("out/a") and b.output_dir.endswith("out/b")


def test_run_override_beats_shared_settings(tmp_path):
    (a,) = load_runs(write(tmp_path, BASE + "runs:\n  a: {train: {lr: 0.5}}\n"))
    assert a.train.lr == 0.5


def test_defaults_follow_the_published_setup():
    c = Config()
    assert (c.objective.t_low, c.objective.t_high) == (0.05, 0.95)
    assert (c.train.weight_decay, c.train.beta1, c.train.beta2, c.train.max_grad_norm) == (0.1, 0.9, 0.95, 1.0)
    assert c.eval.max_new_tokens == 128


@pytest.mark.parametrize("override, message", [
    (["train.lrr=1"], "command line: unknown key 'train.lrr' (did you mean 'train.lr'?)"),
    (["trian.lr=1"], "command line: unknown key 'trian' (did you mean 'train'?)"),
    (["train.epochs=many"], "command line: key 'train.epochs': expected int, got 'many'"),
    (["objective.name=diffusion"], "command line: key 'objective.name': 'diffusion' is not one of standard, masked, mdm, sft, masked_sft"),
    (["train.lr"], "command line: override 'train.lr' must look like section.key=value"),
    (["train=3"], "command line: key 'train' is a section; set its fields, e.g. 'train.epochs'"),
    (["objective.t_low=0.9", "objective.t_high=0.1"], "{cfg}: key 'objective.t_low': need 0 <= t_low <= t_high <= 1"),  # range checks name the file
])
def test_bad_overrides_give_one_line(tmp_path, override, message):
    path = write(tmp_path, BASE)
    with pytest.raises(KinjectError) as err:
        load_runs(path, override)
    assert str(err.value) == message.replace("{cfg}", str(path))


def test_bad_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "model:\n  name: [unclosed\n")
    with pytest.raises(KinjectError, match=r"c\.yaml:\d+: invalid YAML"):
        load_runs(path)
    with pytest.raises(KinjectError, match="c.yaml: unknown key 'modle' \\(did you mean 'model'\\?\\)"):
        load_runs(write(tmp_path, "modle: {name: x}\n"))
