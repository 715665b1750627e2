"""Export: the run's model/ directory loads with plain transformers (AutoModelForCausalLM,
AutoTokenizer, its chat template) and reproduces the run's final generations, with the mask
token kinject added to the tokenizer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import make_model, make_tokenizer

from kinject.cli import main

PLAIN_TRANSFORMERS = r"""
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

model_dir, questions = sys.argv[1], json.loads(sys.argv[2])
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
answers = []
for q in questions:
    ids = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    answers.append(tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
print(json.dumps({"answers": answers, "mask": tok.convert_tokens_to_ids("<|mask|>"),
                  "vocab": model.get_input_embeddings().num_embeddings, "kinject" : "kinject" in sys.modules}))
"""


def test_saved_model_loads_with_plain_transformers_and_reproduces_the_final_generations(tmp_path):
    model_dir = tmp_path / "base"  # a tokenizer with no spare special token: kinject adds <|mask|>
    tok = make_tokenizer(spare_special=False)
    make_model(len(tok)).save_pretrained(model_dir, safe_serialization=True)
    tok.save_pretrained(model_dir)
    docs, qa = tmp_path / "docs.jsonl", tmp_path / "qa.jsonl"
    facts = ["Daphne Barrington directed a film.", "Uriah Hawthorne composed a symphony."]
    docs.write_text("".join(json.dumps({"text": t}) + "\n" for t in facts))
    questions = ["Who is Daphne Barrington?", "What did Uriah Hawthorne compose?", "Tell me a fact."]
    qa.write_text("".join(json.dumps({"question": q, "answer": "film", "direction": "forward"}) + "\n" for q in questions))
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"""
model: {{name: {model_dir}}}
data: {{train: {docs}, test: {qa}}}
objective: {{name: masked}}
train: {{epochs: 3, lr: 3.0e-3, batch_size: 2, bf16: "false"}}
eval: {{every: 0, max_new_tokens: 8, bf16: false}}
output_dir: {tmp_path / "run"}
save_model: true
""")
    assert main(["run", str(cfg)]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["mask_token"] == {"token": "<|mask|>", "id": len(tok), "added": True}
    assert summary["trust_remote_code"] is False  # recorded; off unless the config sets it
    final = [json.loads(line) for line in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()]
    final = [r["generated"] for r in final if r["epoch"] == 3]
    assert any(final)

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", PLAIN_TRANSFORMERS, str(tmp_path / "run" / "model"), json.dumps(questions)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    plain = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not plain["kinject"]
    assert plain["answers"] == final
    assert plain["mask"] == len(tok) and plain["vocab"] >= len(tok) + 1
