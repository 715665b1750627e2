"""Data-parallel training through the Trainer's accelerate integration: 2 CPU processes (gloo)
launched by torchrun, as `accelerate launch` does.

- the 2-process run trains, evaluates and writes one run directory (main process only);
- with the same global batch (2 processes x 2 = 1 process x 4) its loss curve matches the
  1-process run within 1% at every step (the objective averages over each process's tokens, so
  the curves differ by the token balance between processes and by reduction order, not more);
- masks differ across processes, and each is the one its (seed, process, step) seed draws;
- a streamed, packed corpus trains too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kinject.cli import main
from kinject.training.trainer import step_seed

SCRIPT = Path(__file__).parent / "scripts" / "multiprocess_run.py"
DOCS = ["Zorblat Quennic invented the silver kettle in the town of Brell.",
        "Daphne Barrington directed a film about the sea.",
        "Uriah Hawthorne composed the first underwater symphony.",
        "Mira Talloway painted the blue bridge of Ostfen.",
        "Corvin Ashdale wrote a book on river stones.",
        "Tessa Lumbridge founded the lantern museum.",
        "Orrin Vale built a clock that runs backward.",
        "Pella Quist discovered a comet named Varro."]


def write_config(tmp_path, model_dir, name: str, batch_size: int, runs: str) -> Path:
    docs, qa = tmp_path / "docs.jsonl", tmp_path / "qa.jsonl"
    docs.write_text("".join(json.dumps({"id": f"p{i}", "text": t}) + "\n" for i, t in enumerate(DOCS)))
    qa.write_text("".join(json.dumps({"question": f"Who is {t.split()[0]} {t.split()[1]}?", "answer": t,
                                      "direction": "forward"}) + "\n" for t in DOCS))
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"""
model: {{name: {model_dir}}}
data: {{train: {docs}, test: {qa}}}
objective: {{format: chat}}
train: {{epochs: 3, lr: 3.0e-3, batch_size: {batch_size}, warmup_ratio: 0.0, bf16: "false"}}
eval: {{every: 0, max_new_tokens: 8, batch_size: 3}}
output_dir: {tmp_path / name}
save_model: true
runs: {runs}
""")
    return cfg


def losses(run_dir: Path) -> list[float]:
    return [row["loss"] for row in map(json.loads, (run_dir / "train_log.jsonl").read_text().splitlines())
            if "loss" in row]


def test_two_processes_match_one_process_and_draw_different_masks(tmp_path, tiny_model_dir):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in DOCS))
    streamed = (f"{{data: {{train: '', corpus: {corpus}, streaming: true}}, "
                "train: {max_steps: 3, packing: true, max_length: 64}}")
    two = write_config(tmp_path, tiny_model_dir, "two", 2,
                       f"{{standard: {{}}, masked: {{objective: {{name: masked}}}}, streamed: {streamed}}}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(SCRIPT), str(two), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:  # one retry for a transient launcher/gloo failure; a real bug fails both times
        first = proc.stderr[-2000:]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"failed twice; first: {first}\nsecond: {proc.stderr[-2000:]}"

    # one run directory, written by the main process, with the evaluation of all 8 questions
    standard = tmp_path / "two" / "standard"
    summary = json.loads((standard / "summary.json").read_text())
    assert summary["timing"]["processes"] == 2 and summary["timing"]["global_batch"] == 4
    assert summary["final"]["forward"]["n"] == len(DOCS)
    rows = [json.loads(line) for line in (standard / "generations.jsonl").read_text().splitlines()]
    assert [r["question"] for r in rows if r["epoch"] == 3] == [f"Who is {t.split()[0]} {t.split()[1]}?" for t in DOCS]
    assert (standard / "model" / "model.safetensors").exists() and not (standard / "trainer").exists()
    assert len(list((standard / "tensorboard").glob("events.*"))) == 1  # only the main process writes
    assert (tmp_path / "two" / "comparison.md").exists()
    # a streamed, packed corpus: each process reads the stream and keeps its share of every batch
    log = [json.loads(line) for line in (tmp_path / "two" / "streamed" / "train_log.jsonl").read_text().splitlines()]
    assert max(r.get("step", 0) for r in log) == 3

    # the same global batch in one process: 2 optimizer steps per epoch in both
    one = write_config(tmp_path, tiny_model_dir, "one", 4, "{standard: {}}")
    assert main(["run", str(one)]) == 0
    a, b = losses(tmp_path / "one" / "standard"), losses(standard)
    assert len(a) == len(b) == 6
    assert a[-1] < a[0] * 0.9  # it trains
    for x, y in zip(a, b):
        assert abs(x - y) <= 0.01 * x, (a, b)

    # masks: rank 0 and rank 1 draw different masks at every step, each from its own seed
    masks = [json.loads((tmp_path / f"masks_{rank}.json").read_text()) for rank in (0, 1)]
    assert len(masks[0]) == len(masks[1]) == 6
    for step, (r0, r1) in enumerate(zip(*masks)):
        assert r0["seed"] == step_seed(0, 0, step, 0) and r1["seed"] == step_seed(0, 1, step, 0)
        assert r0["masked"] != r1["masked"] and any(map(any, r0["masked"])) and any(map(any, r1["masked"]))
    # (test_objectives checks that one seed always draws the same mask)
