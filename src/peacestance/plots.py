"""The two pictures every run carries: a confusion matrix and per-target F1 bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion(matrix: np.ndarray, path: str | Path, labels, title: str = "Confusion matrix (test)") -> Path:
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), list(labels))
    ax.set_yticks(range(len(labels)), list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    top = matrix.max() or 1
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", color="white" if matrix[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_per_target(rows: list[dict], path: str | Path, title: str = "Macro-F1 per target (test)") -> Path:
    rows = [r for r in rows if r["target"] != "all"]
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.bar([r["target"] for r in rows], [r["macro_f1"] for r in rows], color="#4477aa")
    for i, r in enumerate(rows):
        ax.text(i, r["macro_f1"] + 0.01, f"{r['macro_f1']:.2f}", ha="center")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("macro-F1")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
