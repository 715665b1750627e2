"""The `kinject` command.

    kinject run CONFIG.yaml [section.key=value ...] [--only NAME ...] [--grid KEY=V1,V2 ...] [--overwrite | --resume]
    kinject curves RUN_DIR ... [--out PNG] [--metric M] [--x epoch|step] (forward/backward curves of several runs, one figure)
    kinject eval --model NAME_OR_DIR --test FILE [--out DIR] [...]
    kinject data validate FILE [FILE ...] [--paraphrases FILE] [--permuted-paraphrases FILE]
    kinject data generate --out DIR [--people N] [--seed S]
    kinject data math --out DIR [--train N] [--test N] [--seed S]   (GSM8K-style problems)
    kinject model prepare               (fetch + convert the offline default model, once)
    kinject paraphrase DOCS OUT [paraphrase.key=value ...]   (paraphrases by a local model)
    kinject world CONFIG.yaml [section.key=value ...]   (build the config's CPU-scale world only)
    kinject status RUN_DIR|CONFIG ...   (finished, running, resumable or incomplete, and why)
    kinject config                      (every key with its default and help)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kinject.errors import KinjectError


def cmd_run(args) -> int:
    from kinject.config import load_runs
    from kinject.pipeline import run_all

    grid = args.grid or []
    if args.only:  # `--only a b key=value`: nargs="+" also took the overrides that follow
        names = {c.run_name for c in load_runs(args.config, [], grid)}  # grid runs are named `run,key=value`
        args.overrides = list(args.overrides) + [o for o in args.only if "=" in o and o not in names]
        args.only = [o for o in args.only if "=" not in o or o in names]
    configs = all_configs = load_runs(args.config, args.overrides, grid)
    if args.only:
        names = {c.run_name for c in configs}
        unknown = [n for n in args.only if n not in names]
        if unknown:
            raise KinjectError(f"{args.config}: --only: no run named {unknown[0]!r} (runs: {', '.join(sorted(names))})")
        configs = [c for c in configs if c.run_name in args.only]
    if args.resume and args.overwrite:
        raise KinjectError("command line: --resume and --overwrite exclude each other")
    run_all(configs, overwrite=args.overwrite, all_configs=all_configs, resume=args.resume)
    return 0


def cmd_status(args) -> int:
    """One line per run directory: finished, running, resumable (from which step) or incomplete."""
    from kinject.config import load_runs
    from kinject.reporting.run_dir import run_status

    dirs = []
    for target in args.targets:
        if Path(target).is_file():  # a config: every run directory it names
            dirs += [c.output_dir for c in load_runs(target, [])]
        else:
            dirs.append(target)
    worst = 0
    for d in dirs:
        status, sentence = run_status(d)
        print(f"{d}: {sentence}")
        worst = max(worst, {"finished": 0, "running": 0, "resumable": 3, "empty": 4, "incomplete": 4}[status])
    return worst


def cmd_curves(args) -> int:
    from kinject.reporting.curves import write_curves

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(write_curves(args.runs, out, args.metric, args.title, args.x).rstrip())
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    from kinject.config import EvalConfig, ModelConfig
    from kinject.data.loaders import load_questions
    from kinject.distributed import device
    from kinject.evaluation.diffusion import sampler_for
    from kinject.models.adapter import resolve_adapter
    from kinject.evaluation.qa import evaluate_qa
    from kinject.models.loading import load_model_and_tokenizer
    from kinject.io import write_json, write_jsonl
    from kinject.reporting.tables import run_table

    out = Path(args.out) if args.out else None
    existing = [p for p in (out / "summary.json", out / "generations.jsonl") if p.exists()] if out else []
    if existing and not args.overwrite:
        raise KinjectError(f"{existing[0]}: exists; pass --overwrite to replace it (or choose another --out)")
    questions = load_questions(args.test)[: args.max_questions]
    model_cfg = ModelConfig(name=args.model, trust_remote_code=args.trust_remote_code,
                            bidirectional=args.bidirectional, mask_id=args.mask_id)
    model, tokenizer, path = load_model_and_tokenizer(model_cfg)
    model.to(device())
    adapter = resolve_adapter(model, tokenizer, model_cfg, needs_mask=False)
    eval_cfg = EvalConfig(steps=args.steps or args.max_new_tokens, block_length=args.block_length,
                          remasking=args.remasking, max_new_tokens=args.max_new_tokens)
    sampler = sampler_for(eval_cfg, adapter)
    bf16 = args.bf16 == "true"
    result, rows = evaluate_qa(model, tokenizer, questions, args.batch_size, args.max_new_tokens, bf16,
                               sampler=sampler)
    entry = {"epoch": 0, "step": 0, **result}
    summary = {"run": "eval", "model": args.model, "model_path": path, "objective": "none (evaluation only)",
               "before": None, "final": entry, "best": None}
    if out:
        write_json(out / "summary.json", summary)
        write_jsonl(out / "generations.jsonl", rows)
    print(run_table(summary))
    return 0


def cmd_data_validate(args) -> int:
    from kinject.data.loaders import load_documents, load_questions, sniff

    for path in args.files:
        kind = sniff(path)
        if kind == "math":
            from kinject.math.data import load_math

            print(f"{path}: {len(load_math(path))} math problems")
        elif kind == "documents":
            docs = load_documents(path, args.paraphrases, args.permuted_paraphrases)
            n_para = sum(len(d.paraphrases) for d in docs)
            n_perm = sum(len(d.permuted) for d in docs)
            print(f"{path}: {len(docs)} documents, {n_para} paraphrases"
                  + (f", {n_perm} permuted-order paraphrases" if n_perm else ""))
        else:
            from kinject.data.schema import KnowledgeSet

            info = KnowledgeSet(questions=load_questions(path)).describe()
            print(f"{path}: {info['questions']} questions; by direction {json.dumps(info['by_direction'])}; "
                  f"by group {json.dumps(info['by_group'])}")
    return 0


def cmd_data_math(args) -> int:
    from kinject.math.generate import write_math_split

    train, test = write_math_split(args.out, args.train, args.test, args.seed, overwrite=args.overwrite)
    print(f"wrote {train} and {test}")
    return 0


def cmd_data_generate(args) -> int:
    from kinject.data.generate import write_name_description

    docs, qa = write_name_description(args.out, args.people, args.seed, overwrite=args.overwrite)
    print(f"wrote {docs} and {qa}")
    return 0


def cmd_model_prepare(args) -> int:
    from kinject.models.loading import embedded_model_dir

    print(embedded_model_dir())
    return 0


def cmd_world(args) -> int:
    from kinject.config import load_runs
    from kinject.world.build import build_world

    configs = load_runs(args.config, args.overrides)
    worlds = {c.world.dir: c.world for c in configs if c.world.dir}
    if not worlds:
        raise KinjectError(f"{args.config}: no world.dir set, so there is no world to build")
    for world in worlds.values():
        print(build_world(world))
    return 0


def cmd_paraphrase(args) -> int:
    from kinject.augment.paraphrase import generate_paraphrases
    from kinject.config import Config, apply_overrides, parse_cli_overrides, validate_paraphrase

    overrides = parse_cli_overrides(args.overrides)
    bad = [k for k in overrides if not k.startswith(("paraphrase.", "model."))]
    if bad:
        raise KinjectError(f"command line: '{bad[0]}': kinject paraphrase takes paraphrase.* and model.* keys only")
    cfg = apply_overrides(Config(), overrides, "command line")
    validate_paraphrase(cfg.paraphrase)
    meta = generate_paraphrases(args.documents, args.out, cfg.paraphrase, cfg.model)
    print(f"{args.out}: {meta['documents']} documents, paraphrases {json.dumps(meta['paraphrases'])}, "
          f"{meta['generated_tokens']} generated + {meta['prompt_tokens']} prompt tokens, "
          f"~{meta['estimated_flops']:.3g} FLOPs (details: {args.out}.meta.json)")
    return 0


def cmd_config(args) -> int:
    from kinject.config import describe_schema

    print(describe_schema())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kinject", description="Inject new knowledge into LLMs by fine-tuning and measure forward/backward QA.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train and evaluate the run(s) of a YAML config")
    run.add_argument("config", help="YAML config file")
    run.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. train.epochs=3")
    run.add_argument("--only", nargs="+", metavar="NAME", help="run only these named runs")
    run.add_argument("--grid", action="append", metavar="KEY=V1,V2", help="sweep: run every run once per value "
                     "(repeat for a product grid), e.g. --grid train.lr=1e-4,3e-4 --grid objective.fixed_t=0.3,0.7")
    run.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    run.add_argument("--resume", action="store_true", help="continue unfinished runs from their newest checkpoint "
                     "(train.checkpoint_steps); finished runs are kept")
    run.set_defaults(func=cmd_run)

    ev = sub.add_parser("eval", help="evaluate a model directory or hub id on a test file")
    ev.add_argument("--model", required=True, help="hub id or local model directory")
    ev.add_argument("--test", required=True, help="questions (native or published JSONL)")
    ev.add_argument("--out", help="write summary.json and generations.jsonl here")
    ev.add_argument("--overwrite", action="store_true", help="replace summary.json / generations.jsonl in --out")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--max-new-tokens", type=int, default=128)
    ev.add_argument("--max-questions", type=int, default=None)
    ev.add_argument("--bf16", choices=("true", "false"), default="false", help="bf16 autocast (faster, batch-dependent)")
    ev.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")
    ev.add_argument("--bidirectional", action="store_true", help="build the decoder bidirectional (dLLM)")
    ev.add_argument("--mask-id", type=int, default=None, help="dLLM mask token id (default: from the model)")
    ev.add_argument("--steps", type=int, default=None, help="dLLM sampler steps (default: --max-new-tokens)")
    ev.add_argument("--block-length", type=int, default=4, help="dLLM sampler block length")
    ev.add_argument("--remasking", choices=("low_confidence", "random"), default="low_confidence")
    ev.set_defaults(func=cmd_eval)

    data = sub.add_parser("data", help="validate or generate data files").add_subparsers(dest="data_command", required=True)
    val = data.add_parser("validate", help="check data files and print what they hold")
    val.add_argument("files", nargs="+")
    val.add_argument("--paraphrases", help="published same-order paraphrase JSON for the documents file")
    val.add_argument("--permuted-paraphrases", help="published permuted-order paraphrase JSON for the documents file")
    val.set_defaults(func=cmd_data_validate)
    gen = data.add_parser("generate", help="write a synthetic NameDescription-style set (native format)")
    gen.add_argument("--out", required=True, help="directory for documents.jsonl and questions.jsonl")
    gen.add_argument("--people", type=int, default=20)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--overwrite", action="store_true", help="replace existing files in --out")
    gen.set_defaults(func=cmd_data_generate)

    gm = data.add_parser("math", help="write GSM8K-style train.jsonl / test.jsonl (verified answers, no shared problem)")
    gm.add_argument("--out", required=True, help="directory for train.jsonl and test.jsonl")
    gm.add_argument("--train", type=int, default=200)
    gm.add_argument("--test", type=int, default=50)
    gm.add_argument("--seed", type=int, default=0)
    gm.add_argument("--overwrite", action="store_true", help="replace existing files in --out")
    gm.set_defaults(func=cmd_data_math)

    model = sub.add_parser("model", help="manage the embedded default model").add_subparsers(dest="model_command", required=True)
    prep = model.add_parser("prepare", help="fetch and convert the offline SmolLM2-135M-Instruct once; print its directory")
    prep.set_defaults(func=cmd_model_prepare)

    para = sub.add_parser("paraphrase", help="write same-/permuted-order paraphrases of documents with a local "
                          "instruct model (batched, resumable, cached)")
    para.add_argument("documents", help="documents file (native JSONL or published JSON)")
    para.add_argument("out", help="output documents file (JSONL with paraphrase fields)")
    para.add_argument("overrides", nargs="*", help="paraphrase.key=value / model.key=value, e.g. "
                      "paraphrase.model=Qwen/Qwen2.5-7B-Instruct paraphrase.count=9")
    para.set_defaults(func=cmd_paraphrase)

    world = sub.add_parser("world", help="build the CPU-scale world (twin models + injection set) of a config")
    world.add_argument("config", help="YAML config file with a world section")
    world.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. world.epochs=10")
    world.set_defaults(func=cmd_world)

    st = sub.add_parser("status", help="say whether run directories are finished, running, resumable or incomplete "
                        "(exit 0: all finished or running, 3: some resumable, 4: some incomplete or empty)")
    st.add_argument("targets", nargs="+", help="run directories, or config files (their runs' directories)")
    st.set_defaults(func=cmd_status)

    cu = sub.add_parser("curves", help="forward/backward accuracy of several runs against epoch: one figure, and "
                        "a markdown table (one column per run) on stdout")
    cu.add_argument("runs", nargs="+", help="run directories, or directories of runs (e.g. a sweep's output_dir)")
    cu.add_argument("--out", default="curves.png", help="PNG to write (default: curves.png)")
    cu.add_argument("--metric", default="rouge1_recall", help="rouge1_recall (published), contains, rouge1_f1 "
                    "or first_word")
    cu.add_argument("--title", default="", help="figure title")
    cu.add_argument("--x", choices=("epoch", "step"), default="epoch", help="x axis and table rows: epochs, or "
                    "optimizer steps (for runs whose epochs differ in size, e.g. with paraphrases)")
    cu.set_defaults(func=cmd_curves)

    cfg = sub.add_parser("config", help="list every config key with its default and help")
    cfg.set_defaults(func=cmd_config)
    return parser


def close_progress_bars() -> None:
    """Close progress bars a failed run left open, so the error is the last line on the screen."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may also follow options (`run cfg.yaml --only a train.lr=1e-4`)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = list(args.overrides) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except KinjectError as e:
        close_progress_bars()
        print(f"kinject: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        close_progress_bars()
        if str(e):  # RunInterrupted: says where the checkpoint is
            print(f"kinject: interrupted: {e}", file=sys.stderr)
            return 130
        hint = "; continue with `kinject run ... --resume`" if getattr(args, "command", "") == "run" else ""
        print(f"kinject: interrupted (runs with train.checkpoint_steps keep their newest checkpoint{hint})"
              if hint else "kinject: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
