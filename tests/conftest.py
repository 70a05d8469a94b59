"""Shared fixtures: a small synthetic corpus written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_factory import data_overrides, smoke_run_overrides, write_corpus

from peacestance.config import compose


@pytest.fixture()
def corpus(tmp_path: Path) -> dict[str, Path]:
    return write_corpus(tmp_path)


@pytest.fixture()
def corpus_cfg(corpus):
    return compose(data_overrides(corpus))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny BERT trained on the synthetic corpus: a real saved model folder, in seconds."""
    from peacestance.data.prepare import prepare
    from peacestance.train import train

    root = tmp_path_factory.mktemp("tiny")
    paths = write_corpus(root, n_pages=16, per_page=15)
    cfg = compose(smoke_run_overrides(root, paths, "tracking.log_model=false"))
    prepare(cfg)
    train(cfg)
    return root / "model"
