"""`kinject run`: every selected run of a config, after checking all of them first, then the
comparison of every finished run of the config."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kinject import console, distributed
from kinject.config import Config, check_objective_keys, naming_source
from kinject.errors import KinjectError
from kinject.io import write_atomic, write_json
from kinject.recipe import FINISHED_MARKER, Run


def run_all(configs: list[Config], overwrite: bool = False, all_configs: list[Config] | None = None,
            resume: bool = False) -> list[dict]:
    """Run `configs` in turn. With several runs, comparison.md covers every run of `all_configs`
    (default: `configs`) that has finished: the ones run now and earlier ones found on disk."""
    check_objective_keys(configs, all_configs)
    check_output_dirs(configs, overwrite, resume)
    check_launch(configs)
    build_inputs(configs)
    for cfg in configs:  # every run (data, tokenizer, mask token, lengths) before the first one trains
        from kinject.preparation import check_run

        with distributed.main_process_first(), naming_source(getattr(cfg, "source", "config")):
            check_run(cfg)
    before_cache: dict = {}
    summaries = []
    for i, cfg in enumerate(configs):
        if len(configs) > 1:
            from kinject.reporting.summary import describe_objective

            console.log(f"run {i + 1}/{len(configs)}: {cfg.run_name} ({describe_objective(cfg)})")
        try:
            summaries.append(Run(cfg, before_cache, overwrite, resume).run())
        except BaseException as e:
            mark_stopped(cfg.output_dir, e)
            raise
    if distributed.is_main():
        report(configs, all_configs or configs, summaries)
    return summaries


def check_output_dirs(configs: list[Config], overwrite: bool, resume: bool = False) -> None:
    """Refuse to touch a directory that holds a run unless --resume or --overwrite says what to do,
    never touch one whose run is still going, and never one that holds files no run wrote."""
    from kinject.reporting.run_dir import foreign_entries, kept_in_run_dir, run_status

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


def check_launch(configs: list[Config]) -> None:
    """What the launch (FSDP / DeepSpeed) and the installed packages allow."""
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


def build_inputs(configs: list[Config]) -> None:
    """What runs need before they can be checked: paraphrases written by a local model and a
    CPU-scale world (each once; resumable and cached by their settings)."""
    from kinject.preparation import data_files

    generated, built = set(), set()
    for cfg in configs:
        key = (cfg.data.train, cfg.paraphrase.output)
        if cfg.paraphrase.output and key not in generated:
            from kinject.augment.paraphrase import generate_paraphrases

            with distributed.main_process_first(), data_files(cfg) as (train, _):
                generate_paraphrases(train, cfg.paraphrase.output, cfg.paraphrase, cfg.model)
            generated.add(key)
        if cfg.world.dir and cfg.world.dir not in built:
            from kinject.world.build import build_world

            with distributed.main_process_first():
                build_world(cfg.world)
            built.add(cfg.world.dir)


def report(configs: list[Config], everything: list[Config], summaries: list[dict]) -> None:
    """comparison.md / .json and curves.png of every finished run (several runs), and the final
    table on the console."""
    from kinject.registry import TASKS

    fresh = {cfg.output_dir: summary for cfg, summary in zip(configs, summaries)}
    finished, finished_dirs = [], []
    for cfg in everything:
        path = Path(cfg.output_dir) / FINISHED_MARKER
        if cfg.output_dir in fresh or path.exists():
            finished.append(fresh.get(cfg.output_dir) or json.loads(path.read_text()))
            finished_dirs.append(cfg.output_dir)
    tasks = list(dict.fromkeys(s.get("task", "knowledge") for s in finished))
    by_task = {t: [s for s in finished if s.get("task", "knowledge") == t] for t in tasks}
    if len(everything) > 1:
        root = Path(configs[0].output_dir).parent
        write_atomic(root / "comparison.md", "\n".join(TASKS[t].comparison_table(by_task[t]) for t in tasks))
        write_json(root / "comparison.json", finished)
        curve_dirs = [d for d in finished_dirs if (Path(d) / "metrics.jsonl").is_file()]
        if curve_dirs and all(TASKS[cfg.task].draws_curves for cfg in everything):
            from kinject.reporting.curves import write_curves

            write_curves(curve_dirs, root / "curves.png", title=root.name)
        console.log(f"wrote {root}/comparison.md")
    for t in tasks:
        console.print_table(*TASKS[t].console_table(by_task[t]))


def mark_stopped(output_dir: str, error: BaseException) -> None:
    """A run this process was running stopped: record why in run_state.json."""
    from kinject.reporting.run_dir import read_state, write_state

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
