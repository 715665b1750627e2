"""Commands about data: validate files, generate synthetic sets, write paraphrases."""

from __future__ import annotations

import json

from kinject.cli.base import Command
from kinject.errors import KinjectError


class ValidateCommand(Command):
    name = "validate"
    help = "check data files and print what they hold"

    def add_arguments(self, p):
        p.add_argument("files", nargs="+")
        p.add_argument("--paraphrases", help="published same-order paraphrase JSON for the documents file")
        p.add_argument("--permuted-paraphrases", help="published permuted-order paraphrase JSON for the documents file")

    def run(self, args) -> int:
        from kinject.data.loaders import load_documents, load_questions, sniff

        for path in args.files:
            kind = sniff(path)
            if kind == "math":
                from kinject.math.data import load_math

                print(f"{path}: {len(load_math(path))} math problems")
            elif kind == "documents":
                docs = load_documents(path, args.paraphrases, args.permuted_paraphrases)
                n_para, n_perm = sum(len(d.paraphrases) for d in docs), sum(len(d.permuted) for d in docs)
                print(f"{path}: {len(docs)} documents, {n_para} paraphrases"
                      + (f", {n_perm} permuted-order paraphrases" if n_perm else ""))
            else:
                from kinject.data.schema import KnowledgeSet

                info = KnowledgeSet(questions=load_questions(path)).describe()
                print(f"{path}: {info['questions']} questions; by direction {json.dumps(info['by_direction'])}; "
                      f"by group {json.dumps(info['by_group'])}")
        return 0


class GenerateCommand(Command):
    name = "generate"
    help = "write a synthetic NameDescription-style set (native format)"

    def add_arguments(self, p):
        p.add_argument("--out", required=True, help="directory for documents.jsonl and questions.jsonl")
        p.add_argument("--people", type=int, default=20)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--overwrite", action="store_true", help="replace existing files in --out")

    def run(self, args) -> int:
        from kinject.data.generate import write_name_description

        docs, qa = write_name_description(args.out, args.people, args.seed, overwrite=args.overwrite)
        print(f"wrote {docs} and {qa}")
        return 0


class MathCommand(Command):
    name = "math"
    help = "write GSM8K-style train.jsonl / test.jsonl (verified answers, no shared problem)"

    def add_arguments(self, p):
        p.add_argument("--out", required=True, help="directory for train.jsonl and test.jsonl")
        p.add_argument("--train", type=int, default=200)
        p.add_argument("--test", type=int, default=50)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--overwrite", action="store_true", help="replace existing files in --out")

    def run(self, args) -> int:
        from kinject.math.generate import write_math_split

        train, test = write_math_split(args.out, args.train, args.test, args.seed, overwrite=args.overwrite)
        print(f"wrote {train} and {test}")
        return 0


class DataCommand(Command):
    name = "data"
    help = "validate or generate data files"
    commands = (ValidateCommand(), GenerateCommand(), MathCommand())


class ParaphraseCommand(Command):
    name = "paraphrase"
    help = "write same-/permuted-order paraphrases of documents with a local instruct model (resumable, cached)"

    def add_arguments(self, p):
        p.add_argument("documents", help="documents file (native JSONL or published JSON)")
        p.add_argument("out", help="output documents file (JSONL with paraphrase fields)")
        p.add_argument("overrides", nargs="*", help="paraphrase.key=value / model.key=value, e.g. "
                       "paraphrase.model=Qwen/Qwen2.5-7B-Instruct paraphrase.count=9")

    def run(self, args) -> int:
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
