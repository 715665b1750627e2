"""Training throughput, 1 process vs N data-parallel processes (torchrun, as accelerate launch
uses it), at the same global batch, through `kinject run` itself.

    python bench/multiprocess_speed.py [--model NAME_OR_DIR] [--processes 2] [--people 16]
                                       [--global-batch 16] [--epochs 4] [--objective masked]

Trains on generated NameDescription people; tokens/s is training tokens over training seconds
(evaluation excluded) from each run's summary.json. On a CPU machine the processes share the
cores (OMP threads = cores / processes), so expect a ratio near or below 1; on GPUs each process
has its own device. Writes bench/results/multiprocess_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kinject.data.generate import write_name_description


def run(config: Path, processes: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    if processes == 1:
        cmd = [sys.executable, "-m", "kinject", "run", str(config), "--overwrite"]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               "-m", "kinject", "run", str(config), "--overwrite"]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads((config.parent / "out" / "summary.json").read_text())["timing"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--global-batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--objective", default="masked")
    parser.add_argument("--smoke", action="store_true", help="4 people, global batch 4, 1 epoch")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "multiprocess_speed.json"))
    args = parser.parse_args()
    if args.smoke:
        args.people, args.global_batch, args.epochs = 4, 4, 1
    cores = os.cpu_count() or 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        docs, questions = write_name_description(tmp, args.people, 0)
        for processes in (1, args.processes):
            config = Path(tmp) / f"p{processes}" / "run.yaml"
            config.parent.mkdir()
            config.write_text(json.dumps({
                "model": {"name": args.model},
                "data": {"train": str(docs), "test": str(questions)},
                "objective": {"name": args.objective},
                "train": {"epochs": args.epochs, "batch_size": args.global_batch // processes},
                "eval": {"before": False, "every": 0, "max_questions": processes, "max_new_tokens": 4},
                "output_dir": str(config.parent / "out"),
            }))
            timing = run(config, processes, max(cores // processes, 1))
            results[processes] = timing
            print(f"{processes} process(es): {timing['tokens_per_second']:.0f} training tokens/s "
                  f"({timing['train_tokens']} tokens in {timing['train_seconds']} s, global batch {timing['global_batch']})",
                  flush=True)
    ratio = results[args.processes]["tokens_per_second"] / results[1]["tokens_per_second"]
    print(f"\n{args.processes} processes / 1 process: {ratio:.2f}x tokens/s ({cores} CPU cores)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cores": cores, "ratio": round(ratio, 3), "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
