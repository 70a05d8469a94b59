"""A frozen sentence encoder with a light head: mpnet-quality features at a fraction of the training cost.

Each sentence is encoded once (mean- or [CLS]-pooled, optionally averaged over the last
few layers), then a logistic-regression head decides the label:

* ``head: per_target``: one head per target over the sentence embedding. Strong and cheap,
  but it only knows the targets it was trained on (a free phrase is a clear error).
* ``head: pair``: one head over [u, v, u*v, |u-v|] of the sentence embedding u and the
  target phrase's embedding v (a bi-encoder), so a free phrase still gets an answer.

``student:`` (layers, epochs, lr, ...) first distils the encoder into a shallower one on the
training sentences (``models/distill.py``); the heads are then trained on the student's vectors,
and the student is what the model folder keeps: fewer layers, faster ``analyze()``.

``kernel: rbf`` gives the per-target heads RBF features of the sentence vector instead of the
vector itself (``models/kernel_map.py``): still one logistic regression per target, but with
curved borders. The map is fitted on the training sentences and saved beside the heads.

``depth: k`` runs only the encoder's first k layers; the model folder saves the cut encoder. It is
the speed option (depth 8: about 1.4x on ``analyze()``), not the default: it costs some quality.

``lexical_weight`` > 0 mixes in a TF-IDF classifier per head (``lexical:`` settings): the
scores become ``(1 - w) * head + w * tfidf``. A frozen sentence embedding blurs the words that
carry a stance ("rejected", "ruled out", "ready to"); the bag of words keeps them, and the two
err on different sentences (chosen on blind-dev and leave-one-writer-out CV, see the model card).

``gate: relevance`` (per-target heads) adds a second classifier per target, trained on every
cell of the target matrix (``train.cells=matrix``): does the sentence speak to this target at
all? The stance head, trained on the sentences that do, answers only when the gate says yes;
otherwise the answer is neutral. A stance head never sees an off-target sentence, so without a
gate it takes sides on sentences about something else (what ``analyze()`` asks all day).

The encoder is copied into the model folder (``encoder/``), so the folder serves on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from peacestance.encoders import resolve
from peacestance.encoding import encode_pairs
from peacestance.models.base import FitContext, StanceModel, row_weights
from peacestance.models.distill import StudentSettings, distil, keep_layers
from peacestance.models.kernel_map import RBFMap
from peacestance.models.linear import LinearHead
from peacestance.models.tfidf import LexicalClassifier, pair_text

if TYPE_CHECKING:
    import pandas as pd

HEAD_FILE = "head.safetensors"
HEAD_META = "head.json"
LEXICAL_FILE = "lexical.json"
ENCODER_DIR = "encoder"


class SentenceEncoder:
    """Pooled embeddings from a frozen transformer, one forward pass per unique text."""

    def __init__(self, source: str, pooling: str = "mean", layers: int = 1, max_length: int = 128,
                 batch_size: int = 32, normalize: bool = True, cache_dir: str | None = None,
                 depth: int | None = None, pad_to_multiple_of: int | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        if pooling not in ("mean", "cls"):
            raise ValueError(f"model.pooling must be mean or cls, not {pooling!r}")
        self.source = source
        self.tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        self.network = AutoModel.from_pretrained(source, trust_remote_code=False, use_safetensors=True).eval()
        self.cut = self._cut(depth)  # layers kept, or None for the whole stack
        self.pooling, self.layers, self.max_length = pooling, int(layers), int(max_length)
        self.batch_size, self.normalize = int(batch_size), bool(normalize)
        self.pad_to_multiple_of = None if pad_to_multiple_of is None else int(pad_to_multiple_of)
        if self.pad_to_multiple_of is not None and (self.pad_to_multiple_of < 1
                                                    or self.max_length % self.pad_to_multiple_of):
            raise ValueError(f"model.pad_to_multiple_of={pad_to_multiple_of!r} must be a positive divisor of "
                             f"model.max_length ({self.max_length}), so a padded batch never outgrows it")
        self.device = torch.device("cpu")
        self.autocast = False  # bf16 matmuls (Predictor precision=bf16, on CPUs with avx512_bf16/AMX or a GPU)
        self.cache = EmbeddingCache(cache_dir, self._fingerprint()) if cache_dir else None

    def _cut(self, depth: int | None) -> int | None:
        """Keep the first ``depth`` layers (``model.depth``): the encoder's cost is its depth, and for
        all-mpnet-base-v2 layer 8 serves the heads nearly as well as layer 12 (docs/model-card.md)."""
        total = int(self.network.config.num_hidden_layers)
        if depth is None or int(depth) == total:
            return None
        if not 1 <= int(depth) < total:
            raise ValueError(f"model.depth={depth!r}: the encoder {self.source} has {total} layers; "
                             f"keep between 1 and {total} of them (null keeps all)")
        keep_layers(self.network, range(int(depth)), knob="model.depth")
        return int(depth)

    def _fingerprint(self) -> str:
        """Same weights and settings -> same vectors: the cache key."""
        weights = Path(self.source) / "model.safetensors"
        stamp = f"{weights.stat().st_size}-{weights.stat().st_mtime_ns}" if weights.is_file() else self.source
        settings = [self.source, stamp, self.pooling, self.layers, self.max_length, self.normalize]
        if self.cut is not None:  # uncut encoders keep the keys their caches were written under
            settings.append(["depth", self.cut])
        return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]

    def to(self, device: str) -> "SentenceEncoder":
        import torch

        self.device = torch.device(device)
        self.network.to(self.device)
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 embeddings; duplicate texts are encoded once, batches sorted by length."""
        unique = list(dict.fromkeys(texts))
        if self.cache is not None:
            known = self.cache.get(unique)
            fresh = [t for t in unique if t not in known]
            if fresh:
                self.cache.put(fresh, self._encode_unique(fresh))
                known = self.cache.get(unique)
            return np.stack([known[t] for t in texts])
        table = self._encode_unique(unique)
        where = {text: i for i, text in enumerate(unique)}
        return table[[where[t] for t in texts]]

    def _encode_unique(self, unique: list[str]) -> np.ndarray:
        import torch

        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        dim = self.network.config.hidden_size
        table = np.zeros((len(unique), dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            with torch.inference_mode():
                pooled = self.pooled([unique[i] for i in idx])
            table[idx] = pooled.float().cpu().numpy()
        return table

    def pooled(self, texts: Sequence[str]):
        """The pooled (and normalised) embeddings of one batch as a tensor; gradients flow when enabled (distillation)."""
        import torch

        enc = encode_pairs(self.tokenizer, list(texts), None, self.max_length, return_tensors="pt",
                           padding=True, pad_to_multiple_of=self.pad_to_multiple_of).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = self.network(**enc, output_hidden_states=self.layers > 1)
            states = (torch.stack(out.hidden_states[-self.layers:]).mean(0) if self.layers > 1
                      else out.last_hidden_state)
        states = states.float()
        if self.pooling == "cls":
            pooled = states[:, 0]
        else:
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def save(self, out: Path) -> None:
        self.network.save_pretrained(out, safe_serialization=True)
        self.tokenizer.save_pretrained(out)


class EmbeddingCache:
    """Vectors of texts already encoded, on disk, so an ablation does not encode the corpus again."""

    def __init__(self, root: str, fingerprint: str):
        self.path = Path(root) / f"embeddings-{fingerprint}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as data:
                self.vectors = dict(zip(data["texts"].tolist(), data["vectors"]))

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        return {t: self.vectors[t] for t in texts if t in self.vectors}

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.vectors.update(zip(texts, vectors))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, texts=np.asarray(list(self.vectors), dtype=str), vectors=np.stack(list(self.vectors.values())))
        os.replace(tmp, self.path)


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.concatenate([u, v, u * v, np.abs(u - v)], axis=1)


class EmbeddingHead(StanceModel):
    kind = "embedding_head"
    # No epochs, no optimizer: only these train.* settings mean anything to this recipe.
    train_knobs = ("seed", "cells", "objective", "calibrate_on", "device", "eval_batch_size", "promote", "page_weights")

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.encoder: SentenceEncoder | None = None
        self.heads: dict[str, LinearHead] = {}
        self.gates: dict[str, LinearHead] = {}
        self.lexical: dict[str, LexicalClassifier] = {}
        self.kernel_map: RBFMap | None = None
        self._phrase_cache: dict[str, np.ndarray] = {}

    @property
    def head_kind(self) -> str:
        return str(self.cfg.get("head", "per_target"))

    @property
    def free_phrases(self) -> bool:  # type: ignore[override]
        return self.head_kind == "pair"

    def _encoder(self, source: str) -> SentenceEncoder:
        c = self.cfg
        return SentenceEncoder(source, pooling=c.get("pooling", "mean"), layers=c.get("layers", 1),
                               max_length=c.get("max_length", 128), batch_size=c.get("batch_size", 32),
                               normalize=c.get("normalize", True), cache_dir=c.get("embedding_cache"),
                               depth=c.get("depth"), pad_to_multiple_of=c.get("pad_to_multiple_of"))

    @property
    def kernel(self) -> str:
        kernel = self.cfg.get("kernel") or "linear"
        if kernel not in ("linear", "rbf"):
            raise ValueError(f"model.kernel must be linear or rbf, not {kernel!r}")
        if kernel == "rbf" and self.head_kind != "per_target":
            raise ValueError("model.kernel=rbf needs model.head=per_target (the pair head reads phrase vectors too)")
        return kernel

    def _features(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        u = self.encoder.encode(sentences)
        if self.head_kind == "per_target":
            return self.kernel_map.transform(u) if self.kernel_map is not None else u
        missing = [p for p in dict.fromkeys(phrases) if p not in self._phrase_cache]
        if missing:
            self._phrase_cache.update(zip(missing, self.encoder.encode(missing)))
        v = np.stack([self._phrase_cache[p] for p in phrases])
        return pair_features(u, v)

    def _fit_head(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray, seed: int,
                  C: float | None = None) -> LinearHead:
        """scikit-learn fits; a numpy ``LinearHead`` scores, so serving never imports scikit-learn."""
        from sklearn.linear_model import LogisticRegression

        class_weight = self.cfg.get("class_weight", "balanced")
        fitted = LogisticRegression(C=float(C if C is not None else self.cfg.get("C", 1.0)),
                                    class_weight=class_weight if class_weight else None, max_iter=3000,
                                    random_state=seed).fit(x, y, sample_weight=weight)
        return LinearHead.from_sklearn(fitted)

    @property
    def lexical_weight(self) -> float:
        w = float(self.cfg.get("lexical_weight") or 0.0)
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"model.lexical_weight must be between 0 and 1, not {w}")
        return w

    def _lexical_texts(self, key: str, sentences: Sequence[str], phrases: Sequence[str]) -> list[str]:
        """A per-target classifier reads the sentence; the pair head's one reads sentence and phrase words."""
        return list(sentences) if key != "*" else [pair_text(s, p) for s, p in zip(sentences, phrases)]

    def _fit_lexical(self, key: str, train: pd.DataFrame, rows: np.ndarray, y: np.ndarray, weight: np.ndarray,
                     seed: int) -> None:
        if self.lexical_weight > 0:
            rows = rows & (weight > 0)  # a zero-weight row is not there: it must not shape the vocabulary either
            texts = self._lexical_texts(key, train["sentence"][rows], train["phrase"][rows])
            self.lexical[key] = LexicalClassifier.from_config(self.cfg.get("lexical") or {}, seed=seed).fit(
                texts, y[rows], sample_weight=weight[rows])

    def _mix_lexical(self, key: str, log_probs: np.ndarray, sentences: Sequence[str],
                     phrases: Sequence[str]) -> np.ndarray:
        if key not in self.lexical:
            return log_probs
        w = self.lexical_weight
        lexical = self.lexical[key].log_proba(self._lexical_texts(key, sentences, phrases), len(self.labels))
        return np.log(np.clip((1 - w) * np.exp(log_probs) + w * np.exp(lexical), 1e-13, 1.0))

    @property
    def gated(self) -> bool:
        gate = self.cfg.get("gate") or "none"
        if gate not in ("none", "relevance"):
            raise ValueError(f"model.gate must be none or relevance, not {gate!r}")
        return gate == "relevance"

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame, ctx: FitContext) -> None:
        import time

        if self.head_kind not in ("per_target", "pair"):
            raise ValueError(f"model.head must be per_target or pair, not {self.head_kind!r}")
        _ = self.lexical_weight, self.kernel  # refuse a bad weight or kernel now, not after minutes of encoding
        student = StudentSettings.from_config(self.cfg.student) if self.cfg.get("student") else None
        primary_rows = train["primary"].to_numpy(dtype=bool) if "primary" in train.columns else np.ones(len(train), bool)
        if self.gated and (self.head_kind != "per_target" or primary_rows.all()):
            raise ValueError("model.gate=relevance needs model.head=per_target and every cell of the target matrix "
                             "(train.cells=matrix): the gate learns from the cells a sentence does not speak to")
        start = time.perf_counter()
        self.encoder = self._encoder(resolve(self.cfg.encoder)).to(ctx.device)
        seed = int(ctx.train.seed)
        distil_stats = {}
        if student is not None:
            self.encoder, losses = distil(self.encoder, train["sentence"].tolist(), student, seed)
            distil_stats = {"distill_loss_first_epoch": losses[0], "distill_loss": losses[-1]}
        self.kernel_map = None
        x = self._features(train["sentence"].tolist(), train["phrase"].tolist())
        if self.kernel == "rbf":  # the map is fitted on the training sentences' vectors, then the heads on its features
            self.kernel_map = RBFMap.fit(x, int(self.cfg.get("kernel_components", 1500)),
                                         float(self.cfg.get("kernel_gamma", 1.0)), seed)
            x = self.kernel_map.transform(x)
        y = np.asarray([self.labels.index(v) for v in train["label"]])
        # Rows that only complete the target matrix (train.cells=matrix) may count for less than first-pass rows.
        primary = train["primary"].to_numpy(dtype=bool) if "primary" in train.columns else np.ones(len(train), bool)
        page = row_weights(train)
        weight = np.where(primary, 1.0, float(self.cfg.get("matrix_weight", 1.0))) * page
        if self.head_kind == "per_target":
            seen = dict(zip(train["target"], train["phrase"]))  # the task's order first, then any new target
            self.targets = {t: seen[t] for t in [*self.targets, *seen] if t in seen}
            for target, phrase in self.targets.items():
                rows = (train["phrase"] == phrase).to_numpy()
                if self.gated:  # stance from the sentences that speak to the target; relevance from every cell
                    stance = rows & primary_rows
                    self.heads[phrase] = self._fit_head(x[stance], y[stance], page[stance], seed)
                    self._fit_lexical(phrase, train, stance, y, page, seed)
                    self.gates[phrase] = self._fit_head(x[rows], primary_rows[rows].astype(int), page[rows], seed,
                                                        self.cfg.get("gate_C", 1.0))
                    continue
                self.heads[phrase] = self._fit_head(x[rows], y[rows], weight[rows], seed)
                self._fit_lexical(phrase, train, rows, y, weight, seed)
        else:
            self.heads["*"] = self._fit_head(x, y, weight, seed)
            self._fit_lexical("*", train, np.ones(len(train), bool), y, weight, seed)
        elapsed = time.perf_counter() - start
        # One pass, no epochs: the run scores validation once afterwards (best_val_* metrics).
        self.train_stats = {"train_runtime": elapsed, "train_samples_per_second": len(train) / max(elapsed, 1e-9),
                            **distil_stats}

    def networks(self) -> list:
        return [self.encoder.network] if self.encoder is not None else []

    def to(self, device: str) -> "EmbeddingHead":
        if self.encoder is not None:
            self.encoder.to(device)
        return self

    @property
    def autocast(self) -> bool:
        return bool(self.encoder is not None and self.encoder.autocast)

    @autocast.setter
    def autocast(self, on: bool) -> None:
        self.encoder.autocast = bool(on)

    def logits(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        self.check_phrases(phrases)
        x = self._features(sentences, phrases)
        out = np.full((len(sentences), len(self.labels)), -30.0)
        if self.head_kind == "pair":
            head = self.heads["*"]
            out[:, head.classes_] = head.predict_log_proba(x)
            return self._mix_lexical("*", out, sentences, phrases)
        sentences, phrases = np.asarray(sentences, dtype=object), np.asarray(phrases, dtype=object)
        for phrase, head in self.heads.items():
            rows = phrases == phrase
            if rows.any():
                out[np.ix_(rows, head.classes_)] = head.predict_log_proba(x[rows])
                out[rows] = self._mix_lexical(phrase, out[rows], sentences[rows], phrases[rows])
                if phrase in self.gates:
                    out[rows] = self._gate(out[rows], self.gates[phrase].predict_proba(x[rows])[:, 1])
        return out

    def _gate(self, log_probs: np.ndarray, relevant: np.ndarray) -> np.ndarray:
        """Where the gate says the sentence is off-target, mix toward neutral (then neutral always wins)."""
        threshold = float(self.cfg.get("gate_threshold", 0.5))
        probs = np.exp(log_probs)
        neutral = np.zeros_like(probs)
        neutral[:, self.labels.index(self.task.neutral or self.labels[-1])] = 1.0
        off = relevant < threshold
        probs[off] = relevant[off, None] * probs[off] + (1 - relevant[off, None]) * neutral[off]
        return np.log(np.clip(probs, 1e-13, 1.0))

    def _save_weights(self, out: Path) -> None:
        from safetensors.numpy import save_file

        encoder_dir = out / ENCODER_DIR
        if encoder_dir.exists():
            shutil.rmtree(encoder_dir)
        self.encoder.save(encoder_dir)
        tensors, index = {}, []
        for i, (phrase, head) in enumerate(self.heads.items()):
            # sklearn's coef_ can be a strided view; safetensors writes the raw buffer, so make it contiguous
            tensors[f"coef_{i}"] = np.ascontiguousarray(head.coef_, dtype=np.float32)
            tensors[f"intercept_{i}"] = np.ascontiguousarray(head.intercept_, dtype=np.float32)
            entry = {"phrase": phrase, "classes": head.classes_.tolist()}
            if phrase in self.gates:
                tensors[f"gate_coef_{i}"] = np.ascontiguousarray(self.gates[phrase].coef_, dtype=np.float32)
                tensors[f"gate_intercept_{i}"] = np.ascontiguousarray(self.gates[phrase].intercept_, dtype=np.float32)
                entry["gate"] = True
            index.append(entry)
        if self.kernel_map is not None:
            tensors["kernel_centers"] = np.ascontiguousarray(self.kernel_map.centers)
            tensors["kernel_normalization"] = np.ascontiguousarray(self.kernel_map.normalization)
        save_file(tensors, str(out / HEAD_FILE))
        if self.lexical:
            (out / LEXICAL_FILE).write_text(json.dumps({k: c.to_dict() for k, c in self.lexical.items()}),
                                            encoding="utf-8")
        settings = {k: self.cfg.get(k) for k in ("head", "pooling", "layers", "max_length", "batch_size", "normalize",
                                                 "gate", "gate_threshold", "lexical_weight", "kernel", "kernel_gamma")}
        (out / HEAD_META).write_text(json.dumps({"settings": settings, "heads": index}, indent=2) + "\n",
                                     encoding="utf-8")

    @classmethod
    def _load_weights(cls, model_dir: Path, meta: dict) -> "EmbeddingHead":
        from safetensors.numpy import load_file

        spec = json.loads((model_dir / HEAD_META).read_text(encoding="utf-8"))
        model = cls(spec["settings"])
        model.encoder = model._encoder(str(model_dir / ENCODER_DIR))
        tensors = load_file(str(model_dir / HEAD_FILE))
        if "kernel_centers" in tensors:
            model.kernel_map = RBFMap(tensors["kernel_centers"], tensors["kernel_normalization"],
                                      float(spec["settings"]["kernel_gamma"]))
        for i, entry in enumerate(spec["heads"]):
            model.heads[entry["phrase"]] = LinearHead(entry["classes"], tensors[f"coef_{i}"],
                                                      tensors[f"intercept_{i}"])
            if entry.get("gate"):
                model.gates[entry["phrase"]] = LinearHead([0, 1], tensors[f"gate_coef_{i}"],
                                                          tensors[f"gate_intercept_{i}"])
        if (model_dir / LEXICAL_FILE).is_file():
            lexical = json.loads((model_dir / LEXICAL_FILE).read_text(encoding="utf-8"))
            model.lexical = {k: LexicalClassifier.from_dict(v) for k, v in lexical.items()}
        return model
