"""peacestance-train: fine-tune (or fit the TF-IDF baseline), log everything to MLflow, save the model.

    peacestance-train                                  # MiniLM on data/processed, local MLflow store
    peacestance-train model=tiny train.epochs=2        # any knob from configs/
    peacestance-train -m train.lr=2e-5,5e-5            # a sweep: one parent run, a child per job
    torchrun --nproc_per_node=2 -m peacestance.train model=tiny   # data-parallel

The function returns the validation macro-F1, so Hydra sweepers can optimise it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from peacestance import tracking
from peacestance.config import CONFIG_DIR, CONFIG_NAME
from peacestance.metrics import confusion, per_target_table, report_text, stance_metrics
from peacestance.plots import plot_confusion, plot_per_target
from peacestance.schema import LABEL2ID, LABELS

log = logging.getLogger(__name__)
RUN_FILE = "mlflow_run.json"  # beside the checkpoints: which MLflow run a resume continues


def load_splits(processed_dir: str | Path) -> dict[str, pd.DataFrame]:
    out = {}
    for split in ("train", "validation", "test"):
        path = Path(processed_dir) / f"{split}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `peacestance-prepare` (or `make prepare`) first")
        out[split] = pd.read_parquet(path, columns=["doc_id", "sentence", "target", "phrase", "label"])
    return out


def _cap(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    return df if not n or n >= len(df) else df.sample(n=n, random_state=seed).reset_index(drop=True)


def pick_precision(setting: str, device: str) -> dict[str, bool]:
    """auto: bf16 where the GPU has it, else fp16 on GPU; off on CPU (explicit bf16 is allowed there)."""
    import torch

    if setting == "off" or (setting == "auto" and device != "cuda"):
        return {"bf16": False, "fp16": False}
    if setting == "auto":
        bf16 = torch.cuda.is_bf16_supported()
        return {"bf16": bf16, "fp16": not bf16}
    if setting not in ("bf16", "fp16"):
        raise ValueError(f"train.mixed_precision must be auto, bf16, fp16 or off, not {setting!r}")
    return {"bf16": setting == "bf16", "fp16": setting == "fp16"}


def evaluation_artifacts(frame: pd.DataFrame, probs: np.ndarray, out_dir: Path, prefix: str = "test") -> dict[str, float]:
    """Metrics plus the report, confusion matrix, per-target chart and predictions CSV in out_dir."""
    pred = [LABELS[i] for i in probs.argmax(axis=1)]
    gold, targets = frame["label"].tolist(), frame["target"].tolist()
    metrics = stance_metrics(gold, pred, targets)
    table = per_target_table(gold, pred, targets)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion(confusion(gold, pred), out_dir / "confusion_matrix.png")
    plot_per_target(table, out_dir / "per_target_f1.png")
    pd.DataFrame(table).to_csv(out_dir / "per_target.csv", index=False)
    (out_dir / "classification_report.txt").write_text(report_text(gold, pred), encoding="utf-8")
    preds = frame[["doc_id", "sentence", "target", "label"]].rename(columns={"label": "gold"}).assign(pred=pred)
    for i, label in enumerate(LABELS):
        preds[f"p_{label}"] = probs[:, i].round(5)
    preds.to_csv(out_dir / f"{prefix}_predictions.csv", index=False)
    return metrics


# ---------------------------------------------------------------- transformer


def _tokenize(frame: pd.DataFrame, tokenizer, max_length: int):
    from datasets import Dataset

    enc = tokenizer(frame["sentence"].tolist(), frame["phrase"].tolist(), truncation="only_first", max_length=max_length)
    data = {**enc, "labels": [LABEL2ID[y] for y in frame["label"]]}
    data["length"] = [len(ids) for ids in enc["input_ids"]]
    return Dataset.from_dict(data)


def _mlflow_callback(world_size: int):
    import mlflow
    from transformers import TrainerCallback

    class MlflowEpochLogger(TrainerCallback):
        """Per-epoch curves into the run the Hydra app opened (rank 0 only)."""

        def __init__(self):
            self.losses: list[float] = []
            self.active = True  # off for the evaluations after training, which are no epoch of their own

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not self.active or not state.is_world_process_zero or not logs:
                return
            if "loss" in logs:
                loss = float(logs["loss"]) / max(world_size, 1)
                self.losses.append(loss)
                mlflow.log_metric("train_loss_step", loss, step=state.global_step)
            if "eval_loss" in logs:
                epoch = int(round(state.epoch or 0))
                # Under DDP the Trainer reports the loss summed over ranks: divide it back.
                metrics = {"val_loss": float(logs["eval_loss"]) / max(world_size, 1), "val_macro_f1": logs.get("eval_macro_f1", 0.0),
                           "val_f_avg": logs.get("eval_f_avg", 0.0), "val_accuracy": logs.get("eval_accuracy", 0.0)}
                if self.losses:
                    metrics["train_loss"] = float(np.mean(self.losses))
                    self.losses = []
                mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=epoch)

    return MlflowEpochLogger()


def _trainer_class():
    import torch
    from transformers import Trainer

    class OrderedEvalTrainer(Trainer):
        """Evaluation in dataset order.

        With train_sampling_strategy="group_by_length", transformers 5.x also shuffles the
        *evaluation* sampler by length, so predictions no longer line up with the rows they
        came from (per-target metrics and the predictions CSV would be silently wrong).
        """

        def _get_eval_sampler(self, eval_dataset):
            if eval_dataset is None or self.args.world_size > 1:
                return super()._get_eval_sampler(eval_dataset)
            return torch.utils.data.SequentialSampler(eval_dataset)

    return OrderedEvalTrainer


def fit_transformer(cfg: DictConfig, splits: dict[str, pd.DataFrame], device: str, resume_from: str | None):
    """Fine-tune with the HF Trainer; returns (trainer, tokenizer, validation metrics, test probabilities)."""
    import torch
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, TrainingArguments, set_seed

    from peacestance.modeling import build_model, build_tokenizer

    set_seed(cfg.train.seed)
    tokenizer = build_tokenizer(cfg.model)
    model = build_model(cfg.model, tokenizer)
    if cfg.train.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    data = {k: _tokenize(v, tokenizer, cfg.model.max_length) for k, v in splits.items()}
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    val_targets = splits["validation"]["target"].tolist()

    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        pred = [LABELS[i] for i in np.asarray(logits).argmax(axis=1)]
        return stance_metrics([LABELS[i] for i in labels], pred, val_targets[: len(pred)])

    args = TrainingArguments(
        output_dir=str(cfg.train.checkpoint_dir),
        num_train_epochs=cfg.train.epochs,
        learning_rate=cfg.train.lr,
        per_device_train_batch_size=cfg.train.batch_size,
        per_device_eval_batch_size=cfg.train.eval_batch_size,
        weight_decay=cfg.train.weight_decay,
        warmup_steps=float(cfg.train.warmup_ratio),
        label_smoothing_factor=cfg.train.label_smoothing,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_steps=cfg.train.logging_steps,
        seed=cfg.train.seed,
        data_seed=cfg.train.seed,
        train_sampling_strategy="group_by_length" if cfg.train.group_by_length else "random",
        length_column_name="length",
        use_cpu=device == "cpu",
        ddp_backend="gloo" if (world_size > 1 and device == "cpu") else None,
        ddp_find_unused_parameters=False,
        report_to="none",
        disable_tqdm=False,
        dataloader_num_workers=0,
        save_only_model=False,
        **pick_precision(cfg.train.mixed_precision, device),
    )
    epoch_logger = _mlflow_callback(world_size)
    trainer = _trainer_class()(
        model=model, args=args, train_dataset=data["train"], eval_dataset=data["validation"],
        data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics,
        callbacks=[EarlyStoppingCallback(cfg.train.early_stopping_patience), epoch_logger],
    )
    trainer.train(resume_from_checkpoint=resume_from)
    epoch_logger.active = False
    val = trainer.evaluate()
    val_metrics = {k.removeprefix("eval_"): float(v) for k, v in val.items() if k.startswith("eval_") and isinstance(v, (int, float))}
    logits = trainer.predict(data["test"]).predictions
    probs = torch.softmax(torch.as_tensor(np.asarray(logits), dtype=torch.float32), dim=-1).numpy()
    return trainer, tokenizer, val_metrics, probs


def fit_tfidf(cfg: DictConfig, splits: dict[str, pd.DataFrame]):
    from peacestance.baseline import TfidfModel

    train = splits["train"]
    model = TfidfModel.fit(train["sentence"].tolist(), train["phrase"].tolist(), train["label"].tolist(), cfg.model, cfg.seed)
    val = splits["validation"]
    val_probs = model.scores(val["sentence"].tolist(), val["phrase"].tolist())
    val_metrics = stance_metrics(val["label"].tolist(), [LABELS[i] for i in val_probs.argmax(1)], val["target"].tolist())
    test = splits["test"]
    return model, val_metrics, model.scores(test["sentence"].tolist(), test["phrase"].tolist())


# ---------------------------------------------------------------- the run


def _run_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    try:
        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # called outside a Hydra app (tests): a temp folder
        return Path(tempfile.mkdtemp(prefix="peacestance-run-"))


def _sweep_dir() -> str | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        hc = HydraConfig.get()
    except ValueError:
        return None
    return str(Path(hc.sweep.dir).resolve()) if hc.mode == RunMode.MULTIRUN else None


def _resume_state(cfg: DictConfig) -> tuple[str | None, str | None]:
    """(checkpoint to resume from, MLflow run id to continue) when train.resume is on."""
    ckpt_dir = Path(cfg.train.checkpoint_dir)
    if not cfg.train.resume:
        if ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)  # a fresh run must not pick up another run's checkpoints
        return None, None
    checkpoints = sorted(ckpt_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    run_file = ckpt_dir / RUN_FILE
    if not checkpoints or not run_file.is_file():
        raise FileNotFoundError(f"train.resume=true but {ckpt_dir} holds no checkpoint of an earlier run; "
                                "start without train.resume")
    return str(checkpoints[-1]), json.loads(run_file.read_text())["run_id"]


def train(cfg: DictConfig) -> float:
    """The whole run; returns validation macro-F1."""
    import mlflow
    import torch

    from peacestance.predict import pick_device

    if cfg.train.threads:
        torch.set_num_threads(int(cfg.train.threads))
    device = pick_device(cfg.train.device)
    splits = load_splits(cfg.data.processed_dir)
    splits = {"train": _cap(splits["train"], cfg.train.max_train_samples, cfg.seed),
              "validation": _cap(splits["validation"], cfg.train.max_eval_samples, cfg.seed),
              "test": _cap(splits["test"], cfg.train.max_eval_samples, cfg.seed)}
    is_main = tracking.rank() == 0
    run_dir = _run_dir()
    resume_from, resume_run = (_resume_state(cfg) if cfg.model.kind == "transformer" else (None, None))

    if not is_main:  # other DDP ranks train but never touch the tracking store
        fit_transformer(cfg, splits, device, resume_from)
        return 0.0

    experiment_id = tracking.setup(cfg.tracking)  # fails fast on an unreachable server
    sweep_dir = _sweep_dir()
    parent_id = tracking.sweep_parent(experiment_id, sweep_dir) if sweep_dir else None
    tags = {"git_commit": tracking.git_commit(), "data_hash": tracking.data_hash(cfg.data.processed_dir),
            "device": device, "model": cfg.model.name}

    if parent_id:
        mlflow.start_run(run_id=parent_id)
    with mlflow.start_run(run_id=resume_run, experiment_id=experiment_id, nested=bool(parent_id), tags=tags) as run:
        if cfg.model.kind == "transformer":
            Path(cfg.train.checkpoint_dir).mkdir(parents=True, exist_ok=True)
            (Path(cfg.train.checkpoint_dir) / RUN_FILE).write_text(json.dumps({"run_id": run.info.run_id}))
        if resume_run is None:
            mlflow.log_params(tracking.flatten(cfg))
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
        mlflow.log_artifact(str(run_dir / "config.yaml"))

        meta = {"model_name": cfg.model.name, "max_length": int(cfg.model.max_length), "data_hash": tags["data_hash"],
                "mlflow_run_id": run.info.run_id}
        model_out = run_dir / "model"
        if cfg.model.kind == "tfidf":
            model, val_metrics, probs = fit_tfidf(cfg, splits)
            mlflow.log_metrics({f"val_{k}": v for k, v in val_metrics.items()}, step=0)
        else:
            trainer, tokenizer, val_metrics, probs = fit_transformer(cfg, splits, device, resume_from)
            train_time = trainer.state.log_history[-1] if trainer.state.log_history else {}
            for key in ("train_runtime", "train_samples_per_second"):
                if key in train_time:
                    mlflow.log_metric(key, float(train_time[key]))

        test_metrics = evaluation_artifacts(splits["test"], probs, run_dir / "eval")
        mlflow.log_metrics({f"test_{k}": v for k, v in test_metrics.items()})
        mlflow.log_metrics({f"best_val_{k}": v for k, v in val_metrics.items() if k in ("macro_f1", "f_avg", "accuracy")})
        mlflow.log_artifacts(str(run_dir / "eval"), artifact_path="eval")
        meta["metrics"] = {"validation": val_metrics, "test": test_metrics}

        if cfg.model.kind == "tfidf":
            model.save(model_out, meta)
        else:
            from peacestance.modeling import save_model_dir

            save_model_dir(model_out, trainer.model, tokenizer, meta)
        if cfg.tracking.log_model:
            example = {"text": splits["test"]["sentence"].head(2).tolist(), "target": splits["test"]["target"].head(2).tolist()}
            tracking.log_model(model_out, cfg.tracking, example)
        if not sweep_dir:
            _publish(model_out, Path(cfg.model_dir))
        if parent_id:
            tracking.mark_best_child(parent_id, run.info.run_id, val_metrics.get("macro_f1", 0.0), sweep_dir)
    if parent_id:
        mlflow.end_run()
    log.info("validation macro-F1 %.4f, test macro-F1 %.4f (run %s)", val_metrics.get("macro_f1", 0),
             test_metrics["macro_f1"], run.info.run_id)
    return float(val_metrics.get("macro_f1", 0.0))


def _publish(model_out: Path, model_dir: Path) -> None:
    """Replace models/peacestance with this run's model in one move."""
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = model_dir.with_name(f".{model_dir.name}-new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model_out, staging)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    os.replace(staging, model_dir)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=CONFIG_NAME)
def main(cfg: DictConfig) -> float:
    try:
        return train(cfg)
    except (tracking.TrackingError, FileNotFoundError) as exc:
        raise SystemExit(f"train failed: {exc}") from None


if __name__ == "__main__":
    main()
