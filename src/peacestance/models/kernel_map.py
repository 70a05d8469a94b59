"""Random-feature view of an RBF kernel over sentence vectors, so a linear head can draw curved borders.

A logistic regression on a frozen sentence embedding separates the labels with one flat cut
per class. Stance in news often sits in small regions of that space (a refusal worded like an
offer, a condition worded like a demand), and an RBF kernel lets a linear head reach them. The
map is the Nystroem approximation: ``k`` training vectors (the centres) and the matrix
``K_cc^{-1/2}``; a vector's features are its kernel values to the centres times that matrix, so
``phi(x) . phi(y)`` approximates ``exp(-gamma * |x - y|^2)`` and equals it between centres.

The centres and the matrix are numpy arrays saved beside the heads, so serving never imports
scikit-learn. The arithmetic runs in torch, which serving has loaded anyway: numpy's BLAS would
start threads of its own, and between encoder calls they spin on the same cores (predict ran at
0.68x of the linear head that way). About 7 MFLOP per sentence at 1,500 centres, against several
GFLOP for the encoder.
"""

from __future__ import annotations

import numpy as np


class RBFMap:
    """Features whose dot products approximate an RBF kernel (Nystroem, on ``k`` training vectors)."""

    def __init__(self, centers: np.ndarray, normalization: np.ndarray, gamma: float):
        self.centers = np.asarray(centers, dtype=np.float32)
        self.normalization = np.asarray(normalization, dtype=np.float32)
        self.gamma = float(gamma)
        if self.centers.ndim != 2 or self.normalization.shape != (len(self.centers), len(self.centers)):
            raise ValueError(f"an RBF map needs centres (k, d) and a (k, k) matrix, not {self.centers.shape} and "
                             f"{self.normalization.shape}")

    @classmethod
    def fit(cls, vectors: np.ndarray, components: int, gamma: float, seed: int) -> "RBFMap":
        """Centres: ``components`` distinct vectors drawn with ``seed`` (all of them when there are fewer)."""
        if not gamma > 0 or int(components) < 1:
            raise ValueError(f"model.kernel_gamma must be > 0 and model.kernel_components >= 1, "
                             f"not {gamma!r} and {components!r}")
        distinct = np.unique(np.asarray(vectors, dtype=np.float32), axis=0)
        rng = np.random.RandomState(seed)
        pick = rng.permutation(len(distinct))[:int(components)]
        centers = distinct[np.sort(pick)]
        gram = rbf(centers, centers, gamma).astype(np.float64)
        u, s, vt = np.linalg.svd(gram)
        normalization = (u / np.sqrt(np.maximum(s, 1e-12))) @ vt
        return cls(centers, normalization.T, gamma)

    def transform(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return (torch.from_numpy(rbf(x, self.centers, self.gamma)) @ torch.from_numpy(self.normalization)).numpy()


def rbf(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """exp(-gamma * |a_i - b_j|^2) for every pair of rows, as float32 (computed in torch, see above)."""
    import torch

    with torch.inference_mode():
        ta = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        tb = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
        sq = (ta * ta).sum(1, keepdim=True) + (tb * tb).sum(1)[None, :] - 2.0 * (ta @ tb.T)
        return torch.exp(-gamma * sq.clamp_min(0.0)).numpy()
