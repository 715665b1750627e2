"""Batched QA evaluation vs one question at a time, on the same model and questions.

    python bench/eval_speed.py [--model NAME_OR_DIR] [--test FILE] [--questions N] [--max-new-tokens N]
                               [--steps N] [--block-length N] [--out FILE]

Prints questions per second for both, their ratio, and whether the outputs are identical; writes
bench/results/eval_speed.json (or --out). Defaults: the default model and a generated 10-person
set. A bidirectional model (e.g. runs/dllm_demo/world/bidirectional) is evaluated with the
masked-diffusion sampler (--steps, default --max-new-tokens; --block-length, default 4), an arLLM
with greedy decoding.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from kinject.config import EvalConfig, ModelConfig
from kinject.data.generate import write_name_description
from kinject.data.loaders import load_questions
from kinject.evaluation.diffusion import sampler_for
from kinject.evaluation.qa import evaluate_qa
from kinject.models.adapter import resolve_adapter
from kinject.models.loading import load_model_and_tokenizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=ModelConfig().name)
    p.add_argument("--test", help="questions file (default: a generated 10-person set)")
    p.add_argument("--questions", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=40)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--steps", type=int, default=None, help="diffusion sampler steps (default: --max-new-tokens)")
    p.add_argument("--block-length", type=int, default=4, help="diffusion sampler block length")
    p.add_argument("--out", default="bench/results/eval_speed.json")
    args = p.parse_args()

    test = args.test or write_name_description(tempfile.mkdtemp(), 10, seed=0)[1]
    questions = load_questions(test)[: args.questions]
    model, tok, _ = load_model_and_tokenizer(ModelConfig(name=args.model))
    adapter = resolve_adapter(model, tok, ModelConfig(name=args.model), needs_mask=False)
    sampler = sampler_for(EvalConfig(steps=args.steps or args.max_new_tokens, block_length=args.block_length), adapter)

    t = time.time()
    _, batched = evaluate_qa(model, tok, questions, args.batch_size, args.max_new_tokens, progress=False,
                             sampler=sampler)
    batched_s = time.time() - t
    t = time.time()
    single = [evaluate_qa(model, tok, [q], 1, args.max_new_tokens, progress=False, sampler=sampler)[1][0]
              for q in questions]
    single_s = time.time() - t

    same = sum(a["generated"] == b["generated"] for a, b in zip(batched, single))
    result = {
        "model": args.model, "decoding": "diffusion sampler" if sampler else "greedy",
        "steps": sampler.steps if sampler else None, "block_length": sampler.block_length if sampler else None,
        "questions": len(questions), "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "batched_questions_per_s": len(questions) / batched_s, "single_questions_per_s": len(questions) / single_s,
        "speedup": single_s / batched_s, "identical_outputs": same, "total": len(questions),
    }
    print(f"| mode | questions/s |\n|---|---|\n| batched ({args.batch_size}) | {result['batched_questions_per_s']:.2f} |\n"
          f"| one at a time | {result['single_questions_per_s']:.2f} |\n\n"
          f"batched / one-at-a-time: {result['speedup']:.1f}x; identical {result['decoding']} outputs: "
          f"{same}/{len(questions)}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
