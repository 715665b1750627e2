"""Extending kinject from outside the package: a new objective is one class + one registration, a
new metric one decorated function; both appear in a run's tables (docs/extending.md)."""

from __future__ import annotations

import json

import pytest

import kinject
from kinject.cli import main
from kinject.objectives.base import ChatPieces, Objective, make_feature
from kinject.registry import METRICS, OBJECTIVES


class EchoObjective(Objective):
    """Toy: the document as both the user turn and the answer (a copy task), loss on the answer."""

    name = "echo"
    description = "copy the document from the user turn"
    reads = ("chat_prompt",)

    def __init__(self, cfg, tokenizer, mask_id=None, adapter=None):
        super().__init__(cfg, tokenizer, mask_id, adapter)
        self.chat = ChatPieces.from_tokenizer(tokenizer)

    def build(self, document_ids):
        return make_feature([(self.chat.before_user + document_ids + self.chat.between, "context"),
                             (document_ids, "target"), ([self.chat.end_of_turn], "label")])


def short_answer(prediction: str, gold) -> float:
    return float(len(prediction.split()) <= 3)


@pytest.fixture()
def registered():
    kinject.register_objective(EchoObjective)
    kinject.register_metric("short_answer", "answer of at most 3 words", "short")(short_answer)
    yield
    OBJECTIVES.pop("echo")
    METRICS.pop("short_answer")


def test_an_outside_objective_and_metric_show_up_in_a_run(tmp_path, tiny_model_dir, registered, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
model: {{name: {tiny_model_dir}}}
data: {{generate_people: 2}}
train: {{epochs: 1, batch_size: 2, bf16: "false"}}
eval: {{every: 0, max_new_tokens: 6}}
output_dir: {tmp_path / 'out'}
runs:
  echo: {{objective: {{name: echo, chat_prompt: unused here}}}}
  standard: {{}}
""")
    assert main(["run", str(cfg), "-q"]) == 0
    summary = json.loads((tmp_path / "out" / "echo" / "summary.json").read_text())
    assert summary["objective"] == "echo" and "short_answer" in summary["final"]["forward"]
    assert "| answer of at most 3 words |" in (tmp_path / "out" / "echo" / "summary.md").read_text()
    comparison = (tmp_path / "out" / "comparison.md").read_text()
    assert "| final short |" in comparison and "| echo | echo |" in comparison
    rows = [json.loads(line) for line in (tmp_path / "out" / "echo" / "generations.jsonl").read_text().splitlines()]
    assert all("short_answer" in r for r in rows)
    assert main(["config"]) == 0
    assert "echo (task knowledge): copy the document from the user turn" in capsys.readouterr().out
    # the registry refuses a second objective under a taken name
    with pytest.raises(ValueError, match="registered already"):
        kinject.register_objective(type("Other", (EchoObjective,), {}))
