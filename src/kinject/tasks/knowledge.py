"""The knowledge task: documents (files, generated people, or a corpus) trained on, closed-book
questions answered forward and backward, scored by the knowledge metrics by direction and group."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import kinject.evaluation.metrics  # noqa: F401  (registers the knowledge metrics)
from kinject.tasks.base import Task

DIRECTIONS = ("forward", "backward")
COLORS = {"forward": "tab:blue", "backward": "tab:red"}


@dataclass
class KnowledgeData:
    ks: object  # kinject.data.schema.KnowledgeSet (no documents when they stream from a corpus)
    texts: list = field(default_factory=list)  # TrainingText: originals + augmentations

    @property
    def items(self):
        return self.ks.questions


def link_questions(ks):
    """Published test files carry no document ids; their questions come in equal consecutive
    blocks per document, in document order, so the block index names the document."""
    from kinject.data.schema import KnowledgeSet

    if not ks.documents or any(q.doc_id for q in ks.questions):
        return ks
    per_doc, rest = divmod(len(ks.questions), len(ks.documents))
    if rest or not per_doc:
        return ks
    questions = [replace(q, doc_id=ks.documents[i // per_doc].id) for i, q in enumerate(ks.questions)]
    return KnowledgeSet(ks.documents, questions)


def pick_documents(ks, d, test_path):
    """data.max_documents: the first N documents or N spread over the file, with their questions."""
    from kinject.data.schema import KnowledgeSet
    from kinject.errors import KinjectError

    n, total = min(d.max_documents, len(ks.documents)), len(ks.documents)
    picks = range(n) if d.pick == "first" else [round(i * total / n) for i in range(n)]
    kept = [ks.documents[i] for i in picks]
    ids = {doc.id for doc in kept}
    if any(not q.doc_id for q in ks.questions):
        raise KinjectError(f"{test_path}: data.max_documents needs questions linked to documents (field 'doc_id')")
    return KnowledgeSet(kept, [q for q in ks.questions if q.doc_id in ids])


class KnowledgeTask(Task):
    name = "knowledge"
    primary = "rouge1_recall"
    draws_curves = True
    generated_files = ("documents.jsonl", "questions.jsonl")

    def generation(self, cfg):
        return "data.generate_people", cfg.data.generate_people

    def generated_set(self, cfg):
        from kinject.data.generate import name_description_set

        return name_description_set(cfg.data.generate_people, cfg.data.generate_seed)

    def validate(self, cfg) -> None:
        from kinject.errors import need

        need(not cfg.data.generate_problems, "data.generate_problems",
             "generates math problems (task=math); for documents use data.generate_people")

    def load(self, cfg, write: bool) -> KnowledgeData:
        from kinject.augment.training_set import build_training_set
        from kinject.data.loaders import load_knowledge_set, load_questions
        from kinject.data.schema import KnowledgeSet
        from kinject.errors import KinjectError
        from kinject.preparation import data_files, documents_path

        d = cfg.data
        if d.corpus:  # documents stream from the corpus; only the questions are loaded here
            ks = KnowledgeSet([], load_questions(d.test)[: cfg.eval.max_questions])
        else:
            with data_files(cfg, write) as (train, test):
                ks = link_questions(load_knowledge_set(cfg.paraphrase.output or train, test, d.paraphrases,
                                                       d.permuted_paraphrases))
            if d.max_documents is not None:
                ks = pick_documents(ks, d, d.test)
            if cfg.eval.max_questions is not None:
                ks = KnowledgeSet(ks.documents, ks.questions[: cfg.eval.max_questions])
        if not ks.questions:
            raise KinjectError(f"{d.test}: no questions left to evaluate")
        texts = [] if d.corpus else build_training_set(ks, d, cfg.augment, documents_path(cfg))
        return KnowledgeData(ks, texts)

    def features(self, cfg, objective, tokenizer, model_config, data, head=None):
        from kinject.data.features import corpus_training_features, document_features, packed
        from kinject.console import log
        from kinject.preparation import documents_path, sequence_limit

        max_length, limit = sequence_limit(cfg, model_config)
        if cfg.data.corpus:
            return corpus_training_features(cfg, objective, tokenizer, max_length, head)
        features, truncated = document_features(data.texts, objective, tokenizer, max_length, documents_path(cfg),
                                                cfg.data.too_long, limit)
        if truncated and head is None:
            log(f"truncated {truncated} documents to fit {limit}={max_length} (data.too_long=truncate)")
        sequences = {"training_sequences": len(features)}
        if cfg.data.too_long == "truncate":
            sequences["truncated_documents"] = truncated
        return packed(cfg, objective, features, sequences, max_length)

    def training_texts(self, data) -> list:
        return data.texts

    def describe_data(self, cfg, data, sequences: dict) -> dict:
        from kinject.augment.training_set import describe_training_set

        if cfg.data.corpus:
            return {"questions": len(data.ks.questions), **sequences}
        return {**data.ks.describe(), **sequences, "training_set": describe_training_set(data.texts)}

    def evaluate(self, model, tokenizer, data, eval_cfg, sampler=None, progress=True):
        from kinject.evaluation.qa import evaluate_qa

        return evaluate_qa(model, tokenizer, data.ks.questions, eval_cfg.batch_size, eval_cfg.max_new_tokens,
                           eval_cfg.bf16, progress=progress, sampler=sampler)

    def selection_score(self, entry: dict) -> float:
        values = [entry[d][self.primary] for d in DIRECTIONS if d in entry]
        return sum(values) / len(values) if values else 0.0

    def console_line(self, result: dict) -> str:
        return ", ".join(f"{d} {result[d][self.primary]:.2f}" for d in DIRECTIONS if d in result) + " (ROUGE-1 recall)"

    def scalars(self, result: dict) -> dict[str, float]:
        return {f"qa/{d}_{m.name}": result[d][m.name] for d in DIRECTIONS if d in result for m in self.metrics()}

    def curves(self, evaluations):
        out = []
        for direction, color in COLORS.items():
            if any(direction in e for e in evaluations):
                for m in self.metrics():
                    if m.curve:
                        values = [e[direction][m.name] if direction in e else float("nan") for e in evaluations]
                        out.append((f"{direction} {m.title.split(' (')[0]}", values, m.curve, color))
        return out

    def run_table(self, summary: dict) -> str:
        from kinject.reporting.tables import knowledge_run_table

        return knowledge_run_table(summary, self.metrics(), self.primary)

    def comparison_table(self, summaries: list[dict]) -> str:
        from kinject.reporting.tables import knowledge_comparison_table

        return knowledge_comparison_table(summaries, self.metrics(), self.primary)

    def console_table(self, summaries: list[dict]):
        from kinject.reporting.tables import knowledge_console_table

        return knowledge_console_table(summaries, self.primary)
