# The README's two commands (make train, make test) and a few more.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
STORE  ?= sqlite:///experiments/mlflow.db
ARGS   ?=

.PHONY: install install-dev prepare train test repro ui bench bench-segmenters bench-pages soak agreement benchmark ablation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==$(TORCH_VERSION)
	$(BIN)/pip install -q -e '.[train,mpnet]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
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
	@echo "Compare runs in the MLflow UI:  make ui   (then open the URL it prints)"

## The tests.
test: install-dev
	$(BIN)/pytest

repro: install-dev
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

## The MLflow UI on the local store; prints the runs table's URL (Model training view, sorted by blind-dev macro-F1).
ui: install
	@echo "Runs table: $$($(BIN)/python -m peacestance.tracking 2>/dev/null)"
	$(BIN)/mlflow ui --backend-store-uri $(STORE) --port 5000

bench: install-dev
	$(BIN)/python benchmarks/run.py $(ARGS)

bench-segmenters: install-dev
	$(BIN)/python benchmarks/segmenters.py

## Page cleaning on the blind page set (data/pages/blind): furniture dropped, body sentences kept whole.
bench-pages: install
	$(BIN)/python benchmarks/pages.py

## Concurrent serve requests, a killed training resumed, killed prepares (not in CI; a few minutes).
soak: install-dev
	$(BIN)/python benchmarks/soak.py $(ARGS)

agreement: install
	$(BIN)/python tools/agreement.py
	$(BIN)/python tools/agreement.py --dir data/raw/matrix
	$(BIN)/python tools/benchmark_data.py agreement

## Score models/peacestance on the blind benchmark (blind-dev and blind-test) into reports/benchmark/.
benchmark: install
	$(BIN)/python -m peacestance.benchmark score $(ARGS)

## Every recipe of the quality ablation as one MLflow parent run, then its table (about 2.5 hours on 2 CPU cores).
ABLATION ?= baseline_tfidf,minilm_default,mpnet_head,mpnet_head_linear,mpnet_head_depth8,mpnet_head_no_lexical,mpnet_student,mpnet_pair,mpnet_head_cls,mpnet_head_matrix,mpnet_gate,mpnet_partial,best
ablation: install
	$(BIN)/peacestance-train -m experiment=$(ABLATION) tracking.log_model=false
	$(BIN)/python benchmarks/ablation.py

clean:
	rm -rf data/processed models reports experiments/hydra
