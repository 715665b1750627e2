"""Commands about models: prepare the offline default, evaluate any model, list the config keys."""

from __future__ import annotations

from pathlib import Path

from kinject.cli.base import Command, add_config_flags, config_flags
from kinject.errors import KinjectError

MODEL_FLAGS = {"name": "model", "revision": "revision", "trust_remote_code": "trust-remote-code",
               "bidirectional": "bidirectional", "mask_id": "mask-id", "shifted_logits": "shifted-logits"}
EVAL_FLAGS = {"batch_size": "batch-size", "max_new_tokens": "max-new-tokens", "max_questions": "max-questions",
              "bf16": "bf16", "sampler": "sampler", "steps": "steps", "block_length": "block-length",
              "remasking": "remasking", "temperature": "temperature", "seed": "seed"}


class PrepareCommand(Command):
    name = "prepare"
    help = "fetch and convert the offline SmolLM2-135M-Instruct once; print its directory"

    def run(self, args) -> int:
        from kinject.models.loading import embedded_model_dir

        print(embedded_model_dir())
        return 0


class ModelCommand(Command):
    name = "model"
    help = "manage the embedded default model"
    commands = (PrepareCommand(),)


class EvalCommand(Command):
    name = "eval"
    help = "evaluate a model directory or hub id on a questions file (flags: the model.* and eval.* config keys)"

    def add_arguments(self, p):
        from kinject.config import EvalConfig, ModelConfig

        p.add_argument("--test", required=True, help="questions (native or published JSONL)")
        p.add_argument("--out", help="write summary.json and generations.jsonl here")
        p.add_argument("--overwrite", action="store_true", help="replace summary.json / generations.jsonl in --out")
        add_config_flags(p, "model", ModelConfig, MODEL_FLAGS)
        add_config_flags(p, "eval", EvalConfig, EVAL_FLAGS)

    def run(self, args) -> int:
        from kinject.config import Config, apply_overrides, naming_source
        from kinject.config.validation import validate_eval
        from kinject.data.loaders import load_questions
        from kinject.data.schema import KnowledgeSet
        from kinject.distributed import device
        from kinject.evaluation.diffusion import sampler_for
        from kinject.io import write_json, write_jsonl
        from kinject.models.adapter import resolve_adapter
        from kinject.models.loading import load_model_and_tokenizer
        from kinject.preparation import check_sampler
        from kinject.registry import TASKS
        from kinject.tasks.knowledge import KnowledgeData
        from kinject import console

        out = Path(args.out) if args.out else None
        existing = [p for p in (out / "summary.json", out / "generations.jsonl") if p.exists()] if out else []
        if existing and not args.overwrite:
            raise KinjectError(f"{existing[0]}: exists; pass --overwrite to replace it (or choose another --out)")
        cfg = apply_overrides(Config(), {**config_flags(args, "model"), **config_flags(args, "eval")}, "command line")
        with naming_source("command line"):
            validate_eval(cfg)
        questions = load_questions(args.test)[: cfg.eval.max_questions]
        model, tokenizer, path = load_model_and_tokenizer(cfg.model)
        model.to(device())
        adapter = resolve_adapter(model, tokenizer, cfg.model, needs_mask=False)
        with naming_source("command line"):
            check_sampler(cfg, adapter)
        task = TASKS["knowledge"]
        result, rows = task.evaluate(model, tokenizer, KnowledgeData(KnowledgeSet(questions=questions)), cfg.eval,
                                     sampler_for(cfg.eval, adapter), progress=console.speaks())
        summary = {"run": "eval", "model": cfg.model.name, "model_path": path, "objective": "none (evaluation only)",
                   "before": None, "final": {"epoch": 0, "step": 0, **result}, "best": None}
        if out:
            write_json(out / "summary.json", summary)
            write_jsonl(out / "generations.jsonl", rows)
        print(task.run_table(summary))
        return 0


class ConfigCommand(Command):
    name = "config"
    help = "list every config key with its default and help, and the objectives with the keys they read"

    def add_arguments(self, p):
        p.add_argument("--markdown", action="store_true", help="the same as docs/config.md (markdown)")

    def run(self, args) -> int:
        from kinject.config.reference import describe_schema, markdown_reference

        print(markdown_reference() if args.markdown else describe_schema(), end="\n" if not args.markdown else "")
        return 0
