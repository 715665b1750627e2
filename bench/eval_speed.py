"""QA evaluation speed: kinject's batched evaluation vs one question at a time, same model and questions.

    python bench/eval_speed.py [--model NAME_OR_DIR] [--bidirectional] [--test FILE] [--questions N]
                               [--batch-size N] [--max-new-tokens N] [--steps N] [--block-length N] [--out FILE]

arLLMs: kinject's batched greedy evaluation vs the plain loop a user would write with transformers
(`apply_chat_template` + `model.generate(do_sample=False)` per question). Bidirectional models (a
dLLM such as runs/dllm_demo/world/bidirectional, or any decoder with --bidirectional): kinject's
batched masked-diffusion sampler vs the same sampler one question at a time (--steps, default
--max-new-tokens; --block-length, default 4). Prints questions per second, their ratio and whether
the outputs are identical; writes bench/results/eval_speed.json (or --out). Defaults: the default
model and a generated 10-person set.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from kinject.config import EvalConfig, ModelConfig
from kinject.data.generate import write_name_description
from kinject.data.loaders import load_questions
from kinject.evaluation.diffusion import sampler_for
from kinject.evaluation.qa import evaluate_qa, stop_ids
from kinject.models.adapter import resolve_adapter
from kinject.models.loading import load_model_and_tokenizer


@torch.no_grad()
def plain_generate_loop(model, tok, questions, max_new_tokens: int) -> list[str]:
    """What a transformers user writes: chat template, greedy generate, decode; one question at a time."""
    model.eval()
    answers = []
    for q in questions:
        inputs = tok.apply_chat_template([{"role": "user", "content": q.question}], add_generation_prompt=True,
                                         return_tensors="pt", return_dict=True)
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop_ids(tok),
                             pad_token_id=tok.pad_token_id)
        answers.append(tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return answers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=ModelConfig().name)
    p.add_argument("--bidirectional", action="store_true", help="build the model bidirectional: a dLLM sampler run")
    p.add_argument("--test", help="questions file (default: a generated 10-person set)")
    p.add_argument("--questions", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=40)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--steps", type=int, default=None, help="diffusion sampler steps (default: --max-new-tokens)")
    p.add_argument("--block-length", type=int, default=4, help="diffusion sampler block length")
    p.add_argument("--smoke", action="store_true", help="4 questions, 8 new tokens")
    p.add_argument("--out", default="bench/results/eval_speed.json")
    args = p.parse_args()
    if args.smoke:
        args.questions, args.max_new_tokens = 4, 8

    test = args.test or write_name_description(tempfile.mkdtemp(), 10, seed=0)[1]
    questions = load_questions(test)[: args.questions]
    model_cfg = ModelConfig(name=args.model, bidirectional=args.bidirectional)
    model, tok, _ = load_model_and_tokenizer(model_cfg)
    adapter = resolve_adapter(model, tok, model_cfg, needs_mask=False)
    sampler = sampler_for(EvalConfig(steps=args.steps or args.max_new_tokens, block_length=args.block_length), adapter)

    t = time.time()
    _, batched = evaluate_qa(model, tok, questions, args.batch_size, args.max_new_tokens, progress=False,
                             sampler=sampler)
    batched_s = time.time() - t
    t = time.time()
    if sampler is None:
        baseline_name = "plain transformers generate, one at a time"
        single = plain_generate_loop(model, tok, questions, args.max_new_tokens)
    else:
        baseline_name = "kinject's sampler, one at a time"
        single = [evaluate_qa(model, tok, [q], 1, args.max_new_tokens, progress=False, sampler=sampler)[1][0]["generated"]
                  for q in questions]
    single_s = time.time() - t

    same = sum(a["generated"] == b for a, b in zip(batched, single))
    result = {
        "model": args.model, "decoding": "diffusion sampler" if sampler else "greedy", "baseline": baseline_name,
        "steps": sampler.steps if sampler else None, "block_length": sampler.block_length if sampler else None,
        "questions": len(questions), "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "batched_questions_per_s": len(questions) / batched_s, "single_questions_per_s": len(questions) / single_s,
        "speedup": single_s / batched_s, "identical_outputs": same, "total": len(questions),
    }
    print(f"| mode | questions/s |\n|---|---|\n| kinject batched ({args.batch_size}) | "
          f"{result['batched_questions_per_s']:.2f} |\n| {baseline_name} | {result['single_questions_per_s']:.2f} |\n\n"
          f"batched / one-at-a-time: {result['speedup']:.1f}x; identical {result['decoding']} outputs: "
          f"{same}/{len(questions)}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
