"""Supervised fine-tuning on (question, answer) pairs (arXiv 2510.09885, masked SFT for math), in the
model's chat template.

sft          user: {question}                         assistant: {answer}<end-of-turn>
             loss on the answer and end-of-turn; never on the question
masked_sft   user: Question:\\n{question}\\nAnswer:\\n{answer, tokens masked with probability t}
                   \\nReturn the recovered masked answer.
             assistant: {answer}<end-of-turn>
             loss only on answer tokens whose copy in the prompt was masked (objective.loss_on=
             masked, the published choice), or on the whole answer + end-of-turn (loss_on=all)

Evaluation asks the plain question (the sft prompt) either way.
"""

from __future__ import annotations

from kinject.objectives.base import encode_text, make_feature
from kinject.objectives.masked import MaskedObjective
from kinject.objectives.standard import StandardObjective


class SFTObjective(StandardObjective):
    name = "sft"
    task = "math"
    description = "loss on the answer to the plain question"
    reads = ()

    @classmethod
    def label(cls, cfg) -> str:
        return "sft"

    def build(self, document_ids):
        raise NotImplementedError("sft trains on (question, answer) pairs: use build_pair")


class MaskedSFTObjective(MaskedObjective):
    name = "masked_sft"
    task = "math"
    description = "the question and a masked copy of the answer in the prompt, then the answer"
    reads = ("t_low", "t_high", "fixed_t", "loss_on", "eot_loss", "corruption", "sft_instruction")
    default_loss_on = "masked"

    def __init__(self, cfg, tokenizer, mask_id=None, adapter=None):
        super().__init__(cfg, tokenizer, mask_id, adapter)
        self.question_prefix = encode_text(tokenizer, "Question:\n")
        self.answer_prefix = encode_text(tokenizer, "\nAnswer:\n")
        self.instruction = encode_text(tokenizer, cfg.sft_instruction)

    def build(self, document_ids):
        raise NotImplementedError("masked_sft trains on (question, answer) pairs: use build_pair")

    def build_qa(self, question: str, answer: str) -> dict:
        return self.build_pair(encode_text(self.tokenizer, question), encode_text(self.tokenizer, answer))

    def build_pair(self, prompt_ids, answer_ids):
        """`prompt_ids` are the question's own tokens (the objective adds its template around them)."""
        return make_feature([
            (self.chat.before_user + self.question_prefix + prompt_ids + self.answer_prefix, "context"),
            (answer_ids, "maskable"),  # the copy that compute_loss masks
            (self.instruction + self.chat.between, "context"),
            (answer_ids, "target"),
            ([self.chat.end_of_turn], "label"),
        ])
