"""The one pair encoder and the one softmax: training, every scorer and the benchmark call these.

A model reads ``(sentence, target phrase)``; when the pair is too long the sentence is cut,
never the phrase, so the model always knows what it is asked about.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def encode_pairs(tokenizer, sentences: Sequence[str], phrases: Sequence[str] | None, max_length: int,
                 return_tensors: str | None = None, padding: bool = False, pad_to_multiple_of: int | None = None):
    """Tokenise sentence/phrase pairs (or sentences alone when phrases is None) the way every model was trained.

    ``pad_to_multiple_of`` rounds a padded batch's length up (padding only: the attention mask hides the
    extra positions). Fewer distinct batch shapes means fewer kernels compiled and cached by oneDNN.
    """
    multiple = pad_to_multiple_of if padding else None
    if phrases is None:
        return tokenizer(list(sentences), truncation=True, max_length=max_length, padding=padding,
                         pad_to_multiple_of=multiple, return_tensors=return_tensors)
    return tokenizer(list(sentences), list(phrases), truncation="only_first", max_length=max_length,
                     padding=padding, pad_to_multiple_of=multiple, return_tensors=return_tensors)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax in float64 (stable), returned as float32 probabilities."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
