"""Paraphrase generation (the paraphrase baseline of arXiv 2510.09885) for documents that have none.

`kinject paraphrase` / `paraphrase.output` ask a local instruct model (any Hugging Face causal LM
with a chat template) for `count` same-order and/or permuted-order rewrites of every document,
with sampling so the rewrites differ, and write a documents file:

    OUTPUT              JSONL {"id", "text", "paraphrases": [...], "permuted_paraphrases": [...]}
                        in the input's document order (a valid data.train file)
    OUTPUT.meta.json    settings, counts, prompt/generated tokens, seconds, estimated FLOPs, and
                        kept_all_names: the share of paraphrases that still contain every
                        multi-word name of their original verbatim (documents' "entities", else
                        the capitalized-run heuristic of kinject.augment.reverse): small models
                        rename people, which the paraphrase baseline then learns
    OUTPUT.partial      while running: a settings line, then one line per finished document

Resumable: documents are generated in fixed chunks of consecutive documents, each chunk with its
own seed, and a chunk's documents are appended to OUTPUT.partial (flushed and fsynced) when the
chunk is done. A restarted job skips documents already there (a torn last line is dropped), so
it ends with the file an uninterrupted job writes. Cached: when OUTPUT and its meta exist with the
same settings and the same input, nothing is generated again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

from kinject.errors import KinjectError

ORDERS = {"same": ("same",), "permuted": ("permuted",), "both": ("same", "permuted")}
FIELD = {"same": "paraphrases", "permuted": "permuted_paraphrases"}


def meta_path(output) -> Path:
    return Path(str(output) + ".meta.json")


def partial_path(output) -> Path:
    return Path(str(output) + ".partial")


def settings_of(docs_path, pcfg, generator: str) -> dict:
    digest = hashlib.sha256(Path(docs_path).read_bytes()).hexdigest()
    return {"source": str(docs_path), "source_sha256": digest, "generator": generator, "count": pcfg.count,
            "orders": pcfg.orders, "temperature": pcfg.temperature, "top_p": pcfg.top_p,
            "max_new_tokens": pcfg.max_new_tokens, "seed": pcfg.seed, "bf16": pcfg.bf16,
            "same_prompt": pcfg.same_prompt, "permuted_prompt": pcfg.permuted_prompt}


LEAD_IN = re.compile(r"^\s*(?:(?:sure|okay|certainly)[!,.]?\s*)?(?:here(?:'s| is)[^:\n]{0,60}|[^:\n]{0,40}"
                     r"(?:rewrit|paraphras|rephras)[^:\n]{0,40}):\s*", re.IGNORECASE)


def clean(text: str) -> str:
    """Drop a chatty lead-in ("Here is the rewritten text:", "Rewrite:") and surrounding quotes."""
    text = text.strip()
    lines = text.split("\n")
    if len(lines) > 1 and lines[0].rstrip().endswith(":") and len(lines[0]) < 80:
        text = "\n".join(lines[1:]).strip()
    text = LEAD_IN.sub("", text, count=1).strip()
    if len(text) > 1 and text[0] == text[-1] == '"' and text.count('"') == 2:
        text = text[1:-1].strip()
    return text


def read_partial(path: Path, settings: dict) -> dict[str, dict]:
    """Finished documents by id from a partial file written with the same settings."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").split("\n")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        return {}
    if header.get("settings") != settings:
        raise KinjectError(f"{path}: an unfinished paraphrase job with other settings; delete it to start over")
    done = {}
    for line in lines[1:]:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            break  # a torn last line from an interrupted write
        done[rec["id"]] = rec
    return done


def _append(path: Path, records: list[dict]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def generate_paraphrases(docs_path, output, pcfg, model_cfg, progress: bool = True,
                         stop_after_chunks: int | None = None) -> dict:
    """Write OUTPUT (+ meta); return the meta. `stop_after_chunks` simulates an interruption (tests)."""
    from tqdm.auto import tqdm

    from kinject.data.loaders import load_documents

    output = Path(output)
    docs = load_documents(docs_path)
    generator = pcfg.model or model_cfg.name
    settings = settings_of(docs_path, pcfg, generator)
    finished = finished_meta(output, settings)
    if finished:
        return finished
    partial = partial_path(output)
    done = open_partial(partial, settings, len(docs))
    model, tokenizer = load_generator(model_cfg, generator)
    per_doc = len(ORDERS[pcfg.orders]) * pcfg.count
    docs_per_chunk = max(1, pcfg.batch_size // per_doc)
    chunks = [list(range(i, min(i + docs_per_chunk, len(docs)))) for i in range(0, len(docs), docs_per_chunk)]
    new_chunks = 0
    for c, chunk in enumerate(tqdm(chunks, desc="paraphrasing", unit="chunk", disable=not progress)):
        if all(docs[i].id in done for i in chunk):
            continue
        if stop_after_chunks is not None and new_chunks >= stop_after_chunks:
            raise KeyboardInterrupt("stopped by stop_after_chunks")
        records = generate_chunk(model, tokenizer, pcfg, [docs[i] for i in chunk], c)
        fresh = [r for r in records if r["id"] not in done]
        _append(partial, fresh)
        done.update({r["id"]: r for r in fresh})
        new_chunks += 1
    return finish(output, docs, done, settings, pcfg, sum(p.numel() for p in model.parameters()))


def finished_meta(output: Path, settings: dict) -> dict | None:
    """The meta of a complete OUTPUT written with these settings; an error for any other file there."""
    from kinject.console import log

    meta_file = meta_path(output)
    if not output.exists():
        return None
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    if meta.get("settings") == settings:
        log(f"paraphrases: {output} is complete for these settings; reusing it")
        return meta
    raise KinjectError(f"{output}: exists but was not written with these paraphrase settings "
                       f"({meta_file.name} differs or is missing); delete it or choose another paraphrase.output")


def open_partial(partial: Path, settings: dict, n_docs: int) -> dict[str, dict]:
    """Documents finished by an earlier, interrupted job with the same settings (a new partial file
    otherwise)."""
    from kinject.console import log
    from kinject.io import write_atomic

    done = read_partial(partial, settings)
    if not partial.exists() or not done:
        partial.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(partial, json.dumps({"settings": settings}) + "\n")
    else:
        log(f"paraphrases: resuming, {len(done)} of {n_docs} documents already written")
    return done


def load_generator(model_cfg, generator: str):
    import dataclasses

    from kinject.distributed import device
    from kinject.models.loading import load_model_and_tokenizer
    from kinject.objectives.base import ChatPieces

    model, tokenizer, _ = load_model_and_tokenizer(dataclasses.replace(model_cfg, name=generator, bidirectional=False))
    model.to(device())
    model.eval()
    try:
        ChatPieces.from_tokenizer(tokenizer)
    except ValueError:
        raise KinjectError(f"paraphrase.model '{generator}': has no chat template (an instruct model is needed)") from None
    return model, tokenizer


def generate_chunk(model, tokenizer, pcfg, docs: list, c: int) -> list[dict]:
    """One chunk of documents, `count` rewrites per document and order, sampled with the chunk's own
    seed (so a resumed job draws what an uninterrupted one did)."""
    import torch
    from transformers import GenerationConfig

    from kinject.evaluation.generation import cut_at_stop, hf_generate
    from kinject.evaluation.qa import stop_ids
    from kinject.objectives.base import ChatPieces

    chat, stops = ChatPieces.from_tokenizer(tokenizer), stop_ids(tokenizer)
    gen_cfg = GenerationConfig(do_sample=pcfg.temperature > 0, temperature=pcfg.temperature or None,
                               top_p=pcfg.top_p if pcfg.temperature > 0 else None, num_beams=1,
                               max_new_tokens=pcfg.max_new_tokens, eos_token_id=stops,
                               pad_token_id=tokenizer.pad_token_id, use_cache=True)
    requests = [(doc, order) for doc in docs for order in ORDERS[pcfg.orders] for _ in range(pcfg.count)]
    prompts = [chat.prompt_ids(tokenizer, (pcfg.same_prompt if order == "same" else pcfg.permuted_prompt)
                               .replace("{text}", doc.text)) for doc, order in requests]
    started = time.time()
    torch.manual_seed(int.from_bytes(hashlib.sha256(f"{pcfg.seed}/{c}".encode()).digest()[:8], "little"))
    out = hf_generate(model, prompts, tokenizer.pad_token_id, gen_cfg, pcfg.bf16, synced=False)  # one process
    records = {doc.id: {"id": doc.id, "text": doc.text, "paraphrases": [], "permuted_paraphrases": [],
                        "prompt_tokens": 0, "generated_tokens": 0, "empty": 0} for doc in docs}
    for row, (doc, order) in enumerate(requests):
        kept, stopped = cut_at_stop(out[row], stops)
        text = clean(tokenizer.decode(kept, skip_special_tokens=True))
        rec = records[doc.id]
        rec["prompt_tokens"] += len(prompts[row])
        rec["generated_tokens"] += len(kept) + stopped  # the stop token is paid for
        if text:
            rec[FIELD[order]].append(text)
        else:
            rec["empty"] += 1
    for rec in records.values():
        rec["seconds"] = (time.time() - started) / len(docs)
    return list(records.values())


def finish(output: Path, docs: list, done: dict, settings: dict, pcfg, n_params: int) -> dict:
    """OUTPUT in input order, and its meta (written first: an OUTPUT without its meta is never taken
    for complete)."""
    from kinject.augment.reverse import heuristic_entities
    from kinject.console import log
    from kinject.io import write_atomic, write_json

    orders = ORDERS[pcfg.orders]
    lines, totals = [], {"prompt_tokens": 0, "generated_tokens": 0, "empty": 0, "seconds": 0.0}
    kept, total = 0, 0
    for doc in docs:
        rec = done[doc.id]
        for key in totals:
            totals[key] += rec[key]
        out_rec = {"id": doc.id, "text": doc.text, **{FIELD[o]: rec[FIELD[o]] for o in orders}}
        if doc.entities:
            out_rec["entities"] = list(doc.entities)
        lines.append(json.dumps(out_rec, ensure_ascii=False))
        names = [e for e in (doc.entities or heuristic_entities(doc.text)) if " " in e]  # a cheap fact check
        for text in (t for o in orders for t in rec[FIELD[o]]):
            total += 1
            kept += all(name in text for name in names)
    meta = {
        "settings": settings,
        "documents": len(docs),
        "paraphrases": {order: sum(len(done[d.id][FIELD[order]]) for d in docs) for order in orders},
        "empty_outputs": totals["empty"],
        "kept_all_names": round(kept / total, 3) if total else None,
        "prompt_tokens": totals["prompt_tokens"],
        "generated_tokens": totals["generated_tokens"],
        "generator_parameters": n_params,
        "estimated_flops": 2 * n_params * (totals["prompt_tokens"] + totals["generated_tokens"]),
        "generation_seconds": round(totals["seconds"], 1),  # summed over sessions when resumed
    }
    write_json(meta_path(output), meta)
    write_atomic(output, "\n".join(lines) + "\n")
    partial_path(output).unlink(missing_ok=True)
    log(f"paraphrases: wrote {output} ({sum(meta['paraphrases'].values())} paraphrases, "
        f"{meta['generated_tokens']} tokens generated)")
    return meta


def generation_cost(train_path) -> dict | None:
    """The generation meta of a documents file written by generate_paraphrases, if any."""
    path = meta_path(train_path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
