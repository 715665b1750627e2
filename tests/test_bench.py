"""Every benchmark in bench/ in its smoke mode, on the tiny local model, so the commands keep working.
Each must finish and write its JSON result with the ratios it exists to measure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED

BENCH = Path(__file__).resolve().parents[1] / "bench"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def bench(script: str, *args, cwd=None) -> None:
    proc = subprocess.run([sys.executable, str(BENCH / script), *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=600, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_trl_speed(tmp_path, tiny_model_dir):
    pytest.importorskip("trl")
    out = tmp_path / "trl.json"
    bench("trl_speed.py", "--smoke", "--model", tiny_model_dir, "--out", out)
    result = json.loads(out.read_text())
    assert set(result["ratios"]) == {"standard", "masked"}
    assert all(r["throughput"] > 0 and r["peak_memory"] > 0 for r in result["ratios"].values())
    assert {(r["tool"], r["job"]) for r in result["runs"]} == {(t, j) for t in ("kinject", "trl")
                                                               for j in ("standard", "masked")}


def test_masked_cost(tmp_path, tiny_model_dir):
    out = tmp_path / "cost.json"
    bench("masked_cost.py", "--smoke", "--model", tiny_model_dir, "--out", out)
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert runs["masked"]["tokens_per_epoch"] > runs["standard (chat)"]["tokens_per_epoch"]  # the document twice
    assert runs["masked"]["loss_tokens_per_epoch"] == runs["standard (chat)"]["loss_tokens_per_epoch"]
    assert result["ratios"]["masked_vs_chat_epoch"] > 0


@pytest.mark.parametrize("bidirectional", [False, True])
def test_eval_speed(tmp_path, tiny_model_dir, bidirectional):
    out = tmp_path / "eval.json"
    bench("eval_speed.py", "--smoke", "--model", tiny_model_dir, "--out", out, *(["--bidirectional"] if bidirectional else []))
    result = json.loads(out.read_text())
    assert result["decoding"] == ("diffusion sampler" if bidirectional else "greedy")
    assert result["identical_outputs"] == result["total"] == 4  # batched answers equal one-at-a-time answers
    assert result["speedup"] > 0


def test_sam_speed(tmp_path, tiny_model_dir):
    out = tmp_path / "sam.json"
    bench("sam_speed.py", "--smoke", "--model", tiny_model_dir, "--out", out)
    ratios = json.loads(out.read_text())["ratio_to_adamw"]
    assert set(ratios) == {"adamw", "sam", "asam"} and ratios["adamw"] == 1.0 and ratios["sam"] > 0


def test_multiprocess_speed(tmp_path, tiny_model_dir):
    out = tmp_path / "mp.json"
    bench("multiprocess_speed.py", "--smoke", "--model", tiny_model_dir, "--out", out)
    result = json.loads(out.read_text())
    assert result["ratio"] > 0 and result["runs"]["2"]["processes"] == 2


def test_padding(tmp_path, tiny_model_dir):
    if not SHARED.exists():
        pytest.skip("needs the published data in ../shared/datasets")
    out = tmp_path / "padding.json"
    bench("padding.py", "--model", tiny_model_dir, "--epochs", 1, "--max-length", 4096, "--out", out)
    results = json.loads(out.read_text())["results"]
    by = {(r["objective"], r["layout"]): r["padding_fraction"] for r in results}
    for objective in ("standard", "masked"):
        assert by[(objective, "length grouping")] < by[(objective, "random batches")]


def test_reproduce(tmp_path, tiny_model_dir):
    if not SHARED.exists():
        pytest.skip("needs the published data in ../shared/datasets")
    out = tmp_path / "results.md"
    bench("reproduce.py", "--smoke", "--model", tiny_model_dir, "--root", tmp_path / "runs", "--out", out)
    text = out.read_text()
    assert "| standard FT, no paraphrases |" in text and "| masked FT, no paraphrases |" in text
    assert ".91 / .93" not in text and "0.91 / 0.93" in text  # the published masked ND row, formatted
    assert json.loads((tmp_path / "runs" / "results.json").read_text())["runs"]["Biography"]["masked"]["final"]
