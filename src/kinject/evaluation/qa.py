"""Closed-book QA evaluation: the plain question in the chat template, greedy, scored per item."""

from __future__ import annotations

from functools import partial

from kinject.data.schema import QAItem
from kinject.distributed import across_processes, is_main
from kinject.evaluation.diffusion import DiffusionSampler, diffusion_generate
from kinject.evaluation.generation import generate_greedy
from kinject.evaluation.metrics import aggregate, score
from kinject.objectives.base import ChatPieces


def question_prompts(tokenizer, questions: list[QAItem]) -> list[list[int]]:
    chat = ChatPieces.from_tokenizer(tokenizer)
    return [chat.prompt_ids(tokenizer, q.question) for q in questions]


def stop_ids(tokenizer) -> list[int]:
    chat = ChatPieces.from_tokenizer(tokenizer)
    return sorted({chat.end_of_turn, tokenizer.eos_token_id} - {None})


def evaluate_qa(model, tokenizer, questions: list[QAItem], batch_size=32, max_new_tokens=128, bf16=False,
                progress=True, sampler: DiffusionSampler | None = None) -> tuple[dict, list[dict]]:
    """Return (aggregate by direction and group, one row per question).

    Greedy decoding for arLLMs; with a DiffusionSampler, masked-diffusion sampling of
    max_new_tokens positions. Same prompts, stop tokens and scoring either way."""
    generate = generate_greedy if sampler is None else partial(diffusion_generate, sampler=sampler)
    stops = stop_ids(tokenizer)
    generated = across_processes(  # in a multi-process run each process answers its share
        lambda prompts: generate(model, tokenizer, prompts=prompts, stop_ids=stops, batch_size=batch_size,
                                 max_new_tokens=max_new_tokens, bf16=bf16, progress=progress and is_main()),
        question_prompts(tokenizer, questions))
    rows = []
    for q, text in zip(questions, generated):
        rows.append({
            "question": q.question, "gold": list(q.answers), "generated": text,
            "direction": q.direction, "group": q.group, "task": q.task, "doc_id": q.doc_id,
            **score(text, list(q.answers)),
        })
    return aggregate(rows), rows
