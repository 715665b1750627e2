"""Checks a config's types cannot express: ranges, options that exclude each other, what the
chosen task and objective accept, and keys set for an objective that never reads them. Every
problem is one line naming the key (`need`); `naming_source` adds the file and run."""

from __future__ import annotations

from kinject.config.schema import Config, ParaphraseConfig
from kinject.errors import KinjectError, need
from kinject.registry import OBJECTIVES, TASKS


def validate(cfg: Config) -> Config:
    validate_training(cfg)
    validate_eval(cfg)
    objective = OBJECTIVES[cfg.objective.name]
    same_task = [name for name, cls in OBJECTIVES.items() if cls.task == cfg.task]
    need(objective.task == cfg.task, "objective.name",
         f"task={cfg.task} needs objective.name in {', '.join(same_task)}; got {cfg.objective.name!r}")
    TASKS[cfg.task].validate(cfg)
    objective.check(cfg)
    validate_data(cfg)
    validate_paraphrase(cfg.paraphrase)
    validate_world(cfg)
    need(bool(cfg.data.train) or bool(cfg.data.corpus), "data.train", "is required (or data.corpus)")
    validate_corpus(cfg)
    need(bool(cfg.data.test), "data.test", "is required")
    need(bool(cfg.model.name), "model.name", "is required")
    return cfg


def validate_training(cfg: Config) -> None:
    o, t, lo = cfg.objective, cfg.train, cfg.model.lora
    need(0.0 <= o.t_low <= o.t_high <= 1.0, "objective.t_low", "need 0 <= t_low <= t_high <= 1")
    need(o.fixed_t is None or 0.0 < o.fixed_t <= 1.0, "objective.fixed_t", "must be in (0, 1]")
    need(t.epochs >= 1, "train.epochs", "must be >= 1")
    need(t.lr > 0, "train.lr", "must be > 0")
    need(t.batch_size >= 1, "train.batch_size", "must be >= 1")
    need(t.grad_accum >= 1, "train.grad_accum", "must be >= 1")
    need(0.0 <= t.warmup_ratio < 1.0, "train.warmup_ratio", "must be in [0, 1)")
    need(t.max_grad_norm >= 0, "train.max_grad_norm", "must be >= 0")
    need(t.max_length >= 8, "train.max_length", "must be >= 8")
    need(t.checkpoint_steps >= 0 and t.checkpoints_kept >= 1, "train.checkpoint_steps",
         "train.checkpoint_steps must be >= 0 and train.checkpoints_kept >= 1")
    need(t.sam_rho is None or t.sam_rho >= 0, "train.sam_rho", "must be >= 0")
    need(lo.r >= 1 and lo.alpha >= 1, "model.lora.r", "model.lora.r and alpha must be >= 1")
    need(0.0 <= lo.dropout < 1.0, "model.lora.dropout", "must be in [0, 1)")
    need(cfg.model.mask_id is None or cfg.model.mask_id >= 0, "model.mask_id", "must be >= 0")


def validate_eval(cfg: Config) -> None:
    e = cfg.eval
    need(e.every >= 0, "eval.every", "must be >= 0")
    need(e.batch_size >= 1, "eval.batch_size", "must be >= 1")
    need(e.max_new_tokens >= 1, "eval.max_new_tokens", "must be >= 1")
    need(e.block_length >= 1, "eval.block_length", "must be >= 1")
    need(e.temperature >= 0, "eval.temperature", "must be >= 0")
    if e.sampler != "greedy":  # checked here so a dLLM run fails before training, not at evaluation
        blocks = -(-e.max_new_tokens // e.block_length)
        need(e.steps >= blocks, "eval.steps", f"must be >= the number of blocks ({blocks} = "
             f"eval.max_new_tokens {e.max_new_tokens} / eval.block_length {e.block_length}, rounded up)")


def validate_data(cfg: Config) -> None:
    d, a = cfg.data, cfg.augment
    need(d.generate_test_problems >= 1, "data.generate_test_problems", "must be >= 1")
    need(d.generate_people >= 0 and d.generate_problems >= 0, "data.generate_people",
         "data.generate_people and data.generate_problems must be >= 0")
    need(d.num_paraphrases is None or d.num_paraphrases >= 0, "data.num_paraphrases", "must be >= 0 or null")
    need(a.formatting >= 0, "augment.formatting", "must be >= 0")
    if a.formatting:
        from kinject.augment.formatting import parse_names

        parse_names(a.formatting_transforms)
    need(not (d.paraphrases_only and d.num_paraphrases == 0), "data.paraphrases_only",
         "needs paraphrases (data.num_paraphrases is 0)")


def validate_world(cfg: Config) -> None:
    from kinject.world.bios import max_people

    w = cfg.world
    need(w.pretrain_people >= 1 and w.inject_people >= 1, "world.pretrain_people", "the world needs "
         "pretrain_people >= 1 and inject_people >= 1")
    need(w.pretrain_people + w.inject_people <= max_people(), "world.pretrain_people",
         f"pretrain_people + inject_people must be <= {max_people()}")
    need(w.hidden_size % w.heads == 0, "world.hidden_size", f"must be divisible by world.heads ({w.heads})")
    need(min(w.layers, w.heads, w.epochs, w.batch_size, w.bios_per_person) >= 1, "world.layers",
         "world.layers, heads, epochs, batch_size and bios_per_person must be >= 1")
    need(w.vocab_size >= 300, "world.vocab_size", "must be >= 300 (256 bytes + special tokens)")
    if w.dir:
        key, count = TASKS[cfg.task].generation(cfg)
        need(not count, key, "the world (world.dir) brings its own data; set one of them")


def validate_corpus(cfg: Config) -> None:
    d, t = cfg.data, cfg.train
    need(t.max_steps is None or t.max_steps >= 1, "train.max_steps", "must be >= 1 or null")
    need(not d.streaming or bool(d.corpus), "data.streaming", "streams data.corpus; set data.corpus")
    need(not d.streaming or t.max_steps is not None, "train.max_steps", "is needed with data.streaming "
         "(a stream has no length to count epochs by)")
    need(not (d.streaming and t.group_by_length), "train.group_by_length", "needs the whole corpus to sort; "
         "not with data.streaming")
    if d.corpus:
        need(not d.train, "data.corpus", "set data.corpus or data.train, not both")
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


def check_objective_keys(configs: list[Config], all_configs: list[Config] | None = None) -> None:
    """An objective.* key that the run's objective never reads is an error: set for the run (in its
    runs: entry or on the command line), or set in the shared section and read by none of the runs."""
    def unread(cfg, key: str) -> bool:
        section, _, name = key.partition(".")
        return section == "objective" and name != "name" and name not in OBJECTIVES[cfg.objective.name].reads

    for cfg in configs:
        keys = getattr(cfg, "set_keys", {})
        for key in sorted(keys.get("run", set()) | keys.get("cli", set())):
            if unread(cfg, key):
                reads = OBJECTIVES[cfg.objective.name].reads
                raise KinjectError(f"{getattr(cfg, 'source', 'config')}: key '{key}': objective "
                                   f"'{cfg.objective.name}' does not read it (it reads "
                                   f"{', '.join(f'objective.{r}' for r in reads) or 'no objective key'})")
    everything = all_configs or configs
    shared = set().union(*(getattr(c, "set_keys", {}).get("shared", set()) for c in everything))
    for key in sorted(shared):
        if all(unread(cfg, key) for cfg in everything):
            names = sorted({c.objective.name for c in everything})
            where = getattr(everything[0], "source", "config").split(": runs.")[0]
            raise KinjectError(f"{where}: key '{key}': no run of this config reads it (objectives: {', '.join(names)})")
