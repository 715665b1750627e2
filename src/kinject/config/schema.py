"""The config schema: one dataclass per section, every key with a default and one line of help.
`kinject config` prints it and docs/config.md is generated from it; longer explanations live in
docs/. Objective names are checked against the objective registry, not listed here."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _f(default, help: str, choices: tuple | None = None):
    metadata = {"help": help, **({"choices": choices} if choices else {})}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class LoraConfig:
    enabled: bool = _f(False, "Train LoRA adapters (peft) instead of all weights.")
    r: int = _f(16, "LoRA rank.")
    alpha: int = _f(32, "LoRA alpha (the update is scaled by alpha / r).")
    dropout: float = _f(0.05, "Dropout on the LoRA branch.")
    target_modules: str = _f("all-linear", "'all-linear' or comma-separated module names, e.g. 'q_proj,v_proj'.")
    merge_on_save: bool = _f(True, "With save_model: also write the merged model (model/) beside adapter/.")


@dataclass
class ModelConfig:
    name: str = _f(DEFAULT_MODEL, "Hub id or local directory (the default falls back to an embedded offline copy).")
    source: str = _f("auto", "Default model: hub if reachable else embedded (auto), hub, or embedded (GGUF wheel).",
                     choices=("auto", "hub", "embedded"))
    mask_token: str = _f("auto", "Mask token: auto (an unused special token, else a new '<|mask|>') or a token.")
    trust_remote_code: bool = _f(False, "Let the model repository run its own Python code.")
    revision: str | None = _f(None, "Hub revision (branch, tag or commit).")
    bidirectional: bool = _f(False, "Build the decoder with bidirectional attention (a dLLM for objective mdm).")
    mask_id: int | None = _f(None, "dLLM mask token id (default: the model config, the tokenizer, model.mask_token).")
    shifted_logits: str = _f("auto", "dLLM logits at i predict token i+1 (Dream); auto: true for Dream only.",
                             choices=("auto", "true", "false"))
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class DataConfig:
    train: str = _f("", "Documents: native JSONL or the published JSON array of {text} (math: problems JSONL).")
    test: str = _f("", "Questions: native or published JSONL (math: test problems).")
    paraphrases: str | None = _f(None, "Published same-order paraphrase JSON (blocks of k per document).")
    permuted_paraphrases: str | None = _f(None, "Published permuted-order paraphrase JSON.")
    num_paraphrases: int | None = _f(0, "Paraphrases per document and set to train on (null: all).")
    paraphrase_order: str = _f("same", "Paraphrase set(s) to train on.", choices=("same", "permuted", "both"))
    paraphrases_only: bool = _f(False, "Train on the paraphrases without the original document.")
    max_documents: int | None = _f(None, "Use only N documents (and their questions).")
    pick: str = _f("first", "Which max_documents: the first N, or N spread evenly over the file.",
                   choices=("first", "spread"))
    generate_people: int = _f(0, "Generate a synthetic NameDescription set of N people into data.generated_dir.")
    generate_seed: int = _f(0, "Seed for the synthetic generators.")
    generate_problems: int = _f(0, "task=math: generate N GSM8K-style training problems into data.generated_dir.")
    generate_test_problems: int = _f(50, "task=math: test problems generated with data.generate_problems.")
    generated_dir: str = _f("", "Where generated data go (empty: OUTPUT_DIR/data of the config's output_dir).")
    corpus: str = _f("", "A large corpus read with datasets (files, glob, save_to_disk folder or hub id).")
    corpus_split: str = _f("train", "Split of data.corpus to train on.")
    text_field: str = _f("text", "Field of data.corpus that holds the document text.")
    streaming: bool = _f(False, "Stream data.corpus record by record (needs train.max_steps).")
    too_long: str = _f("error", "A document longer than one training sequence: refuse, chunk or truncate it.",
                       choices=("error", "chunk", "truncate"))


@dataclass
class ObjectiveConfig:
    name: str = _f("standard", "The training objective (`kinject config` lists them, with the keys each reads).")
    format: str = _f("pretrain", "standard, mdm: pretrain (BOS + doc + EOS) or chat (a user turn, then the doc).",
                     choices=("pretrain", "chat"))
    chat_prompt: str = _f("Tell me a fact.", "chat format: the user turn.")
    t_low: float = _f(0.05, "Mask ratio t ~ U(t_low, t_high), drawn once per batch.")
    t_high: float = _f(0.95, "Upper end of the mask-ratio range.")
    fixed_t: float | None = _f(None, "One mask ratio for every batch instead of a range.")
    t_per: str = _f("batch", "mdm: draw t per batch or per sequence (LLaDA pretraining).",
                    choices=("batch", "sequence"))
    normalize: str = _f("sequence", "mdm: average the 1/t-weighted loss per sequence, per token or per B x L.",
                        choices=("sequence", "token", "batch"))
    eos_fill: bool = _f(False, "mdm chat form: fill answers with trainable EOS to the batch's longest (LLaDA SFT).")
    loss_on: str = _f("auto", "Loss on all answer tokens or only those masked in the prompt (auto: as published).",
                      choices=("auto", "all", "masked"))
    eot_loss: bool = _f(True, "loss_on=masked: still train the end-of-turn token.")
    corruption: str = _f("mask", "mask (the method) or random_tokens (the control).", choices=("mask", "random_tokens"))
    instruction: str = _f("\nReturn the recovered masked passage.", "masked: after the masked copy in the user turn.")
    sft_instruction: str = _f("\nReturn the recovered masked answer.", "masked_sft: after the masked answer.")
    response_prefix: str = _f("Here is the recovered text:\n\n", "masked: start of the assistant turn (no loss).")


@dataclass
class TrainConfig:
    epochs: int = _f(10, "Passes over the training sequences.")
    lr: float = _f(1e-4, "Peak learning rate.")
    lr_schedule: str = _f("constant", "After warmup: constant, or decay to zero along a cosine or a line.",
                          choices=("constant", "cosine", "linear"))
    batch_size: int = _f(16, "Sequences (or packed rows) per step and process, before accumulation.")
    grad_accum: int = _f(1, "Gradient accumulation steps.")
    weight_decay: float = _f(0.1, "AdamW weight decay.")
    beta1: float = _f(0.9, "AdamW beta1.")
    beta2: float = _f(0.95, "AdamW beta2.")
    warmup_ratio: float = _f(0.02, "Fraction of steps with linear warmup.")
    max_grad_norm: float = _f(1.0, "Gradient clipping (0 disables).")
    bf16: str = _f("auto", "bf16 autocast: auto (where supported), true, false.", choices=("auto", "true", "false"))
    seed: int = _f(0, "Seed for initialization, data order and masks.")
    max_length: int = _f(1024, "Longest training sequence (packed row) in tokens.")
    max_steps: int | None = _f(None, "Stop after N optimizer steps instead of train.epochs.")
    packing: bool = _f(False, "Pack sequences into rows of train.max_length (attention never crosses them).")
    group_by_length: bool = _f(False, "Batch sequences of similar length together.")
    wandb: bool = _f(False, "Also log to Weights & Biases (pip install wandb).")
    checkpoint_steps: int = _f(0, "Save a resumable checkpoint every N optimizer steps (0: none).")
    checkpoints_kept: int = _f(2, "How many of the newest checkpoints to keep.")
    optimizer: str = _f("adamw", "adamw, or sam (sharpness-aware minimization around AdamW).",
                        choices=("adamw", "sam"))
    sam_rho: float | None = _f(None, "SAM radius (null: 0.05, or 1.0 for ASAM).")
    sam_adaptive: bool = _f(False, "ASAM: scale the perturbation element-wise by |w|.")


@dataclass
class AugmentConfig:
    formatting: int = _f(0, "Formatting augmentation: k copies per document with the same words, new format.")
    formatting_transforms: str = _f("all", "Comma-separated formatting transformations, or all.")
    reverse: bool = _f(False, "Reverse training: add a copy with its segments reversed, entities intact.")
    reverse_entities: str = _f("auto", "Entities kept whole when reversing.",
                               choices=("auto", "fields", "answers", "heuristic"))
    seed: int = _f(0, "Seed for formatting choices.")


@dataclass
class ParaphraseConfig:
    output: str = _f("", "Write paraphrases of data.train by a local model into this file, then train on it.")
    model: str = _f("", "Generator: hub id or local directory of an instruct model (default: model.name).")
    count: int = _f(4, "Paraphrases per document and order.")
    orders: str = _f("both", "Which rewrites to write.", choices=("same", "permuted", "both"))
    batch_size: int = _f(16, "Prompts per generation batch.")
    max_new_tokens: int = _f(256, "Generation budget per paraphrase.")
    temperature: float = _f(0.8, "Sampling temperature.")
    top_p: float = _f(0.95, "Nucleus sampling.")
    seed: int = _f(0, "Sampling seed.")
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
    every: int = _f(5, "Evaluate every N epochs (0: only before and after training).")
    before: bool = _f(True, "Evaluate the model before training.")
    batch_size: int = _f(32, "Questions per generation batch.")
    max_new_tokens: int = _f(128, "Generation budget per answer.")
    max_questions: int | None = _f(None, "Evaluate only the first N questions.")
    bf16: bool = _f(False, "bf16 autocast (faster; batched answers then depend on the batch).")
    sampler: str = _f("auto", "auto: greedy for arLLMs, the masked-diffusion sampler for dLLMs.",
                      choices=("auto", "greedy", "diffusion"))
    steps: int = _f(128, "diffusion sampler: denoising steps for the whole answer.")
    block_length: int = _f(4, "diffusion sampler: block length (blocks fill left to right).")
    remasking: str = _f("low_confidence", "diffusion sampler: fix the most confident or random positions.",
                        choices=("low_confidence", "random"))
    temperature: float = _f(0.0, "diffusion sampler: 0 is greedy; > 0 samples with Gumbel noise.")
    seed: int = _f(0, "diffusion sampler: seed for random remasking and temperature > 0.")


@dataclass
class WorldConfig:
    dir: str = _f("", "Build a CPU-scale world here first (twin models pretrained from scratch + new people).")
    seed: int = _f(0, "Seed of the world.")
    pretrain_people: int = _f(30, "People the twins are pretrained on.")
    inject_people: int = _f(20, "Other people, whose biographies form the injection set.")
    bios_per_person: int = _f(2, "Differently worded biographies per pretraining person.")
    vocab_size: int = _f(1024, "BPE vocabulary trained on the pretraining text.")
    hidden_size: int = _f(256, "Twin model width.")
    intermediate_size: int = _f(768, "Twin model MLP width.")
    layers: int = _f(4, "Twin model depth.")
    heads: int = _f(4, "Attention heads.")
    epochs: int = _f(300, "Pretraining epochs (cosine schedule).")
    lr: float = _f(2e-3, "Pretraining peak learning rate.")
    batch_size: int = _f(16, "Pretraining batch size.")
    t_per: str = _f("batch", "Bidirectional twin: mask ratio per batch or per sequence.", choices=("batch", "sequence"))
    probe_questions: int = _f(64, "Pretraining questions each twin answers afterwards (did pretraining take?).")


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
    task: str = _f("knowledge", "knowledge (documents, forward/backward QA) or math (question-answer SFT).")
    output_dir: str = _f("runs/kinject", "Run directory (named runs go in subdirectories).")
    save_model: bool = _f(False, "Save the trained model in Hugging Face format (model/).")
    run_name: str = _f("", "Name of this run (set from the runs: mapping).")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
