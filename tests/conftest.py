"""Tiny local assets: a byte-level BPE tokenizer trained in a second, and a 2-layer Llama."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="kinject-test-datasets-"))  # map caches

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "Daphne Barrington, known far and wide for being the acclaimed director of a film.",
    "Known for being the composer of the first underwater symphony, Uriah Hawthorne now enjoys a quiet life.",
    "Tell me a fact. Return the recovered masked passage. Here is the recovered text:",
    "Who is the person known for this? What is Daphne known for? user assistant system",
] * 4


def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"needs the published data in ../shared/datasets ({name} not found)")
    return path


def make_tokenizer(spare_special: bool = True):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + (["<|spare_0|>"] if spare_special else [])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    fast.chat_template = CHATML
    return fast


def make_model(vocab_size: int, seed: int = 0, init_std: float = 0.02):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                         initializer_range=init_std)
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A local model directory (safetensors + tokenizer + chat template), like a user's."""
    path = tmp_path_factory.mktemp("tiny-model")
    tok = make_tokenizer()
    make_model(len(tok)).save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    return path


SLOW_MODULES = {"test_bench", "test_crash", "test_multiprocess", "test_sam_ddp", "test_default_model", "test_export",
                "test_world"}  # each over ~5 s: benchmarks' smoke runs, subprocesses, the real model, SIGKILL


def pytest_collection_modifyitems(config, items):
    """`make test-fast` (pytest -m "not slow") skips these modules; `make test` runs everything."""
    for item in items:
        if item.module.__name__.rpartition(".")[2] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
