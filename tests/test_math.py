"""Math SFT: loss masks of sft and masked_sft, final-number extraction, generated problems that
are verified and split without overlap, data errors, and a run that learns."""

from __future__ import annotations

import json
import re

import pytest
import torch

from kinject.config import ObjectiveConfig
from kinject.errors import KinjectError
from kinject.math.data import load_math
from kinject.math.generate import generate_problems, write_math_split
from kinject.math.scoring import extract_flexible, extract_strict, normalize_number
from kinject.objectives.base import IGNORE, encode_text
from kinject.objectives.sft import MaskedSFTObjective, SFTObjective

QUESTION = "Maya has 5 apples. She buys 2 packs of 3. How many apples?"
ANSWER = "She buys 2 * 3 = 6 apples.\nShe has 5 + 6 = 11 apples.\n#### 11"


def mask_id(tokenizer):
    return tokenizer.convert_tokens_to_ids("<|spare_0|>")


def test_sft_loss_is_on_the_answer_and_end_of_turn_only(tokenizer):
    obj = SFTObjective(ObjectiveConfig(name="sft"), tokenizer)
    f = obj.build_qa(QUESTION, ANSWER)
    answer = encode_text(tokenizer, ANSWER)
    loss_ids = [t for t, l in zip(f["input_ids"], f["labels"]) if l != IGNORE]
    assert loss_ids == answer + [obj.chat.end_of_turn]
    question = encode_text(tokenizer, QUESTION)
    start = next(i for i in range(len(f["input_ids"])) if f["input_ids"][i : i + len(question)] == question)
    assert all(l == IGNORE for l in f["labels"][: start + len(question)])


@pytest.mark.parametrize("loss_on", ["auto", "all"])
def test_masked_sft_loss_is_exactly_on_answer_tokens_masked_in_the_prompt(tokenizer, loss_on):
    obj = MaskedSFTObjective(ObjectiveConfig(name="masked_sft", loss_on=loss_on), tokenizer, mask_id(tokenizer))
    answer = encode_text(tokenizer, ANSWER)
    features = [obj.build_qa(QUESTION, ANSWER), obj.build_qa("What is 2 + 2?", "2 + 2 = 4\n#### 4")]
    batch = obj.collate(features)
    text = tokenizer.decode(features[0]["input_ids"])
    assert "Question:\n" + QUESTION + "\nAnswer:\n" in text and "Return the recovered masked answer." in text
    for seed in range(5):
        corrupted, stats = obj.corrupt(batch, torch.Generator().manual_seed(seed))
        for row in range(2):
            ids, labels = corrupted["input_ids"][row], corrupted["labels"][row]
            maskable, target = batch["maskable"][row], batch["target"][row]
            masked = (ids == obj.mask_id) & maskable
            assert (ids == obj.mask_id).sum() == masked.sum()  # masks only in the prompt's answer copy
            assert torch.equal(ids[~maskable], batch["input_ids"][row][~maskable])  # question untouched
            has_loss = labels != IGNORE
            if loss_on == "auto":  # published: the k-th answer token is trained iff its copy was masked
                assert torch.equal(has_loss[target], masked[maskable])
                assert has_loss[~target].sum() == 1  # + end-of-turn (objective.eot_loss, default on)
            else:
                assert has_loss[target].all() and has_loss[~target].sum() == 1  # + end-of-turn
            assert torch.equal(labels[has_loss], batch["input_ids"][row][has_loss])  # labels are never masks
    assert row == 1 and batch["target"][0].sum() == len(answer)


@pytest.mark.parametrize("text, strict, flexible", [
    ("So 3 + 4 = 7.\n#### 7", "7", "7"),
    ("#### 1,234", "1234", "1234"),
    ("The total is $1,234.50 in all.", None, "1234.5"),
    ("#### -3\nThat is all.", "-3", "-3"),
    ("#### $12.00 dollars", "12", "12"),
    ("She has 5 apples and 0.5 pears, so 5.5 in total", None, "5.5"),
    ("#### 8\n#### 9", "9", "9"),
    ("no number here", None, None),
    ("It costs 007 coins.", None, "7"),
    ("Answer: 42.", None, "42"),
    ("#### " + "1" * 60, "1" * 60, "1" * 60),  # a degenerate generation must not crash scoring
])
def test_answer_extraction(text, strict, flexible):
    assert extract_strict(text) == strict
    assert extract_flexible(text) == flexible


def test_numbers_normalize():
    assert normalize_number("$1,000") == "1000" and normalize_number("-2.50") == "-2.5" and normalize_number("3.0") == "3"


EQUATION = re.compile(r"(\d+) ([-+*/]) (\d+) = \$?(\d+)")


def test_generated_answers_are_verified_by_computing_them():
    problems = generate_problems(400, seed=0)
    assert len({p["question"] for p in problems}) == 400
    for p in problems:
        steps = EQUATION.findall(p["answer"])
        assert steps, p
        for a, op, b, c in steps:
            value = {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b), "/": int(a) / int(b)}[op]
            assert value == int(c) and value > 0, p
        assert p["answer"].splitlines()[-1] == f"#### {steps[-1][3]}"
    assert generate_problems(20, seed=0) == problems[:20] and generate_problems(20, seed=1) != problems[:20]


def test_splits_share_no_problem_and_load(tmp_path):
    train, test = write_math_split(tmp_path, 60, 30, seed=2)
    a, b = load_math(train), load_math(test)
    assert len(a) == 60 and len(b) == 30
    assert not {i.question for i in a} & {i.question for i in b}
    assert all(i.final == i.answer.splitlines()[-1].split()[-1] for i in a + b)


def test_data_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "m.jsonl"
    cases = [
        ({"question": "Q?", "answer": "no final line"}, "m.jsonl:1: field 'answer': must end with a line '#### <number>'"),
        ({"question": "Q?", "answer": "#### 4", "id": 3}, "m.jsonl:1: field 'id': unknown key"),
        ({"prompt": "Q?", "response": "none"}, "m.jsonl:1: field 'response': has no number"),
        ({"question": "", "answer": "#### 4"}, "m.jsonl:1: field 'question': must be a non-empty string"),
    ]
    for record, message in cases:
        path.write_text(json.dumps(record) + "\n")
        with pytest.raises(KinjectError) as err:
            load_math(path)
        assert str(err.value).startswith(f"{tmp_path}/{message}"), str(err.value)
    path.write_text(json.dumps({"prompt": "What is 6 x 7?", "response": "It is 42."}) + "\n")
    assert load_math(path)[0].final == "42"


def test_math_run_learns_its_training_problems(tmp_path, tiny_model_dir, capsys):
    """Asked the plain question, sft answers its training problems; masked_sft, which never sees the
    plain question in training, starts to."""
    from kinject.cli import main

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in [{"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"},
                                                            {"question": "What is 4 * 6?", "answer": "4 * 6 = 24\n#### 24"}]))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"""
task: math
model: {{name: {tiny_model_dir}}}
data: {{train: {data}, test: {data}}}
train: {{epochs: 40, lr: 3.0e-3, batch_size: 2, warmup_ratio: 0.0, bf16: "false"}}
eval: {{every: 0, max_new_tokens: 20}}
output_dir: {tmp_path / 'out'}
runs:
  sft: {{objective: {{name: sft}}}}
  masked_sft: {{objective: {{name: masked_sft, loss_on: all}}, train: {{epochs: 100}}}}
""")
    assert main(["run", str(cfg)]) == 0
    for run in ("sft", "masked_sft"):
        s = json.loads((tmp_path / "out" / run / "summary.json").read_text())
        assert s["task"] == "math" and s["before"]["math"]["flexible"] == 0.0
        losses = [r["loss"] for r in map(json.loads, (tmp_path / "out" / run / "train_log.jsonl").read_text().splitlines())
                  if "loss" in r]
        assert losses[-1] < 0.25 * losses[0]
    sft = json.loads((tmp_path / "out" / "sft" / "summary.json").read_text())
    assert sft["final"]["math"]["strict"] == 1.0
    masked = json.loads((tmp_path / "out" / "masked_sft" / "summary.json").read_text())
    assert masked["final"]["math"]["flexible"] > 0.0  # a tiny model transfers from the masked prompt slowly
    assert "| sft | sft |" in (tmp_path / "out" / "comparison.md").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(cfg.read_text().replace("task: math", "task: knowledge"))
    assert main(["run", str(bad)]) == 2
    assert main(["run", str(cfg), "--overwrite", "augment.formatting=2"]) == 2
    assert "key 'augment.formatting': applies to knowledge documents, not to task=math" in capsys.readouterr().err


def test_data_math_and_validate_commands(tmp_path, capsys):
    from kinject.cli import main

    assert main(["data", "math", "--out", str(tmp_path), "--train", "12", "--test", "5", "--seed", "1"]) == 0
    assert main(["data", "validate", str(tmp_path / "train.jsonl"), str(tmp_path / "test.jsonl")]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'train.jsonl'}: 12 math problems" in out and f"{tmp_path / 'test.jsonl'}: 5 math problems" in out
