"""Partial fine-tuning on cached states: train the top layers of a cross-encoder, run the rest once.

The lower ``L - k`` layers stay frozen, so what they compute for a (sentence, phrase) pair
never changes: it is computed once, kept in memory (fp16), and every epoch runs only the
top ``k`` layers and the head, forward and backward. On 2 CPU cores this makes all-mpnet-base-v2
trainable in minutes. The result is an ordinary cross-encoder folder (kind ``transformer``),
so serving, ONNX export and evaluation treat it like any fine-tuned model.

How the cache is fed in without touching model code: during training the encoder's layer list
is cut to its top ``k`` layers and a forward hook makes the embedding module return the cached
states of the batch. Works for BERT-like and MPNet encoders (``base_model.embeddings`` and
``base_model.encoder.layer``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from peacestance.encoding import encode_pairs
from peacestance.models.base import FitContext, linear_warmup_schedule, row_weights, weighted_cross_entropy
from peacestance.models.cross_encoder import CrossEncoder, build_network, build_tokenizer

if TYPE_CHECKING:
    import pandas as pd


def _layers(network):
    base = network.base_model
    if not hasattr(base, "embeddings") or not hasattr(getattr(base, "encoder", None), "layer"):
        raise ValueError(f"partial fine-tuning needs an encoder with embeddings and encoder.layer; "
                         f"{type(base).__name__} has not")
    return base, base.encoder.layer


class PartialFineTune(CrossEncoder):
    """A CrossEncoder whose fit trains only the top ``model.train_layers`` layers (plus the head)."""

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame, ctx: FitContext) -> None:
        import torch

        t = ctx.train
        torch.manual_seed(int(t.seed))
        start = time.perf_counter()
        if self.network is None:  # a network set beforehand is a warm start
            self.tokenizer = build_tokenizer(self.cfg)
            self.network = build_network(self.cfg, self.tokenizer, self.labels)
        base, layers = _layers(self.network)
        k = int(self.cfg.get("train_layers", 4))
        if not 1 <= k <= len(layers):
            raise ValueError(f"model.train_layers must be between 1 and {len(layers)}, not {k}")
        top = torch.nn.ModuleList(layers[len(layers) - k:])
        for p in self.network.parameters():
            p.requires_grad_(False)
        trainable = [*top.parameters(), *self._head_parameters()]
        for p in trainable:
            p.requires_grad_(True)

        train_cache = self._cache(train, layers, len(layers) - k, int(t.eval_batch_size))
        val_cache = self._cache(validation, layers, len(layers) - k, int(t.eval_batch_size))
        y_train = torch.as_tensor([self.labels.index(v) for v in train["label"]])
        w_train = torch.as_tensor(row_weights(train), dtype=torch.float32)
        cache_time = time.perf_counter() - start

        base.encoder.layer = top
        fed: dict[str, torch.Tensor] = {}
        hook = base.embeddings.register_forward_hook(lambda module, args, output: fed["states"])
        try:
            opt = torch.optim.AdamW(trainable, lr=float(t.lr), weight_decay=float(t.weight_decay))
            batch = int(t.batch_size)
            steps_per_epoch = math.ceil(len(train) / batch)
            total = steps_per_epoch * int(t.epochs)
            warmup = int(float(t.warmup_ratio) * total)
            sched = linear_warmup_schedule(opt, total, warmup)
            rng = np.random.default_rng(int(t.seed))
            best, best_state, patience, step = -1.0, None, 0, 0
            for epoch in range(1, int(t.epochs) + 1):
                self.network.train()
                losses = []
                for idx in self._batches(train_cache, batch, rng):
                    fed["states"], mask = self._pad(train_cache, idx)
                    out = self.network(input_ids=torch.zeros(mask.shape, dtype=torch.long), attention_mask=mask,
                                       labels=y_train[idx])
                    loss = weighted_cross_entropy(out.logits, y_train[idx], w_train[idx], t.label_smoothing)
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                    opt.step()
                    sched.step()
                    step += 1
                    losses.append(loss.item())
                    if ctx.log_step and step % int(t.logging_steps) == 0:
                        ctx.log_step(step, float(np.mean(losses[-int(t.logging_steps):])))
                val = self._evaluate(val_cache, validation, fed, int(t.eval_batch_size))
                if ctx.log_epoch:
                    ctx.log_epoch(epoch, {"train_loss": float(np.mean(losses)), "val_macro_f1": val["macro_f1"],
                                          "val_f_avg": val["f_avg"], "val_accuracy": val["accuracy"]})
                if val["macro_f1"] > best:
                    best, patience = val["macro_f1"], 0
                    # by object, not by name: while the layer list is cut, names are renumbered
                    best_state = [p.detach().clone() for p in trainable]
                else:
                    patience += 1
                    if patience >= int(t.early_stopping_patience):
                        break
        finally:
            hook.remove()
            base.encoder.layer = layers
        if best_state is not None:
            with torch.no_grad():
                for p, best_value in zip(trainable, best_state):
                    p.copy_(best_value)
        elapsed = time.perf_counter() - start
        self.train_stats = {"train_runtime": elapsed, "cache_seconds": cache_time,
                            "train_samples_per_second": len(train) * epoch / max(elapsed - cache_time, 1e-9)}
        self.to(ctx.device)

    def _head_parameters(self):
        """Everything outside the base model (the classification head), plus the base model's pooler if any."""
        prefix = self.network.base_model_prefix + "."
        head = [p for n, p in self.network.named_parameters() if not n.startswith(prefix)]
        pooler = getattr(self.network.base_model, "pooler", None)
        return head + (list(pooler.parameters()) if pooler is not None else [])

    def _cache(self, frame: pd.DataFrame, layers, cut: int, batch: int) -> list:
        """Hidden states entering layer ``cut`` for every pair, unpadded, fp16."""
        import torch

        base, _ = _layers(self.network)
        enc = encode_pairs(self.tokenizer, frame["sentence"].tolist(), frame["phrase"].tolist(), self.max_length)
        ids = enc["input_ids"]
        states: list = [None] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        base.encoder.layer = torch.nn.ModuleList(layers[:cut])
        self.network.eval()
        try:
            with torch.inference_mode():
                for s in range(0, len(order), batch):
                    idx = order[s:s + batch]
                    padded = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
                    hidden = base(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"]).last_hidden_state
                    for j, i in enumerate(idx):
                        states[i] = hidden[j, :len(ids[i])].to(torch.float16).clone()
        finally:
            base.encoder.layer = layers
        return states

    @staticmethod
    def _batches(cache: Sequence, batch: int, rng) -> list[list[int]]:
        """Length-grouped, shuffled batches: little padding, random order."""
        order = rng.permutation(len(cache)).tolist()
        chunks = [sorted(order[i:i + batch * 8], key=lambda j: cache[j].shape[0]) for i in range(0, len(order), batch * 8)]
        batches = [c[i:i + batch] for c in chunks for i in range(0, len(c), batch)]
        return [batches[i] for i in rng.permutation(len(batches))]

    @staticmethod
    def _pad(cache: Sequence, idx: list[int]):
        import torch

        longest = max(cache[i].shape[0] for i in idx)
        states = torch.zeros(len(idx), longest, cache[idx[0]].shape[1])
        mask = torch.zeros(len(idx), longest, dtype=torch.long)
        for j, i in enumerate(idx):
            n = cache[i].shape[0]
            states[j, :n] = cache[i].float()
            mask[j, :n] = 1
        return states, mask

    def _evaluate(self, cache: Sequence, frame: pd.DataFrame, fed: dict, batch: int) -> dict[str, float]:
        import torch

        self.network.eval()
        order = sorted(range(len(cache)), key=lambda i: cache[i].shape[0])
        pred = np.zeros(len(cache), dtype=int)
        with torch.inference_mode():
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                fed["states"], mask = self._pad(cache, idx)
                logits = self.network(input_ids=torch.zeros(mask.shape, dtype=torch.long), attention_mask=mask).logits
                pred[idx] = logits.argmax(-1).numpy()
        from peacestance.metrics import stance_metrics  # scikit-learn: training only, never when serving

        return stance_metrics(frame["label"].tolist(), [self.labels[i] for i in pred], task=self.task)
