"""Build a CPU-scale world: a tokenizer, and two small twin models pretrained on the same corpus.

Why: no pretrained masked diffusion LM can be had offline, and an autoregressive checkpoint does
not become one on a small budget. So kinject pretrains, from scratch and in minutes on a CPU, a
bidirectional dLLM and an autoregressive twin of identical size on identical data:

    pretraining corpus = biographies of `pretrain_people` people + QA pairs about them
                         (forward and backward questions, in the chat template)
    injection set      = biographies of `inject_people` *other* people (data/documents.jsonl)
                         + forward/backward questions about them (data/questions.jsonl)

The QA pairs teach the models the question-answering format and how to answer from memorized
biographies; the injection set is new knowledge for `kinject run` to inject. The causal twin
is pretrained with the standard objective (biographies: BOS + text + EOS; QA: loss on the
answer), the bidirectional twin with the masked-diffusion objective (biographies likewise; QA in
SFT form, prompt never masked, answers filled with EOS as in LLaDA's SFT).

Layout of world.dir:
    world.json              settings, people split, pretraining loss and time per twin
    causal/, bidirectional/ HF model directories (safetensors + tokenizer + chat template)
    data/documents.jsonl, data/questions.jsonl   the injection set
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from kinject.errors import KinjectError
from kinject.console import log
from kinject.io import make_public, write_json, write_jsonl
from kinject.world.bios import biography, make_people, questions

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
          "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          "{% endif %}")
SPECIALS = {"pad_token": "<|pad|>", "bos_token": "<|bos|>", "eos_token": "<|eos|>", "mask_token": "<|mask|>"}
CHAT_TOKENS = ["<|im_start|>", "<|im_end|>"]


def world_key(cfg) -> str:
    """Hash of everything that shapes the built world (not its directory)."""
    settings = {k: v for k, v in asdict(cfg).items() if k != "dir"}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def is_built(cfg) -> bool:
    meta = Path(cfg.dir) / "world.json"
    if not meta.exists():
        return False
    try:
        return json.loads(meta.read_text()).get("key") == world_key(cfg)
    except (OSError, json.JSONDecodeError):
        return False


def corpus(cfg) -> tuple[list[str], list[dict], list[dict], list[dict]]:
    """(pretraining biographies, pretraining QA records, injection documents, injection questions)."""
    people = make_people(cfg.pretrain_people + cfg.inject_people, cfg.seed)
    rng = random.Random(cfg.seed + 1)
    pretrain, inject = people[: cfg.pretrain_people], people[cfg.pretrain_people :]
    bios = [biography(p, rng) for p in pretrain for _ in range(cfg.bios_per_person)]
    pretrain_qa = [q for p in pretrain for q in questions(p)]
    docs, qa = [], []
    for i, person in enumerate(inject):
        doc_id = f"person-{i:03d}"
        docs.append({"id": doc_id, "text": biography(person, rng)})
        qa += [{**q, "doc_id": doc_id} for q in questions(person)]
    return bios, pretrain_qa, docs, qa


def train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS.values()) + CHAT_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS, additional_special_tokens=CHAT_TOKENS)
    fast.chat_template = CHATML
    return fast


def twin_model(cfg, tokenizer, bidirectional: bool):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(cfg.seed)  # identical initial weights for both twins
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
        max_position_embeddings=512, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, mask_token_id=None,
    )
    if bidirectional:
        config.is_causal = False
        config.mask_token_id = tokenizer.mask_token_id
    return LlamaForCausalLM(config)


def pretrain_twin(cfg, tokenizer, bios: list[str], pretrain_qa: list[dict], bidirectional: bool, out: Path) -> dict:
    """Pretrain one twin through kinject's training path; save it to `out`."""
    import torch

    from kinject.config import ModelConfig, ObjectiveConfig, TrainConfig
    from kinject.models.adapter import resolve_adapter
    from kinject.objectives import MaskedDiffusionObjective, StandardObjective
    from kinject.objectives.base import ChatPieces, encode_text
    from kinject.training.trainer import KinjectTrainer, training_arguments

    model = twin_model(cfg, tokenizer, bidirectional)
    adapter = resolve_adapter(model, tokenizer, ModelConfig(name=str(out)), needs_mask=False)
    if bidirectional:
        objective = MaskedDiffusionObjective(ObjectiveConfig(name="mdm", eos_fill=True, t_per=cfg.t_per), tokenizer,
                                             adapter.mask_id, adapter=adapter)
    else:
        objective = StandardObjective(ObjectiveConfig(name="standard"), tokenizer, adapter=adapter)
    chat = ChatPieces.from_tokenizer(tokenizer)
    features = [objective.build(encode_text(tokenizer, text)) for text in bios]
    features += [objective.build_pair(chat.prompt_ids(tokenizer, q["question"]), encode_text(tokenizer, q["answer"]))
                 for q in pretrain_qa]
    train_cfg = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, seed=cfg.seed,
                            warmup_ratio=0.05, weight_decay=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        args = training_arguments(train_cfg, tmp, len(features))
        # length-grouped batches: biographies and short QA pairs are not padded (or EOS-filled) to each other
        args = replace(args, lr_scheduler_type="cosine", logging_steps=max(1, len(features) // cfg.batch_size),
                       disable_tqdm=True, train_sampling_strategy="group_by_length")
        torch.manual_seed(cfg.seed)
        trainer = KinjectTrainer(model=model, args=args, train_dataset=features, objective=objective)
        started = time.time()
        trainer.train()
        seconds = time.time() - started
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    recall = pretraining_recall(model, tokenizer, adapter, pretrain_qa[: cfg.probe_questions])
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    kind = "bidirectional (mdm)" if bidirectional else "causal (standard)"
    log(f"pretrained the {kind} twin: loss {losses[0]:.2f} -> {losses[-1]:.2f} in {seconds:.0f} s; "
        f"ROUGE-1 recall on {cfg.probe_questions} of its pretraining questions: {recall}")
    return {"objective": kind, "sequences": len(features), "steps": trainer.state.global_step,
            "first_loss": round(losses[0], 4), "final_loss": round(losses[-1], 4), "seconds": round(seconds, 1),
            "parameters": sum(p.numel() for p in model.parameters()),
            "pretraining_qa_recall": recall}


def pretraining_recall(model, tokenizer, adapter, pretrain_qa: list[dict]) -> dict:
    """Mean ROUGE-1 recall by direction on pretraining questions: did pretraining take?"""
    from kinject.config import EvalConfig
    from kinject.data.schema import QAItem
    from kinject.evaluation.diffusion import sampler_for
    from kinject.evaluation.qa import evaluate_qa

    items = [QAItem(q["question"], (q["answer"],), q["direction"]) for q in pretrain_qa]
    sampler = sampler_for(EvalConfig(steps=32), adapter)
    result, _ = evaluate_qa(model, tokenizer, items, batch_size=64, max_new_tokens=32, sampler=sampler,
                            progress=False)
    return {d: round(result[d]["rouge1_recall"], 3) for d in ("forward", "backward") if d in result}


WORLD_ENTRIES = {"causal", "bidirectional", "data", "world.json"}  # all a world directory holds


def build_world(cfg) -> Path:
    """Build cfg.dir unless it already holds this world. Returns the directory."""
    target = Path(cfg.dir)
    if is_built(cfg):
        log(f"world in {target} is built already")
        return target
    if target.exists() and any(target.iterdir()):
        foreign = sorted(p.name for p in target.iterdir() if p.name not in WORLD_ENTRIES)
        if not (target / "world.json").exists() or foreign:
            raise KinjectError(f"{target}: world.dir holds other files ({(foreign or ['no world.json'])[0]}); choose "
                               "an empty or new directory")
        log(f"world settings changed; rebuilding {target}")
    started = time.time()
    bios, pretrain_qa, docs, qa = corpus(cfg)
    log(f"world: {cfg.pretrain_people} people to pretrain on ({len(bios)} biographies, {len(pretrain_qa)} QA pairs), "
        f"{cfg.inject_people} new people to inject")
    tokenizer = train_tokenizer(bios + [f"{q['question']} {q['answer']}" for q in pretrain_qa], cfg.vocab_size)  # pretraining text only
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        twins = {name: pretrain_twin(cfg, tokenizer, bios, pretrain_qa, name == "bidirectional", tmp / name)
                 for name in ("causal", "bidirectional")}
        write_jsonl(tmp / "data" / "documents.jsonl", docs)
        write_jsonl(tmp / "data" / "questions.jsonl", qa)
        write_json(tmp / "world.json", {"key": world_key(cfg), "settings": asdict(cfg), "twins": twins,
                                        "vocab_size": len(tokenizer), "seconds": round(time.time() - started, 1)})
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        make_public(target)  # mkdtemp made it 0700
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"world built in {target} ({time.time() - started:.0f} s)")
    return target
