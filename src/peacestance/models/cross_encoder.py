"""A transformer cross-encoder fine-tuned end to end on (sentence, target phrase) pairs.

The Hugging Face Trainer does the loop (early stopping on validation macro-F1, the best
checkpoint restored, length-grouped sampling, checkpoints for resume, DDP under torchrun);
this module builds the model from config and saves/loads the plain model folder
(safetensors, tokenizer, config with id2label). Loading never unpickles or runs remote code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from peacestance.encoders import resolve
from peacestance.encoding import encode_pairs
from peacestance.models.base import FitContext, StanceModel, row_weights, weighted_cross_entropy
from peacestance.runtime import pick_precision

if TYPE_CHECKING:
    import pandas as pd


def build_tokenizer(model_cfg):
    from transformers import AutoTokenizer

    source = resolve(model_cfg.get("tokenizer") or model_cfg.get("pretrained"))
    if source is None:
        raise ValueError("model.tokenizer or model.pretrained must name a tokenizer")
    return AutoTokenizer.from_pretrained(source, trust_remote_code=False)


def build_network(model_cfg, tokenizer, labels: Sequence[str]):
    """A fresh classification head on a pretrained encoder, or a tiny BERT from model.tiny."""
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    spec = {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": {k: i for i, k in enumerate(labels)}}
    if model_cfg.get("tiny"):
        config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=max(128, model_cfg.max_length),
                            **dict(model_cfg.tiny), **spec)
        return BertForSequenceClassification(config)
    return AutoModelForSequenceClassification.from_pretrained(
        resolve(model_cfg.pretrained), trust_remote_code=False, ignore_mismatched_sizes=True, **spec)


def _dataset(frame: pd.DataFrame, tokenizer, max_length: int, labels: Sequence[str], weights: np.ndarray | None = None):
    from datasets import Dataset

    enc = encode_pairs(tokenizer, frame["sentence"].tolist(), frame["phrase"].tolist(), max_length)
    data = {**enc, "labels": [labels.index(y) for y in frame["label"]]}
    if weights is not None:  # per-row loss weights (train.page_weights)
        data["weight"] = weights.tolist()
    data["length"] = [len(ids) for ids in enc["input_ids"]]
    return Dataset.from_dict(data)


def _callbacks(ctx: FitContext):
    from transformers import TrainerCallback

    class EpochLogger(TrainerCallback):
        """Per-epoch curves and the step loss to the run's hooks (rank 0 only)."""

        def __init__(self):
            self.losses: list[float] = []
            self.active = True  # off for the evaluations after training, which are no epoch of their own

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not self.active or not state.is_world_process_zero or not logs:
                return
            world = max(ctx.world_size, 1)
            if "loss" in logs:
                loss = float(logs["loss"]) / world
                self.losses.append(loss)
                if ctx.log_step:
                    ctx.log_step(state.global_step, loss)
            if "eval_loss" in logs and ctx.log_epoch:
                # Under DDP the Trainer reports the loss summed over ranks: divide it back.
                metrics = {"val_loss": float(logs["eval_loss"]) / world, "val_macro_f1": logs.get("eval_macro_f1", 0.0),
                           "val_f_avg": logs.get("eval_f_avg", 0.0), "val_accuracy": logs.get("eval_accuracy", 0.0)}
                if self.losses:
                    metrics["train_loss"] = float(np.mean(self.losses))
                    self.losses = []
                ctx.log_epoch(int(round(state.epoch or 0)), {k: float(v) for k, v in metrics.items()})

    return EpochLogger()


def _trainer_class():
    import torch
    from transformers import Trainer

    class OrderedEvalTrainer(Trainer):
        """Evaluation in dataset order, and a training loss weighted per row when the data carries weights.

        With train_sampling_strategy="group_by_length", transformers 5.x also shuffles the
        *evaluation* sampler by length, so predictions no longer line up with the rows they
        came from (per-target metrics and the predictions CSV would be silently wrong).
        """

        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            if "weight" not in self._signature_columns:
                self._signature_columns = [*self._signature_columns, "weight"]

        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            weight = inputs.pop("weight", None)
            if weight is None or not model.training:
                return super().compute_loss(model, inputs, return_outputs=return_outputs, **kwargs)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = weighted_cross_entropy(outputs.logits, labels, weight, self.args.label_smoothing_factor)
            return (loss, outputs) if return_outputs else loss

        def _get_eval_sampler(self, eval_dataset):
            if eval_dataset is None or self.args.world_size > 1:
                return super()._get_eval_sampler(eval_dataset)
            return torch.utils.data.SequentialSampler(eval_dataset)

    return OrderedEvalTrainer


class CrossEncoder(StanceModel):
    kind = "transformer"
    resumable = True

    def __init__(self, cfg=None):
        super().__init__(cfg)
        self.network = None
        self.tokenizer = None
        self.device = "cpu"
        self.autocast = False

    @property
    def max_length(self) -> int:
        return int(self.cfg.get("max_length", 128))

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame, ctx: FitContext) -> None:
        from transformers import DataCollatorWithPadding, EarlyStoppingCallback, TrainingArguments, set_seed

        t = ctx.train
        set_seed(int(t.seed))
        self.tokenizer = build_tokenizer(self.cfg)
        self.network = build_network(self.cfg, self.tokenizer, self.labels)
        if t.freeze_embeddings:
            self.network.get_input_embeddings().weight.requires_grad_(False)
        weights = row_weights(train)
        data = {"train": _dataset(train, self.tokenizer, self.max_length, self.labels,
                                  weights if (weights != 1.0).any() else None),
                "validation": _dataset(validation, self.tokenizer, self.max_length, self.labels)}
        val_targets = validation["target"].tolist()
        labels, task = self.labels, self.task

        def compute_metrics(eval_pred):
            from peacestance.metrics import stance_metrics  # scikit-learn: training only, never when serving

            logits, gold = eval_pred
            pred = [labels[i] for i in np.asarray(logits).argmax(axis=1)]
            return stance_metrics([labels[i] for i in gold], pred, val_targets[: len(pred)], task=task)

        args = TrainingArguments(
            output_dir=str(ctx.checkpoint_dir), num_train_epochs=t.epochs, learning_rate=t.lr,
            per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=t.eval_batch_size,
            weight_decay=t.weight_decay, warmup_steps=float(t.warmup_ratio), label_smoothing_factor=t.label_smoothing,
            eval_strategy="epoch", save_strategy="epoch", save_total_limit=2, load_best_model_at_end=True,
            metric_for_best_model="macro_f1", greater_is_better=True, logging_steps=t.logging_steps,
            seed=int(t.seed), data_seed=int(t.seed),
            train_sampling_strategy="group_by_length" if t.group_by_length else "random", length_column_name="length",
            use_cpu=ctx.device == "cpu", ddp_backend="gloo" if (ctx.world_size > 1 and ctx.device == "cpu") else None,
            ddp_find_unused_parameters=False, report_to="none", disable_tqdm=False, dataloader_num_workers=0,
            save_only_model=False, **pick_precision(t.mixed_precision, ctx.device),
        )
        logger = _callbacks(ctx)
        trainer = _trainer_class()(
            model=self.network, args=args, train_dataset=data["train"], eval_dataset=data["validation"],
            data_collator=DataCollatorWithPadding(self.tokenizer), compute_metrics=compute_metrics,
            callbacks=[EarlyStoppingCallback(t.early_stopping_patience), logger],
        )
        trainer.train(resume_from_checkpoint=ctx.resume_from)
        logger.active = False
        history = trainer.state.log_history[-1] if trainer.state.log_history else {}
        self.train_stats = {k: float(history[k]) for k in ("train_runtime", "train_samples_per_second") if k in history}
        # Mixed precision wraps the model's forward in autocast; unwrap it, so that the run scores test and the
        # benchmark in fp32, as evaluate and serving do after loading the saved weights.
        self.network = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
        self.to(ctx.device)

    def networks(self) -> list:
        return [self.network] if self.network is not None else []

    def to(self, device: str) -> "CrossEncoder":
        import torch

        self.device = device
        self.network.to(torch.device(device))
        self.network.eval()
        return self

    def logits(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        import torch

        enc = encode_pairs(self.tokenizer, sentences, phrases, self.max_length, return_tensors="pt", padding=True)
        enc = enc.to(self.device)
        with torch.inference_mode(), torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16,
                                                    enabled=self.autocast):
            out = self.network(**enc).logits
        return out.float().cpu().numpy()

    def _save_weights(self, out: Path) -> None:
        self.network.save_pretrained(out, safe_serialization=True)
        self.tokenizer.save_pretrained(out)

    @classmethod
    def _load_weights(cls, model_dir: Path, meta: dict) -> "CrossEncoder":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = cls({"max_length": int(meta.get("max_length", 128))})
        model.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        model.network = AutoModelForSequenceClassification.from_pretrained(model_dir, trust_remote_code=False,
                                                                           use_safetensors=True)
        model.network.eval()
        return model
