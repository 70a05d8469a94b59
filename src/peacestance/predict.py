"""Predict stance for sentences and pages: the Python API and the peacestance-predict CLI.

Inputs are sorted by length, batched, run under ``torch.inference_mode()`` and
returned in the caller's order; inputs stream through in chunks, so 100,000
sentences never hold all their tensors at once.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from peacestance.models.base import (META_FILE, ModelFolderError, batched_scores, check_manifest, check_phrases,
                                     empty_scores, read_meta)
from peacestance.runtime import (PRECISIONS, check_bf16, has_native_bf16, input_embeddings_to_bf16,
                                 linear_weights_to_bf16, pick_device)
from peacestance.schema import target_phrase
from peacestance.task import TaskSpec

DEFAULT_MODEL_DIR = Path("models/peacestance")
MAX_CHARS = 2000  # longer texts are cut before tokenising; max_length would cut them anyway
STREAM_CHUNK = 4096
MAX_PHRASE_WORDS = 32  # a target phrase longer than this would crowd the sentence out of the model's input


@dataclass(frozen=True)
class Prediction:
    """The stance of one text toward one target: a label and a probability per label (summing to 1)."""

    label: str
    scores: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def clean_input(text: object, index: int) -> str:
    """Validate one input; control characters go, whitespace folds, very long texts are cut."""
    if not isinstance(text, str):
        raise TypeError(f"input {index} is {type(text).__name__}, not str")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text[: MAX_CHARS * 2])
    return " ".join(text.split())[:MAX_CHARS]


class Predictor:
    """A loaded model plus the batching that makes it fast and order-preserving."""

    def __init__(self, model_dir: str | Path, batch_size: int = 64, device: str = "auto", threads: int | None = None,
                 precision: str = "auto", backend: str = "torch"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be torch or onnx, not {backend!r}")
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        self.model_dir = Path(model_dir)
        meta = read_meta(model_dir)
        if backend == "onnx":
            check_manifest(self.model_dir, meta)  # the torch path checks it in models.load
        self.kind = meta.get("kind", "transformer")
        self.batch_size = int(batch_size)
        self.device = pick_device(device)
        if precision == "bf16":
            check_bf16(self.device)
        if backend == "onnx":
            from peacestance.onnx_backend import OnnxScorer

            if self.kind != "transformer":
                raise ValueError(f"backend=onnx serves cross-encoder models; this one is {self.kind!r}: use backend=torch")
            if self.device != "cpu":
                raise ValueError("backend=onnx runs on the CPU here; use backend=torch on a GPU")
            precision = "fp32" if precision == "auto" else precision
            self._scorer = OnnxScorer(model_dir, precision, threads)
        else:
            if precision == "int8":
                raise ValueError("precision=int8 needs backend=onnx (ONNX Runtime's dynamic quantization); "
                                 "torch's own int8 path (torch.ao.quantization) is deprecated")
            from peacestance import models

            self._scorer = models.load(model_dir).to(self.device)
            if precision == "auto":
                precision = "bf16" if hasattr(self._scorer, "autocast") and has_native_bf16(self.device) else "fp32"
            if precision == "bf16":
                if not hasattr(self._scorer, "autocast"):
                    raise ValueError(f"precision=bf16 applies to transformer models; this one is {self.kind!r}: use fp32")
                self._scorer.autocast = True
                for network in self._scorer.networks():  # same numbers, half the weights' memory, no cast cache
                    linear_weights_to_bf16(network)
                    input_embeddings_to_bf16(network)  # 45 MB less for mpnet; rows rounded to bf16
        #: what runs: ``auto`` is bf16 where the hardware computes it natively (99.7-99.9% label agreement
        #: with fp32, 2-3x faster on the CPU), else fp32; evaluation pins fp32 so reports match across machines
        self.precision = precision
        self.meta = meta
        #: the task the model was trained on: its labels, targets and phrases come from its folder
        self.task: TaskSpec = TaskSpec.from_meta(meta, where=str(self.model_dir / META_FILE))
        self.targets: dict[str, str] = dict(self.task.targets)
        self.labels: tuple[str, ...] = tuple(self.task.labels)
        self._check_forward()

    def _check_forward(self) -> None:
        """One probe pair through the loaded weights: NaN or infinite scores mean a corrupt model, said at load."""
        probe = self.score_pairs(["A ceasefire was discussed at the meeting."], [next(iter(self.targets.values()))])
        if not np.isfinite(probe).all():
            raise ModelFolderError(f"{self.model_dir}: the loaded weights give non-finite scores on a probe sentence; "
                                   "a weight file is corrupt (retrain, or copy the folder again)")

    @property
    def empty_prediction(self) -> Prediction:
        """The documented answer for a text with no words: the task's neutral label, with certainty."""
        row = empty_scores(self.labels, self.task.neutral)
        return Prediction(self.labels[int(row.argmax())], {k: float(v) for k, v in zip(self.labels, row)})

    def _phrases(self, target: str | Sequence[str] | None, n: int) -> list[str]:
        """Target ids -> the phrases this model was trained with (its own peacestance.json, not a constant)."""
        if target is None:
            target = self.task.first_target
        if isinstance(target, str):
            phrases = [target_phrase(target, self.targets)] * n
        else:
            targets = list(target)
            if len(targets) != n:
                raise ValueError(f"got {len(targets)} targets for {n} texts; pass one target or one per text")
            phrases = [target_phrase(t, self.targets) for t in targets]
        long = next((p for p in phrases if len(p.split()) > MAX_PHRASE_WORDS), None)
        if long is not None:
            raise ValueError(f"a target phrase of {len(long.split())} words is too long (at most {MAX_PHRASE_WORDS}: the "
                             f"model reads {self.meta.get('max_length', 128)} tokens of sentence and phrase together); "
                             f"it starts {' '.join(long.split()[:6])!r}")
        check_phrases(phrases, self.targets, bool(self.meta.get("free_phrases", True)), self.kind)
        return phrases

    def score_pairs(self, sentences: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
        """Probabilities (n, labels) for already-clean pairs, in input order; empty texts get ``empty_prediction``."""
        return batched_scores(self._scorer, sentences, phrases, self.batch_size)

    def predict(self, texts: str | Sequence[str], target: str | Sequence[str] | None = None) -> Prediction | list[Prediction]:
        """One Prediction for a string, a list in the caller's order for a list of strings.

        ``target``: one target id or free phrase for all texts, one per text, or None for the
        model's default target.
        """
        single = isinstance(texts, str)
        items = [texts] if single else texts
        if items is None or isinstance(items, (bytes, dict)):
            raise TypeError("texts must be a string or a sequence of strings")
        results = list(self.iter_predict(items, target))
        return results[0] if single else results

    def iter_predict(self, texts: Iterable[str], target: str | Sequence[str] | None = None,
                     chunk: int = STREAM_CHUNK) -> Iterator[Prediction]:
        """Stream predictions for any number of texts, holding one chunk of tensors at a time."""
        targets = None if target is None or isinstance(target, str) else list(target)
        buffer: list[str] = []
        base = 0
        for i, text in enumerate(texts):
            buffer.append(clean_input(text, i))
            if len(buffer) == chunk:
                yield from self._predict_chunk(buffer, target if targets is None else targets[base:base + chunk])
                base += chunk
                buffer = []
        if targets is not None and base + len(buffer) != len(targets):
            raise ValueError(f"got {len(targets)} targets for {base + len(buffer)} texts; pass one target or one per text")
        if buffer:
            yield from self._predict_chunk(buffer, target if targets is None else targets[base:])

    def _predict_chunk(self, texts: list[str], target: str | Sequence[str] | None) -> Iterator[Prediction]:
        probs = self.score_pairs(texts, self._phrases(target, len(texts)))
        for row in probs:
            yield Prediction(self.labels[int(row.argmax())], {label: float(p) for label, p in zip(self.labels, row)})

    def analyze(self, page_text: str, targets: Sequence[str] | None = None, top_k: int = 3) -> dict:
        """Every target on every body sentence of one raw page, with a per-target summary."""
        from peacestance.data import split_article

        if not isinstance(page_text, str):
            raise TypeError(f"page_text is {type(page_text).__name__}, not str")
        targets = list(targets or self.targets)
        # The segmenter the training data was split with (recorded in the model folder): same sentences as in training.
        segmenter = self.meta.get("segmenter") or "syntok"
        sentences = split_article(page_text, segmenter) if page_text.strip() else []
        # One call over every (sentence, target) pair: a model that encodes a sentence once serves all targets.
        pairs = self.predict([s for s in sentences for _ in targets], [t for _ in sentences for t in targets]) if sentences else []
        rows, summary = [], {}
        for k, target in enumerate(targets):
            preds = pairs[k::len(targets)]
            counts = {label: sum(p.label == label for p in preds) for label in self.labels}
            confident = sorted(
                (i for i, p in enumerate(preds) if p.label != self.task.neutral), key=lambda i: -max(preds[i].scores.values())
            )[:top_k]
            summary[target] = {
                "counts": counts,
                "shares": {k2: (v / len(preds) if preds else 0.0) for k2, v in counts.items()},
                "most_confident": [{"sentence": sentences[i], **preds[i].to_dict()} for i in confident],
            }
            rows.extend({"index": i, "sentence": s, "target": target, **p.to_dict()}
                        for i, (s, p) in enumerate(zip(sentences, preds)))
        rows.sort(key=lambda r: (r["index"], targets.index(r["target"])))
        return {"sentences": len(sentences), "rows": rows, "summary": summary}


def resolve_source(source: str | Path | None) -> Path:
    """A model folder, runs:/<id>/model, models:/<name>/<version|@alias|latest>, or None (the default:
    models/peacestance, else the registry's champion)."""
    tried = []
    if source is None:
        if (DEFAULT_MODEL_DIR / META_FILE).is_file():
            return DEFAULT_MODEL_DIR
        tried.append(str(DEFAULT_MODEL_DIR))
        source = "models:/peacestance@champion"  # the registry's champion (see peacestance.registry)
    text = str(source)
    if text.startswith(("runs:/", "models:/")):
        return _download_mlflow_model(text, tried)
    path = Path(text)
    if (path / META_FILE).is_file():
        return path
    folder = _pyfunc_model_dir(path)  # a downloaded MLflow pyfunc folder
    if folder is not None:
        return folder
    tried.append(text)
    raise FileNotFoundError(f"no peacestance model found; tried: {', '.join(tried)}")


def _download_mlflow_model(uri: str, tried: list[str]) -> Path:
    import mlflow

    from peacestance.config import compose

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(compose().tracking.uri)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; the message names the source
        tried.append(f"{uri} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
        raise FileNotFoundError(f"no peacestance model found; tried: {', '.join(tried)}") from None
    folder = _pyfunc_model_dir(local)
    if folder is None:
        tried.append(f"{uri} (not a peacestance pyfunc: no model_dir artifact)")
        raise FileNotFoundError(f"no peacestance model found; tried: {', '.join(tried)}")
    return folder


def _pyfunc_model_dir(root: Path) -> Path | None:
    """The model folder inside a logged pyfunc, as its MLmodel file names it."""
    import yaml

    mlmodel = root / "MLmodel"
    if not mlmodel.is_file():
        return None
    flavor = (yaml.safe_load(mlmodel.read_text(encoding="utf-8")).get("flavors") or {}).get("python_function") or {}
    entry = (flavor.get("artifacts") or {}).get("model_dir") or {}
    folder = root / entry.get("path", "")
    return folder if entry and (folder / META_FILE).is_file() else None


def load_predictor(source: str | Path | None = None, **kwargs) -> Predictor:
    """Load a Predictor from a folder, an MLflow run or registry URI, or the default model."""
    return Predictor(resolve_source(source), **kwargs)


_DEFAULT: Predictor | None = None


def predict(texts: str | Sequence[str], target: str | Sequence[str] | None = None) -> Prediction | list[Prediction]:
    """Module-level predict with a cached default predictor (models/peacestance, else the registry)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_predictor()
    return _DEFAULT.predict(texts, target)


# ---------------------------------------------------------------- CLI


class BadLine(ValueError):
    """One input line that cannot be scored: bad JSON, bad encoding, a target the model does not know."""


def _parse_line(raw: bytes, number: int, default_target: str, predictor: Predictor) -> tuple[str, str] | None:
    """(text, target) of one input line, None for a blank line; BadLine names what is wrong."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise BadLine(f"line {number}: not UTF-8 (byte {exc.start})") from None
    if not line.strip():
        return None
    text, target = line, default_target
    if line.lstrip().startswith("{"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadLine(f"line {number}: bad JSONL input ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise BadLine(f'line {number}: bad JSONL input (needs a string "text" field)')
        target = record.get("target", default_target)
        if not isinstance(target, str):
            raise BadLine(f'line {number}: bad JSONL input ("target" must be a string, got {json.dumps(target)})')
        text = record["text"]
    try:
        predictor._phrases(target, 1)
    except ValueError as exc:
        raise BadLine(f"line {number}: {exc}") from None
    return text, target


def _write(rows: list[dict], fmt: str, out, labels: Sequence[str], header: bool) -> None:
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        if header:
            writer.writerow(["text", "target", "label", *labels])
        for row in rows:
            writer.writerow([row["text"], row["target"], row["label"], *(f"{row['scores'][k]:.4f}" for k in labels)])
    else:
        for row in rows:
            out.write(f"{row['label']:<8} {row['scores'][row['label']]:.2f}  {row['target']:<12} {row['text'][:90]}\n")
    out.flush()


def _open_input(name: str):
    if name == "-":
        return sys.stdin.buffer
    path = Path(name)
    if path.is_dir():
        raise FileNotFoundError(f"--input {name} is a folder, not a file")
    if not path.is_file():
        raise FileNotFoundError(f"--input {name}: no such file")
    return open(path, "rb")


def _stream(args, predictor: Predictor, out) -> tuple[int, int]:
    """Score the input chunk by chunk, writing each chunk as it is done: memory stays flat. (scored, skipped)"""
    scored = skipped = 0
    chunk: list[tuple[str, str]] = []

    def flush() -> None:
        nonlocal scored
        if chunk:
            texts, targets = [t for t, _ in chunk], [g for _, g in chunk]
            preds = predictor.predict(texts, targets)
            _write([{"text": t, "target": g, **p.to_dict()} for t, g, p in zip(texts, targets, preds)], args.format, out,
                   predictor.labels, header=scored == 0)
            scored += len(chunk)
            chunk.clear()

    with _open_input(args.input) as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                item = _parse_line(raw, number, args.target, predictor)
            except BadLine as exc:
                if not args.skip_bad:
                    flush()  # what came before the bad line is not lost
                    raise
                print(f"peacestance-predict: skipped {exc}", file=sys.stderr)
                skipped += 1
                continue
            if item is not None:
                chunk.append(item)
            if len(chunk) >= args.chunk:
                flush()
        flush()
    return scored, skipped


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peacestance-predict", description="Stance of sentences toward a model's targets.")
    parser.add_argument("--model", default=None, help="model folder, runs:/<id>/model or models:/peacestance/<version|@alias|latest>")
    parser.add_argument("--target", default=None,
                        help="a target id of the model (default: its default target) or a free phrase")
    parser.add_argument("--input", default="-", help="file of lines (plain text or JSONL {text, target}); - for stdin")
    parser.add_argument("--format", choices=("jsonl", "csv", "table"), default="jsonl")
    parser.add_argument("--article", action="store_true", help="treat the input as one page and print the analysis")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip lines that cannot be scored (bad JSON, encoding or target), report each on stderr")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=1024, help="lines scored and written at a time")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto (default): bf16 where the CPU/GPU computes it natively, else fp32; "
                             "int8 with --backend onnx")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="onnx needs peacestance[onnx]")
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.chunk < 1:
        parser.error("--batch-size and --chunk must be positive integers")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # stderr carries this tool's own messages, one line each
    try:
        predictor = load_predictor(args.model, batch_size=args.batch_size, precision=args.precision, backend=args.backend)
        args.target = args.target or predictor.task.first_target
        predictor._phrases(args.target, 1)
        if args.article:
            with _open_input(args.input) as stream:
                page = stream.read().decode("utf-8", errors="replace")
            print(json.dumps(predictor.analyze(page), indent=2, ensure_ascii=False))
            return 0
        scored, skipped = _stream(args, predictor, sys.stdout)
    except BrokenPipeError:  # `| head`: the reader has gone, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BadLine as exc:
        print(f"peacestance-predict: {exc}; fix it or pass --skip-bad", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"peacestance-predict: {exc}", file=sys.stderr)
        return 2
    if skipped:
        print(f"peacestance-predict: {scored} lines scored, {skipped} skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
