"""Data preparation: raw pages -> clean sentences -> labelled, split stance data."""

from peacestance.data.articles import Page, iter_pages, split_article
from peacestance.data.sentences import split_sentences

__all__ = ["Page", "iter_pages", "split_article", "split_sentences"]
