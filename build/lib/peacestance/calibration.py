"""Temperature scaling and expected calibration error.

A single temperature T, fitted on validation by minimising the negative log-likelihood,
divides every logit before the softmax: the argmax (and so every label) is unchanged, but a
score of 0.9 then means right about nine times in ten.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from peacestance.encoding import softmax


def nll(logits: np.ndarray, gold: np.ndarray, temperature: float) -> float:
    probs = softmax(logits, temperature).astype(np.float64)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(gold)), gold], 1e-12, None))))


def fit_temperature(logits: np.ndarray, gold: Sequence[int], low: float = 0.05, high: float = 20.0) -> float:
    """The T in [low, high] that minimises validation NLL (golden-section search on log T; NLL is convex in 1/T)."""
    gold = np.asarray(gold, dtype=int)
    if len(gold) == 0:
        return 1.0
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(logits, gold, np.exp(c)), nll(logits, gold, np.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(logits, gold, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(logits, gold, np.exp(d))
    return float(np.exp((a + b) / 2))


def expected_calibration_error(probs: np.ndarray, gold: Sequence[int], bins: int = 15) -> float:
    """ECE of the top label: the gap between confidence and accuracy, averaged over equal-width bins."""
    probs = np.asarray(probs, dtype=np.float64)
    gold = np.asarray(gold, dtype=int)
    if len(gold) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == gold
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)
