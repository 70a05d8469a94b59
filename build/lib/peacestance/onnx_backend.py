"""ONNX Runtime backend: the kept, non-deprecated path to int8 on the CPU.

torch's own dynamic quantization (torch.ao.quantization) is deprecated, so int8
goes through ONNX Runtime's dynamic quantization instead. The exported files are
cached beside the model (``<model_dir>/onnx/``), or in a temp folder when the
model folder is read-only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from peacestance.encoding import encode_pairs, softmax

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _require():
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ValueError("backend=onnx needs ONNX Runtime: pip install 'peacestance[onnx]'") from exc


def _cache_dir(model_dir: Path) -> Path:
    target = model_dir / "onnx"
    try:
        target.mkdir(exist_ok=True)
        if os.access(target, os.W_OK):
            return target
    except OSError:
        pass
    digest = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"peacestance-onnx-{digest}"
    fallback.mkdir(exist_ok=True)
    return fallback


def export(model_dir: Path, precision: str) -> Path:
    """Return the path of the fp32 or int8 ONNX model, exporting (and quantising) on first use."""
    import torch

    from peacestance.models.cross_encoder import CrossEncoder

    cache = _cache_dir(model_dir)
    fp32 = cache / "model.onnx"
    weights = model_dir / "model.safetensors"
    stamp = cache / "source.sha"
    source = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else "unknown"
    if not fp32.is_file() or not stamp.is_file() or stamp.read_text() != source:
        loaded = CrossEncoder.load(model_dir)
        model, tokenizer = loaded.network, loaded.tokenizer
        model.config.return_dict = False
        sample = tokenizer(["a sentence to trace"], ["a target phrase"], return_tensors="pt")
        axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
        axes["logits"] = {0: "batch"}
        with torch.inference_mode():
            torch.onnx.export(model, tuple(sample[name] for name in INPUTS), str(fp32), input_names=list(INPUTS),
                              output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
        (cache / "model.int8.onnx").unlink(missing_ok=True)
        stamp.write_text(source)
    if precision == "fp32":
        return fp32
    int8 = cache / "model.int8.onnx"
    if not int8.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return int8


class OnnxScorer:
    """Same contract as the torch scorer: (sentences, phrases) -> probabilities (n, 3)."""

    def __init__(self, model_dir: str | Path, precision: str, threads: int | None = None):
        _require()
        if precision not in ("fp32", "int8"):
            raise ValueError(f"backend=onnx supports precision fp32 or int8, not {precision!r}")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from peacestance.models.base import read_meta

        model_dir = Path(model_dir)
        self.meta = read_meta(model_dir)
        self.max_length = int(self.meta.get("max_length", 128))
        self.temperature = float(self.meta.get("temperature", 1.0))
        self.labels = tuple(self.meta["labels"])
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(export(model_dir, precision)), options, providers=["CPUExecutionProvider"])

    def scores(self, sentences: list[str], phrases: list[str]) -> np.ndarray:
        enc = encode_pairs(self.tokenizer, sentences, phrases, self.max_length, return_tensors="np", padding=True)
        feeds = {name: enc[name].astype(np.int64) for name in INPUTS}
        return softmax(self.session.run(["logits"], feeds)[0], self.temperature)
