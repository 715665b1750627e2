"""Large corpora through the datasets library: memory-mapped or streamed, tokenized, chunked and
optionally packed by `datasets.map`, so nothing but the current batch of records is in memory.

    data.corpus = local file(s)        datasets' json / parquet / csv / text builder (by extension)
                  save_to_disk folder  datasets.load_from_disk
                  anything else        a hub dataset id
A memory-mapped corpus is tokenized once into Arrow files (datasets' cache); a streamed one
(data.streaming) is tokenized on the fly as the Trainer reads it.
"""

from __future__ import annotations

import glob
from pathlib import Path

from kinject.data.packing import fit_document, pack_features, sequence_budget
from kinject.errors import KinjectError

BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}
MAP_BATCH = 1000  # records per map batch (packing happens within a batch)


def load_corpus(source: str, split: str = "train", streaming: bool = False):
    """A datasets.Dataset (memory-mapped) or, with streaming, an IterableDataset."""
    import datasets

    path = Path(source)
    try:
        if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
            ds = datasets.load_from_disk(source)
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise KinjectError(f"{source}: no split {split!r} (has {', '.join(ds)}); set data.corpus_split")
                ds = ds[split]
            return ds.to_iterable_dataset() if streaming else ds
        files = sorted(glob.glob(source)) if any(c in source for c in "*?[") else ([source] if path.exists() else [])
        if files:
            suffixes = {Path(f).suffix.lower() for f in files}
            if len(suffixes) != 1 or next(iter(suffixes)) not in BUILDERS:
                raise KinjectError(f"{source}: cannot tell the format from the extension(s) {sorted(suffixes)}; "
                                   f"use one of {', '.join(BUILDERS)}")
            builder = BUILDERS[next(iter(suffixes))]
            return datasets.load_dataset(builder, data_files=files, split="train", streaming=streaming)
        return datasets.load_dataset(source, split=split, streaming=streaming)
    except KinjectError:
        raise
    except Exception as e:  # datasets raises many kinds; the user needs the source and the reason
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise KinjectError(f"{source}: cannot read as a corpus ({type(e).__name__}: {reason})") from None


def corpus_features(ds, objective, tokenizer, source: str, text_field: str, max_length: int, too_long: str,
                    packing: bool):
    """The corpus as training features (one column per feature key, plus 'length', 'sequences' and
    'truncated'), built by datasets.map in batches: every document tokenized, chunked or truncated
    as data.too_long says, built by the objective, and packed within its batch if asked."""
    from kinject.objectives.base import encode_text

    columns = ds.column_names
    if columns is None:  # a stream of JSON records: learn the fields from the first one
        first = next(iter(ds), None)
        if first is None:
            raise KinjectError(f"{source}: the corpus is empty")
        columns = list(first)
    if text_field not in columns:
        raise KinjectError(f"{source}: record 0: field {text_field!r} missing (fields: {', '.join(columns)}); "
                           "set data.text_field")
    budget = sequence_budget(objective, max_length)
    if budget < 1:
        raise KinjectError(f"config: key 'train.max_length': {max_length} tokens leave no room for a document in a "
                           f"{objective.name} training sequence")
    shifted = not objective.needs_bidirectional

    def build(batch, indices):
        features, truncated = [], 0
        for i, text in zip(indices, batch[text_field]):
            if not isinstance(text, str) or not text.strip():
                raise KinjectError(f"{source}: record {i}: field {text_field!r}: empty or not a string")
            ids = encode_text(tokenizer, text)
            pieces = fit_document(ids, budget, too_long)
            if pieces is None:
                raise KinjectError(f"{source}: record {i}: field {text_field!r}: {len(ids)} tokens, more than fit "
                                   f"in {max_length} ({budget} as a {objective.name} sequence); set "
                                   "data.too_long=chunk or truncate")
            truncated += too_long == "truncate" and len(ids) > budget
            features += [objective.build(piece) for piece in pieces]
        if packing:
            features = pack_features(features, max_length, shifted)
        out = {key: [f[key] for f in features] for key in features[0]} if features else {}
        out["length"] = [len(f["input_ids"]) for f in features]
        out["sequences"] = [max(f["segment"]) + 1 if packing else 1 for f in features]
        out["truncated"] = [truncated] + [0] * (len(features) - 1) if features else []
        return out

    return ds.map(build, batched=True, batch_size=MAP_BATCH, with_indices=True, remove_columns=columns,
                  **map_cache(ds, build))


def map_cache(ds, build) -> dict:
    """map() writes its Arrow cache beside the dataset's own files, which for a save_to_disk folder is
    the user's input directory: write it into datasets' cache directory instead."""
    import datasets
    from datasets.fingerprint import Hasher

    if not isinstance(ds, datasets.Dataset) or not ds.cache_files:  # a stream, or an in-memory dataset
        return {}
    directory = Path(datasets.config.HF_DATASETS_CACHE) / "kinject-corpus"
    directory.mkdir(parents=True, exist_ok=True)
    return {"cache_file_name": str(directory / f"{Hasher.hash([ds._fingerprint, build])}.arrow")}


def describe_corpus(corpus, features) -> dict:
    """Counts for summary.json (None where a stream cannot know them before it is read)."""
    rows = count_rows(features)
    return {"corpus_documents": count_rows(corpus), "training_sequences": sum(features["sequences"]) if rows else None,
            "truncated_documents": sum(features["truncated"]) if rows else None,
            "packed_rows": rows if rows and "segment" in features.column_names else None}


def count_rows(ds) -> int | None:
    """Rows of a memory-mapped dataset; None for a stream."""
    try:
        return len(ds)
    except TypeError:
        return None
