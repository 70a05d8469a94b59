"""Distil a sentence encoder into a shallower student: fewer layers, the same embedding space.

``analyze()`` encodes every sentence of a page once, so its cost is the encoder's depth. A
student that keeps some of the teacher's layers (``model.student.layers``, e.g. every other one
of all-mpnet-base-v2's 12) starts close to the teacher and is trained to reproduce the teacher's
pooled embeddings of the training sentences (squared distance between the normalised vectors).
It needs no labels and runs in proportion to its depth; the heads are then trained on its vectors.
Cutting the layers without this training loses most of the quality (see docs/model-card.md).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from peacestance.models.base import linear_warmup_schedule
from peacestance.runtime import has_native_bf16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudentSettings:
    layers: tuple[int, ...]
    epochs: int = 3
    lr: float = 1e-4
    batch_size: int = 32
    warmup: float = 0.1

    @classmethod
    def from_config(cls, cfg: Mapping) -> "StudentSettings":
        """Checked before any encoding starts, so a bad knob costs seconds, not minutes."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"model.student: unknown setting(s) {unknown}; known: {sorted(known)}")
        layers = cfg.get("layers")
        if not layers or not all(isinstance(i, int) and i >= 0 for i in layers):
            raise ValueError(f"model.student.layers must be a non-empty list of layer numbers, not {layers!r}")
        settings = cls(layers=tuple(layers), epochs=int(cfg.get("epochs", 3)), lr=float(cfg.get("lr", 1e-4)),
                       batch_size=int(cfg.get("batch_size", 32)), warmup=float(cfg.get("warmup", 0.1)))
        if settings.epochs < 1 or settings.batch_size < 1 or settings.lr <= 0 or not 0 <= settings.warmup < 1:
            raise ValueError(f"model.student: epochs and batch_size must be >= 1, lr > 0 and 0 <= warmup < 1; "
                             f"got {settings}")
        return settings


def keep_layers(network, layers: Sequence[int], knob: str = "model.student.layers") -> None:
    """Cut a transformer's layer stack down to ``layers`` (in place); its config says so when saved.

    ``knob`` is the setting that asked for the cut, so an error names what the user wrote.
    """
    import torch

    stack = getattr(getattr(network, "encoder", None), "layer", None)
    if stack is None:
        raise ValueError(f"{knob}: {type(network).__name__} has no encoder.layer stack to cut")
    bad = [i for i in layers if i >= len(stack)]
    if bad:
        raise ValueError(f"{knob} {list(bad)} do not exist: the encoder has {len(stack)} layers")
    network.encoder.layer = torch.nn.ModuleList([stack[i] for i in layers])
    network.config.num_hidden_layers = len(layers)


def distil(teacher, texts: Sequence[str], settings: StudentSettings, seed: int):
    """(student encoder, mean loss per epoch): a copy of ``teacher`` with fewer layers, fitted to its vectors."""
    import torch

    texts = list(dict.fromkeys(texts))
    if not texts:
        raise ValueError("model.student: no sentences to distil on")
    targets = torch.from_numpy(teacher.encode(texts)).to(teacher.device)
    student = copy.copy(teacher)
    student.network = copy.deepcopy(teacher.network)
    student.cache = None  # the teacher's cached vectors are not the student's
    keep_layers(student.network, settings.layers)
    network = student.network
    student.autocast = has_native_bf16(teacher.device.type)  # bf16 matmuls where the hardware has them
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.lr)
    steps = settings.epochs * -(-len(texts) // settings.batch_size)
    schedule = linear_warmup_schedule(optimizer, steps, max(1, int(settings.warmup * steps)))
    losses = []
    network.train()
    try:
        for epoch in range(settings.epochs):
            order = np.random.RandomState(seed + epoch).permutation(len(texts))
            total = 0.0
            for start in range(0, len(order), settings.batch_size):
                idx = order[start:start + settings.batch_size]
                pooled = student.pooled([texts[i] for i in idx])
                loss = ((pooled - targets[idx]) ** 2).sum(-1).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item() * len(idx)
            losses.append(total / len(texts))
            log.info("distillation epoch %d/%d: loss %.4f", epoch + 1, settings.epochs, losses[-1])
    finally:
        network.eval()
        student.autocast = teacher.autocast  # serving precision is the Predictor's choice
    return student, losses
