"""The command line: -q / -v, and `kinject eval` flags generated from the config schema."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kinject.cli import build_parser, main
from kinject.cli.model import EVAL_FLAGS, MODEL_FLAGS
from kinject.config import EvalConfig, ModelConfig


def test_eval_flags_are_the_config_fields_with_their_defaults_and_help():
    eval_parser = build_parser()._subparsers._group_actions[0].choices["eval"]
    actions = {a.dest: a for a in eval_parser._actions}
    for section, cls, flags in (("model", ModelConfig, MODEL_FLAGS), ("eval", EvalConfig, EVAL_FLAGS)):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, flag in flags.items():
            action = actions[f"{section}.{name}"]
            assert action.option_strings == [f"--{flag}"]
            assert fields[name].metadata["help"].rstrip(".") in action.help
            assert action.choices == fields[name].metadata.get("choices")


def write_questions(path):
    path.write_text("".join(json.dumps({"question": f"Who is {n}?", "answer": n, "direction": d}) + "\n"
                            for n, d in (("Ada", "forward"), ("Bob", "backward"))))
    return path


def test_eval_takes_generated_flags(tmp_path, tiny_model_dir, capsys):
    qa = write_questions(tmp_path / "qa.jsonl")
    out = tmp_path / "res"
    assert main(["eval", "--model", str(tiny_model_dir), "--test", str(qa), "--max-new-tokens", "3",
                 "--batch-size", "1", "--bf16", "false", "--max-questions", "1", "--out", str(out), "-q"]) == 0
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == 1  # --max-questions
    assert main(["eval", "--model", str(tiny_model_dir), "--test", str(qa), "--sampler", "diffusion"]) == 2
    assert capsys.readouterr().err.strip().endswith("command line: key 'eval.sampler': the diffusion sampler needs a "
                                                    f"bidirectional model; '{tiny_model_dir}' is causal")
    assert main(["eval", "--test", str(qa), "--batch-size", "0"]) == 2
    assert "command line: key 'eval.batch_size': must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--test", str(qa), "--bf16", "maybe"])


@pytest.fixture()
def tiny_config(tmp_path, tiny_model_dir):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model: {{name: {tiny_model_dir}}}\ndata: {{generate_people: 2}}\n"
                   f"train: {{epochs: 2, batch_size: 2, bf16: 'false'}}\neval: {{every: 1, max_new_tokens: 3}}\n"
                   f"output_dir: {tmp_path / 'out'}\nruns: {{a: {{}}, b: {{objective: {{name: masked}}}}}}\n")
    return cfg


def test_quiet_prints_the_table_alone_and_verbose_the_steps(tiny_config, capsys):
    assert main(["run", str(tiny_config), "-q"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "forward / backward ROUGE-1 recall" in out and "│ a " in out and "│ b " in out
    assert main(["-v", "run", str(tiny_config), "--overwrite", "--only", "a"]) == 0
    err = capsys.readouterr().err
    assert "'loss':" in err and "'grad_norm':" in err  # the per-step dicts, with -v only
    assert main(["run", str(tiny_config), "--overwrite", "--only", "a"]) == 0
    out, err = capsys.readouterr()
    assert "'grad_norm':" not in err + out
    assert "[kinject] epoch 2: forward" in err  # one line per evaluation
