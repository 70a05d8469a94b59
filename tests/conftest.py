"""Shared fixtures: a small synthetic corpus written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_factory import data_overrides, write_corpus

from peacestance.config import compose


@pytest.fixture()
def corpus(tmp_path: Path) -> dict[str, Path]:
    return write_corpus(tmp_path)


@pytest.fixture()
def corpus_cfg(corpus):
    return compose(data_overrides(corpus))
