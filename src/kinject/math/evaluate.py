"""Math evaluation: the plain question in the chat template, greedy, final number compared."""

from __future__ import annotations

from kinject.distributed import across_processes, is_main
from kinject.evaluation.generation import generate_greedy
from kinject.evaluation.qa import stop_ids
from kinject.math.data import MathItem
from kinject.math.scoring import aggregate_math, score_math
from kinject.objectives.base import ChatPieces


def evaluate_math(model, tokenizer, items: list[MathItem], batch_size=32, max_new_tokens=256, bf16=False,
                  progress=True) -> tuple[dict, list[dict]]:
    """Return ({"math": {"strict", "flexible", "n"}}, one row per problem)."""
    chat = ChatPieces.from_tokenizer(tokenizer)
    stops = stop_ids(tokenizer)
    generated = across_processes(  # in a multi-process run each process answers its share
        lambda prompts: generate_greedy(model, tokenizer, prompts, stops, batch_size=batch_size,
                                        max_new_tokens=max_new_tokens, bf16=bf16, progress=progress and is_main()),
        [chat.prompt_ids(tokenizer, item.question) for item in items])
    rows = [{"question": item.question, "gold": item.final, "generated": text, **score_math(text, item.final)}
            for item, text in zip(items, generated)]
    return aggregate_math(rows), rows
