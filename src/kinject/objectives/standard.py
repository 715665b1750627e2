"""Standard fine-tuning on documents (the baseline of arXiv 2510.09885).

pretrain format:  BOS + document + EOS                      loss on document + EOS
chat format:      user "Tell me a fact." / assistant document  loss on document + end-of-turn
"""

from __future__ import annotations

from kinject.objectives.base import ChatPieces, Objective, make_feature


class StandardObjective(Objective):
    name = "standard"
    description = "next-token loss on the document (pretraining or chat format)"
    reads = ("format", "chat_prompt")

    @classmethod
    def label(cls, cfg) -> str:
        return f"standard ({cfg.objective.format})"

    def __init__(self, cfg, tokenizer, mask_id=None, adapter=None):
        super().__init__(cfg, tokenizer, mask_id, adapter)
        self.chat = None  # chat-template pieces, only when a chat form is used
        if cfg.format == "chat":
            self.chat = ChatPieces.from_tokenizer(tokenizer)
            self.prompt = self.chat.prompt_ids(tokenizer, cfg.chat_prompt)

    def build(self, document_ids: list[int]) -> dict:
        tok = self.tokenizer
        if self.cfg.format == "chat":
            return make_feature([(self.prompt, "context"), (document_ids, "target"), ([self.chat.end_of_turn], "label")])
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        return make_feature([(bos, "context"), (document_ids, "target"), ([tok.eos_token_id], "label")])

    def build_pair(self, prompt_ids: list[int], answer_ids: list[int]) -> dict:
        self.chat = self.chat or ChatPieces.from_tokenizer(self.tokenizer)
        return make_feature([(prompt_ids, "context"), (answer_ids, "target"), ([self.chat.end_of_turn], "label")])
