"""The recipe behind `kinject run`: data -> model -> objective -> evaluate -> train -> report.
Data and training sequences come from kinject.preparation."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

from kinject import distributed
from kinject.augment.training_set import TrainingText, build_training_set, describe_training_set
from kinject.config import Config, naming_source
from kinject.errors import KinjectError, RunFailed, RunInterrupted
from kinject.models.loading import load_model_and_tokenizer, log
from kinject.preparation import (check_run, data_files, documents_path, make_objective, prepare_data, prepare_math,
                                 training_features)
from kinject.io import publish_dir, write_atomic, write_json
from kinject.reporting.run_dir import RunDir, best_entry, clear_run, write_state

FINISHED_MARKER = "summary.json"


# ---------------------------------------------------------------------------------------------
# runs


def check_output_dirs(configs: list[Config], overwrite: bool, resume: bool = False) -> None:
    """Refuse to touch a directory that holds a run unless --resume or --overwrite says what to do,
    and never touch one whose run is still going."""
    from kinject.reporting.run_dir import foreign_entries, run_status

    for cfg in configs:
        path = Path(cfg.output_dir)
        status, sentence = run_status(path)
        if status == "running":
            raise KinjectError(f"{path}: a run is {sentence}; stop it or wait for it first")
        foreign = foreign_entries(path, kept_in_run_dir(cfg))
        if foreign:
            raise KinjectError(f"{path}: holds {foreign[0]}, which no kinject run wrote; a run goes into a new or empty "
                               "directory or over a run of its own: choose another output_dir")
        if status == "empty" or overwrite or resume:
            continue
        if not (path / "config.yaml").exists():
            raise KinjectError(f"{path}: output directory already holds files; pass --overwrite to replace them")
        if status == "finished":
            raise KinjectError(f"{path}: holds a finished run; pass --overwrite to replace it")
        if status == "resumable":
            raise KinjectError(f"{path}: holds an {sentence} (or --overwrite to start over)")
        raise KinjectError(f"{path}: holds an {sentence}")


def kept_in_run_dir(cfg: Config) -> tuple[str, ...]:
    """A single-run config's generated data live in its run directory (OUTPUT_DIR/data): kept there."""
    generated = Path(cfg.data.generated_dir) if cfg.data.generated_dir else None
    if generated and generated.parent.resolve() == Path(cfg.output_dir).resolve():
        return (generated.name,)
    return ()


def before_key(cfg: Config) -> str:
    """Runs that share model, questions and decoding share the before-training evaluation."""
    m, e = cfg.model, cfg.eval
    return json.dumps([cfg.task, m.name, m.source, m.revision, m.bidirectional, m.mask_id, m.shifted_logits, cfg.data.test,
                       cfg.data.max_documents, cfg.data.pick, e.max_questions, e.max_new_tokens, e.bf16, e.sampler, e.steps,
                       e.block_length, e.remasking, e.temperature, e.seed], sort_keys=True)


def describe_sampler(sampler) -> str:
    if sampler is None:
        return "greedy"
    temperature = f", temperature {sampler.temperature}" if sampler.temperature else ""
    return f"diffusion ({sampler.steps} steps, block {sampler.block_length}, {sampler.remasking}{temperature})"


def run_one(cfg: Config, before_cache: dict | None = None, overwrite: bool = False, resume: bool = False) -> dict:
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from kinject.evaluation.diffusion import sampler_for
    from kinject.evaluation.qa import evaluate_qa
    from kinject.training.trainer import (STAGING, EpochEvalCallback, GracefulStop, KinjectTrainer, SharedTensorBoard,
                                          newest_checkpoint, sam_rho, training_arguments, use_bf16)

    before_cache = {} if before_cache is None else before_cache
    started = time.time()
    finished = Path(cfg.output_dir) / FINISHED_MARKER
    if resume and finished.exists():
        log(f"{cfg.output_dir}: finished earlier; kept as it is")
        return json.loads(finished.read_text())

    math = cfg.task == "math"

    # 1. the run directory (a single-run config keeps its generated data in it: prepared before the data)
    main = distributed.is_main()
    run = RunDir(cfg.output_dir, writer=main)
    checkpoint = newest_checkpoint(run.path / "trainer") if resume else None
    distributed.wait_for_everyone()  # every process has looked for the checkpoint before anything changes
    if main and (overwrite or resume) and run.path.exists() and not checkpoint:
        clear_run(run.path, kept_in_run_dir(cfg))  # nothing to resume from: start this run afresh
    distributed.wait_for_everyone()
    if checkpoint:
        step = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"]
        run.load_until(step)
        log(f"resuming from {checkpoint} (optimizer step {step})")
    run.write_config(cfg.to_dict())
    if main:  # what a killed run may have left half-written: a checkpoint, a save, atomic-write temporaries
        shutil.rmtree(run.path / "trainer" / STAGING, ignore_errors=True)
        shutil.rmtree(run.path / ".save.partial", ignore_errors=True)
        for temporary in run.path.glob(".*.*"):
            if temporary.is_file():
                temporary.unlink()
        write_state(run.path, "running", step=0)
    # 2. data (checked before any run started; generated data are written now)
    with distributed.main_process_first():  # the main process writes generated data, the others read them
        if math:
            train_items, test_items = prepare_math(cfg)
            texts: list[TrainingText] = []
        else:
            ks = prepare_data(cfg)
            texts = build_training_set(ks, cfg.data, cfg.augment, documents_path(cfg))

    # 3. model, tokenizer, adapter (family, mask token), objective, training sequences
    with distributed.main_process_first():  # a first load may convert and cache the weights
        model, tokenizer, model_path = load_model_and_tokenizer(cfg.model)
    adapter, objective = make_objective(cfg, model, tokenizer)
    mask = adapter.mask
    if mask:
        log(f"mask token: {mask.token!r} (id {mask.id}{', added' if mask.added else ''})")
    sampler = sampler_for(cfg.eval, adapter)
    if cfg.model.lora.enabled:
        from kinject.models.lora import apply_lora

        model = apply_lora(model, cfg.model.lora)
    features, sequences = training_features(cfg, objective, tokenizer, model.config,
                                            train_items if math else None, texts)

    bf16 = use_bf16(cfg.train)
    tb = SummaryWriter(log_dir=str(run.path / "tensorboard")) if main else None
    eval_seconds = 0.0

    def evaluate(epoch: int, step: int) -> dict:
        nonlocal eval_seconds
        t = time.time()
        if math:
            from kinject.math.evaluate import evaluate_math

            result, rows = evaluate_math(model, tokenizer, test_items, cfg.eval.batch_size, cfg.eval.max_new_tokens,
                                         cfg.eval.bf16)
        else:
            result, rows = evaluate_qa(model, tokenizer, ks.questions, cfg.eval.batch_size, cfg.eval.max_new_tokens,
                                       cfg.eval.bf16, sampler=sampler)
        eval_seconds += time.time() - t
        entry = run.add_evaluation(epoch, step, result, rows, time.time() - t)
        if math:
            for metric in ("strict", "flexible"):
                if tb:
                    tb.add_scalar(f"math/{metric}_accuracy", result["math"][metric], step)
            log(f"epoch {epoch}: accuracy strict {result['math']['strict']:.2f}, flexible "
                f"{result['math']['flexible']:.2f} ({time.time() - t:.0f} s)")
            return entry
        for direction in ("forward", "backward"):
            if direction in result:
                for metric in ("rouge1_recall", "contains"):
                    if tb:
                        tb.add_scalar(f"qa/{direction}_{metric}", result[direction][metric], step)
        log(f"epoch {epoch}: " + ", ".join(
            f"{d} {result[d]['rouge1_recall']:.2f}" for d in ("forward", "backward") if d in result)
            + f" (ROUGE-1 recall, {time.time() - t:.0f} s)")
        return entry

    # 4. before training (shared across runs with the same model and questions); called by the Trainer
    #    once it has placed (and, under FSDP / DeepSpeed, sharded) the model
    before = next((e for e in run.evaluations if e["epoch"] == 0), None)  # kept from before a resume

    def evaluate_before() -> None:
        nonlocal before
        if not cfg.eval.before or before is not None:
            return
        key = before_key(cfg)
        if key in before_cache:
            cached = before_cache[key]
            run.add_evaluation(0, 0, cached["result"], cached["rows"], 0.0)
            before = run.evaluations[-1]
            log("epoch 0: reusing the before-training evaluation of an earlier run with the same model and questions")
        else:
            before = evaluate(0, 0)
            before_cache[key] = {"result": {k: before[k] for k in before if k not in ("epoch", "step", "seconds")},
                                 "rows": [r for r in run.generations if r["epoch"] == 0]}

    # 5. train, evaluating every eval.every epochs
    torch.manual_seed(cfg.train.seed)
    from kinject.data.corpus import count_rows

    args = training_arguments(cfg.train, str(run.path / "trainer"), count_rows(features), distributed.num_processes())
    sam = {"rho": sam_rho(cfg.train), "adaptive": cfg.train.sam_adaptive} if cfg.train.optimizer == "sam" else None
    graceful = GracefulStop()
    callbacks = [EpochEvalCallback(cfg.eval.every, cfg.train.epochs, evaluate, evaluate_before), SharedTensorBoard(tb),
                 graceful]
    if cfg.train.wandb:
        from transformers.integrations import WandbCallback

        callbacks.append(WandbCallback())
    trainer = KinjectTrainer(model=model, args=args, train_dataset=features, objective=objective, sam=sam,
                             callbacks=callbacks, processing_class=tokenizer)
    if checkpoint:
        trainer.load_counters(checkpoint)
    t_train = time.time()
    with graceful.installed(), out_of_memory_advice(cfg, trainer):
        trainer.train(resume_from_checkpoint=checkpoint)
    if graceful.stopped_at is not None:
        raise RunInterrupted(f"{run.path}: stopped after optimizer step {graceful.stopped_at} and saved a checkpoint; "
                             "continue with `kinject run CONFIG --resume`")
    train_seconds = time.time() - t_train - eval_seconds
    with out_of_memory_advice(cfg, trainer):
        final = evaluate(cfg.train.epochs, trainer.state.global_step)
    if tb:
        tb.close()
    counters = trainer.counters_all_processes()

    # 6. report
    compute = compute_accounting(model, counters, texts, cfg)  # before a LoRA merge changes the model
    run.write_train_log(trainer.state.log_history)
    staging = run.path / ".save.partial"  # model/ and adapter/ appear whole or not at all
    if main:
        shutil.rmtree(staging, ignore_errors=True)
    distributed.wait_for_everyone()
    if cfg.save_model and cfg.model.lora.enabled:
        from kinject.models.lora import save_lora_run

        if main:
            save_lora_run(model, tokenizer, staging, merge=cfg.model.lora.merge_on_save)
    elif cfg.save_model:
        trainer.save_model(str(staging / "model"))  # gathers FSDP / ZeRO-3 shards; model + tokenizer, main process
    distributed.wait_for_everyone()
    if main and staging.exists():
        for part in sorted(staging.iterdir()):
            publish_dir(part, run.path / part.name)
        staging.rmdir()
    best = best_entry(run.evaluations)
    summary = {
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
        "model_adapter": adapter.describe(),
        "sampler": describe_sampler(sampler),
        "task": cfg.task,
        "data": ({"train_problems": len(train_items), "test_problems": len(test_items), **sequences}
                 if math else {**ks.describe(), **sequences, "training_set": describe_training_set(texts)}
                 if not cfg.data.corpus else {"questions": len(ks.questions), **sequences}),
        "compute": compute,
        "timing": {
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
        },
    }
    if main:
        write_state(run.path, "finished", step=trainer.state.global_step)
    run.write_summary(summary)  # summary.json last: the run is finished
    if main:
        shutil.rmtree(run.path / "trainer", ignore_errors=True)
    log(f"wrote {run.path}/summary.md")
    return summary


def mark_stopped(output_dir: str, error: BaseException) -> None:
    """A run this process was running stopped: record why in run_state.json."""
    from kinject.reporting.run_dir import read_state

    path = Path(output_dir)
    state = read_state(path)
    if not distributed.is_main() or state.get("state") != "running" or state.get("pid") != os.getpid():
        return
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = text.removeprefix(f"{output_dir}: ").split(" (")[0][:160]  # the gist; the full line was printed
    if isinstance(error, KeyboardInterrupt):
        reason = "interrupted (Ctrl-C)"
    elif isinstance(error, KinjectError):
        reason = f"failed: {text}"
    else:
        reason = f"failed: {type(error).__name__}" + (f": {text}" if text else "")
    write_state(path, "interrupted" if isinstance(error, KeyboardInterrupt) else "failed", message=reason)


@contextlib.contextmanager
def out_of_memory_advice(cfg: Config, trainer):
    """Out of memory: one line with what to change, and where the newest checkpoint is."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError:
        from kinject.training.trainer import checkpoint_step, newest_checkpoint

        t, e = cfg.train, cfg.eval
        newest = newest_checkpoint(Path(cfg.output_dir) / "trainer")
        saved = (f"; the newest checkpoint is optimizer step {checkpoint_step(newest)} (kinject run CONFIG --resume)"
                 if newest else "; no checkpoint was saved (train.checkpoint_steps)")
        raise RunFailed(f"{cfg.output_dir}: out of memory at optimizer step {trainer.state.global_step} "
                        f"(train.batch_size={t.batch_size}, train.max_length={t.max_length}, "
                        f"eval.batch_size={e.batch_size}): lower train.batch_size (raise train.grad_accum to keep the "
                        "global batch) or eval.batch_size, shorten train.max_length, or set model.lora.enabled=true or "
                        f"launch with configs/accelerate/fsdp.yaml{saved}") from None


def compute_accounting(model, counters: dict, texts: list[TrainingText], cfg: Config) -> dict:
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
    meta = generation_cost(documents_path(cfg)) if cfg.paraphrase.output else None
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


def describe_augmentation(cfg: Config) -> str:
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


def describe_optimizer(cfg: Config) -> str:
    from kinject.training.trainer import sam_rho

    t = cfg.train
    if t.optimizer == "sam":
        return f"{'ASAM' if t.sam_adaptive else 'SAM'} (rho {sam_rho(t)}) + AdamW"
    return "AdamW"


def describe_objective(cfg: Config) -> str:
    o = cfg.objective
    if o.name == "standard":
        return f"standard ({o.format})"
    t = f"t={o.fixed_t}" if o.fixed_t is not None else f"t~U({o.t_low},{o.t_high})"
    if o.name == "mdm":
        per = " per sequence" if o.t_per == "sequence" and o.fixed_t is None else ""
        return f"mdm ({o.format}, {t}{per}, {o.normalize} norm.)"
    if o.name == "sft":
        return "sft"
    loss_on = o.loss_on if o.loss_on != "auto" else ("masked" if o.name == "masked_sft" else "all")
    extra = "" if loss_on == "all" else ", loss on masked only"
    control = ", random-token control" if o.corruption == "random_tokens" else ""
    return f"{o.name} ({t}{extra}{control})"


def run_all(configs: list[Config], overwrite: bool = False, all_configs: list[Config] | None = None,
            resume: bool = False) -> list[dict]:
    """Run `configs` in turn. With several runs, comparison.md covers every run of `all_configs`
    (default: `configs`) that has finished: the ones run now and earlier ones found on disk."""
    from kinject.reporting.tables import comparison_table

    check_output_dirs(configs, overwrite, resume)
    sharded = distributed.sharded_weights()
    for cfg in configs if sharded else []:
        if cfg.train.optimizer == "sam":
            raise KinjectError(f"config: key 'train.optimizer': SAM is not supported under {sharded} (its perturbation "
                               "needs each process's full gradient); launch with configs/accelerate/ddp.yaml")
        if cfg.model.lora.enabled:
            raise KinjectError(f"config: key 'model.lora.enabled': LoRA is not supported under {sharded}; adapters "
                               "train well with data parallelism (configs/accelerate/ddp.yaml)")
    distributed.wait_for_everyone()  # every process has checked before the main one writes
    if any(cfg.train.wandb for cfg in configs):
        import importlib.util

        if importlib.util.find_spec("wandb") is None:
            raise KinjectError("config: key 'train.wandb': Weights & Biases is not installed (pip install wandb)")
    generated = set()
    for cfg in configs:  # paraphrases written by a local model (once; resumable and cached)
        key = (cfg.data.train, cfg.paraphrase.output)
        if cfg.paraphrase.output and key not in generated:
            from kinject.augment.paraphrase import generate_paraphrases

            with distributed.main_process_first(), data_files(cfg) as (train, _):
                generate_paraphrases(train, cfg.paraphrase.output, cfg.paraphrase, cfg.model)
            generated.add(key)
    built = set()
    for cfg in configs:  # a CPU-scale world the runs train on (built once, cached by its settings)
        if cfg.world.dir and cfg.world.dir not in built:
            from kinject.world.build import build_world

            with distributed.main_process_first():
                build_world(cfg.world)
            built.add(cfg.world.dir)
    for cfg in configs:  # check every run (data, tokenizer, mask token, lengths) before the first one trains
        with distributed.main_process_first(), naming_source(getattr(cfg, "source", "config")):  # may write data
            check_run(cfg)
    before_cache: dict = {}
    summaries = []
    for i, cfg in enumerate(configs):
        if len(configs) > 1:
            log(f"run {i + 1}/{len(configs)}: {cfg.run_name} ({describe_objective(cfg)})")
        try:
            summaries.append(run_one(cfg, before_cache, overwrite, resume))
        except BaseException as e:
            mark_stopped(cfg.output_dir, e)
            raise
    everything = all_configs or configs
    if not distributed.is_main():
        return summaries
    if len(everything) > 1:
        fresh = {cfg.output_dir: summary for cfg, summary in zip(configs, summaries)}
        finished, finished_dirs = [], []
        for cfg in everything:
            path = Path(cfg.output_dir) / FINISHED_MARKER
            if cfg.output_dir in fresh:
                finished.append(fresh[cfg.output_dir])
            elif path.exists():
                finished.append(json.loads(path.read_text()))
            else:
                continue
            finished_dirs.append(cfg.output_dir)
        root = Path(configs[0].output_dir).parent
        table = comparison_table(finished)
        write_atomic(root / "comparison.md", table)
        write_json(root / "comparison.json", finished)
        curve_dirs = [d for d in finished_dirs if (Path(d) / "metrics.jsonl").is_file()]
        if curve_dirs and all(cfg.task == "knowledge" for cfg in everything):
            from kinject.reporting.curves import write_curves

            write_curves(curve_dirs, root / "curves.png", title=root.name)
        print(table)
    else:
        print((Path(configs[0].output_dir) / "summary.md").read_text())
    return summaries
