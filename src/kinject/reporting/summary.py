"""summary.json: what a run was (model, objective, augmentation, optimizer, sampler, data), what it
scored (before, final, best), and what it cost (time, tokens, FLOPs)."""

from __future__ import annotations

import time

from kinject import distributed


def describe_augmentation(cfg) -> str:
    d, a = cfg.data, cfg.augment
    parts = []
    if d.num_paraphrases != 0:
        k = "all" if d.num_paraphrases is None else d.num_paraphrases
        source = f" by {cfg.paraphrase.model or cfg.model.name}" if cfg.paraphrase.output else ""
        parts.append(f"{k} {d.paraphrase_order}-order paraphrases{source}" + (" (no original)" if d.paraphrases_only else ""))
    if a.formatting:
        parts.append(f"{a.formatting} formatting copies")
    if a.reverse:
        parts.append(f"reversed copy ({a.reverse_entities} entities)")
    return ", ".join(parts) or "none"


def describe_optimizer(cfg) -> str:
    from kinject.training.sam import sam_rho

    t = cfg.train
    if t.optimizer == "sam":
        return f"{'ASAM' if t.sam_adaptive else 'SAM'} (rho {sam_rho(t)}) + AdamW"
    return "AdamW"


def describe_objective(cfg) -> str:
    from kinject.registry import OBJECTIVES

    return OBJECTIVES[cfg.objective.name].label(cfg)


def describe_sampler(sampler) -> str:
    if sampler is None:
        return "greedy"
    temperature = f", temperature {sampler.temperature}" if sampler.temperature else ""
    return f"diffusion ({sampler.steps} steps, block {sampler.block_length}, {sampler.remasking}{temperature})"


def compute_accounting(model, counters: dict, texts: list, cfg) -> dict:
    """Training tokens and FLOPs (6 x parameters x tokens through forward + backward; SAM's second
    pass counts), and the generation spent on paraphrases, scaled to the paraphrases used."""
    from kinject.augment.paraphrase import generation_cost

    n_params = sum(p.numel() for p in model.parameters())
    out = {
        "parameters": n_params,
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_tokens": counters["train_tokens"],
        "forward_backward_tokens": counters["pass_tokens"],
        "train_flops": 6 * n_params * counters["pass_tokens"],
        "augmentation_generated_tokens": 0,
        "augmentation_flops": 0,
    }
    meta = generation_cost(cfg.paraphrase.output) if cfg.paraphrase.output else None
    used = sum(t.kind in ("paraphrase", "permuted") for t in texts)
    if meta:
        available = max(sum(meta["paraphrases"].values()), 1)
        share = used / available
        out["augmentation_generated_tokens"] = round(meta["generated_tokens"] * share)
        out["augmentation_flops"] = round(meta["estimated_flops"] * share)
        out["augmentation_seconds"] = round(meta.get("generation_seconds", 0.0) * share, 1)
        out["augmentation_note"] = (f"{used} of {available} generated paraphrases used; whole file: "
                                    f"{meta['generated_tokens']} generated tokens by {meta['settings']['generator']}")
    elif used:
        out["augmentation_note"] = f"{used} paraphrases from the data files (generation cost unknown)"
    out["total_flops"] = out["train_flops"] + out["augmentation_flops"]
    return out


def timing(cfg, counters: dict, train_seconds: float, eval_seconds: float, started: float, checkpoint, bf16: bool):
    return {
        "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(train_seconds / cfg.train.epochs, 2),
        "eval_seconds": round(eval_seconds, 1),
        "total_seconds": round(time.time() - started, 1),
        "resumed_from": checkpoint,  # with a resume, the seconds cover the last session only
        "train_tokens": counters["train_tokens"],
        "loss_tokens": counters["loss_tokens"],
        "padding_fraction": round(1 - counters["train_tokens"] / max(counters["batch_positions"], 1), 4),
        "tokens_per_second": round(counters["train_tokens"] / max(train_seconds, 1e-9), 1),
        "bf16": bf16,
        "processes": distributed.num_processes(),
        "global_batch": cfg.train.batch_size * cfg.train.grad_accum * distributed.num_processes(),
    }


def build_summary(cfg, task, model_path: str, prepared, sampler, evaluations, final: dict, before, compute: dict,
                  timings: dict) -> dict:
    from kinject.reporting.run_dir import best_entry

    best = best_entry(evaluations, task)
    mask = prepared.adapter.mask
    return {
        "run": cfg.run_name,
        "model": cfg.model.name,
        "model_path": model_path,
        "trust_remote_code": cfg.model.trust_remote_code,  # whether the model's own code was allowed to run
        "objective": describe_objective(cfg),
        "augmentation": describe_augmentation(cfg),
        "optimizer": describe_optimizer(cfg),
        "before": before,
        "final": final,
        "best": {**best, "selected_on": "test questions (optimistic)"} if best else None,
        "mask_token": {"token": mask.token, "id": mask.id, "added": mask.added} if mask else None,
        "model_adapter": prepared.adapter.describe(),
        "sampler": describe_sampler(sampler),
        "task": cfg.task,
        "data": task.describe_data(cfg, prepared.data, prepared.sequences),
        "compute": compute,
        "timing": timings,
    }
