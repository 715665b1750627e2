"""Padding fraction of the training batches on the published Biography data: random batches vs
length grouping vs packing, through the Trainer's own dataloader (the batches training sees).

    python bench/padding.py [--model NAME_OR_DIR] [--batch-size 16] [--max-length 1024] [--epochs 3]

Training set: the 100 Biography documents plus their same-order paraphrases (4 each; the file's
fifth is the original: 500 sequences of mixed length), as the standard (chat) and masked objectives build them with the model's
tokenizer. Padding fraction = padded positions / (rows x padded length), over --epochs epochs.
Prints a table and writes bench/results/padding.json. Needs ../shared/datasets.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from kinject.augment.training_set import build_training_set, describe_training_set
from kinject.config import AugmentConfig, DataConfig, ModelConfig, ObjectiveConfig, TrainConfig
from kinject.data.loaders import load_knowledge_set
from kinject.data.packing import pack_features
from kinject.models.adapter import resolve_adapter
from kinject.models.loading import load_model_and_tokenizer
from kinject.objectives import objective_class
from kinject.data.features import document_features
from kinject.tasks.knowledge import link_questions
from kinject.training.trainer import KinjectTrainer, training_arguments

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def padding_fraction(features, objective, tokenizer, batch_size: int, group: bool, epochs: int) -> tuple[float, int]:
    tiny = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=8, intermediate_size=8,
                                        num_hidden_layers=1, num_attention_heads=1))  # the dataloader ignores it
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(batch_size=batch_size, group_by_length=group, epochs=epochs, bf16="false")
        trainer = KinjectTrainer(model=tiny, args=training_arguments(cfg, tmp, len(features)), train_dataset=features,
                                 objective=objective, processing_class=tokenizer)
        real = positions = batches = 0
        for epoch in range(epochs):
            torch.manual_seed(epoch)  # the Trainer reseeds per epoch; here each epoch draws a new order
            for batch in trainer.get_train_dataloader():
                real += int(batch["attention_mask"].sum())
                positions += batch["attention_mask"].numel()
                batches += 1
    return 1 - real / positions, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "padding.json"))
    args = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"needs the published data in {SHARED}")

    model_cfg = ModelConfig(name=args.model)
    model, tokenizer, _ = load_model_and_tokenizer(model_cfg)
    data = DataConfig(train=str(SHARED / "biography_train_no_paraphrase.json"), test=str(SHARED / "biography_test.jsonl"),
                      paraphrases=str(SHARED / "biography_train_paraphrase_same_order.json"), num_paraphrases=5)
    ks = link_questions(load_knowledge_set(data.train, data.test, data.paraphrases))
    texts = build_training_set(ks, data, AugmentConfig(), data.train)
    results = []
    for name in ("standard", "masked"):
        cls = objective_class(name)
        adapter = resolve_adapter(model, tokenizer, model_cfg, needs_mask=cls.needs_mask_token)
        objective = cls(ObjectiveConfig(name=name, format="chat"), tokenizer, adapter.mask_id, adapter=adapter)
        features, _ = document_features(texts, objective, tokenizer, args.max_length, data.train)
        lengths = [len(f["input_ids"]) for f in features]
        packed = pack_features(features, args.max_length)
        for layout, feats, group in (("random batches", features, False), ("length grouping", features, True),
                                     ("packing", packed, False)):
            fraction, batches = padding_fraction(feats, objective, tokenizer, args.batch_size, group, args.epochs)
            results.append({"objective": name, "layout": layout, "padding_fraction": round(fraction, 4),
                            "batches": batches, "rows": len(feats), "sequences": len(features),
                            "sequence_tokens": {"min": min(lengths), "max": max(lengths)}})
    kinds = describe_training_set(texts)["by_kind"]
    print(f"Biography, {len(texts)} sequences ({kinds}), batch {args.batch_size}, "
          f"{args.epochs} epochs, packing length {args.max_length}\n")
    print("| objective | layout | padding fraction | batches / epoch | rows |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['objective']} | {r['layout']} | {r['padding_fraction']:.1%} | {r['batches'] // args.epochs} | {r['rows']} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"batch_size": args.batch_size, "max_length": args.max_length, "epochs": args.epochs,
                               "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
