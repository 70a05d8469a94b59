"""The model's lifecycle: every run is a registered version; the ``champion`` alias only moves to a better one.

A run *stands* on its objective (macro-F1 on blind-dev by default, see ``train.objective``)
measured on some evaluation data, named by a hash. A new model replaces the champion only
when it scores higher on the *same* data: a smoke run on synthetic data, or a run scored on
an older benchmark, is never compared with (and never replaces) the model users get.
``train.promote=always|if_better|never`` decides; ``models/peacestance`` and
``load_predictor()``'s default follow the champion.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

CHAMPION = "champion"
POLICIES = ("always", "if_better", "never")


@dataclass(frozen=True)
class Standing:
    """How good a model is, and on what: comparable only with a Standing of the same objective and data."""

    objective: str
    value: float
    eval_hash: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Standing | None:
        try:
            return cls(str(data["objective"]), float(data["value"]), str(data["eval_hash"]))
        except (KeyError, TypeError, ValueError):
            return None


def decide(policy: str, new: Standing, current: Standing | None) -> tuple[bool, str]:
    """(promote?, why) for a new model against the current champion."""
    if policy not in POLICIES:
        raise ValueError(f"train.promote must be one of {', '.join(POLICIES)}, not {policy!r}")
    if policy == "always":
        return True, "train.promote=always"
    if policy == "never":
        return False, "train.promote=never"
    if current is None:
        return True, "there was no champion"
    if (current.objective, current.eval_hash) != (new.objective, new.eval_hash):
        return False, (f"the champion was scored on other data ({current.objective} {current.eval_hash}, this run "
                       f"{new.objective} {new.eval_hash}); not comparable, so kept (train.promote=always replaces it)")
    if new.value > current.value:
        return True, f"{new.objective} macro-F1 {new.value:.4f} beats the champion's {current.value:.4f}"
    return False, f"{new.objective} macro-F1 {new.value:.4f} does not beat the champion's {current.value:.4f}"


def folder_standing(model_dir: str | Path) -> Standing | None:
    """The standing a published model folder records (None when there is none, or it predates standings)."""
    meta = Path(model_dir) / "peacestance.json"
    if not meta.is_file():
        return None
    try:
        return Standing.from_dict(json.loads(meta.read_text(encoding="utf-8")).get("standing"))
    except (json.JSONDecodeError, AttributeError):
        return None


def champion(client, name: str) -> tuple[str, Standing | None] | None:
    """(version, standing) of the registered champion, or None when no version holds the alias."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    tags = version.tags
    return version.version, Standing.from_dict({"objective": tags.get("objective"), "value": tags.get("objective_value"),
                                                "eval_hash": tags.get("eval_hash")})


def describe_version(client, name: str, version: str, standing: Standing, description: str,
                     tags: dict[str, str]) -> None:
    """A version says which model it is and how good: a description plus tags the registry page lists."""
    client.update_model_version(name, version, description=description)
    for key, value in {**tags, "objective": standing.objective, "objective_value": f"{standing.value:.6f}",
                       "eval_hash": standing.eval_hash}.items():
        client.set_model_version_tag(name, version, key, str(value))


def crown(client, name: str, version: str, why: str) -> None:
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "promoted_because", why)


def publish(model_out: Path, model_dir: Path) -> None:
    """Replace the served folder (models/peacestance) with a model folder in one move."""
    import os
    import shutil

    model_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = model_dir.with_name(f".{model_dir.name}-new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model_out, staging)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    os.replace(staging, model_dir)


def promote(cfg, model_out: Path, version: str | None, standing: Standing, description: str,
            tags: dict[str, str]) -> tuple[bool, str]:
    """Describe the new version, decide whether it becomes the champion, and make the served folder follow.

    With a registry (``tracking.log_model`` and ``tracking.registered_model``) the champion is the
    version holding the alias; without one it is whatever ``model_dir`` holds. A lock keeps parallel
    sweep jobs from crowning two versions at once.
    """
    from mlflow.tracking import MlflowClient

    from peacestance.tracking import locked

    model_dir = Path(cfg.model_dir)
    name = cfg.tracking.get("registered_model") if version is not None else None
    with locked(model_dir.parent / f".{model_dir.name}.promote.lock"):
        client = MlflowClient() if name else None
        if client is not None:
            describe_version(client, name, version, standing, description, tags)
            held = champion(client, name)
            current = held[1] if held else None
        else:
            current = folder_standing(model_dir)
        promoted, why = decide(str(cfg.train.get("promote", "if_better")), standing, current)
        if promoted:
            if client is not None:
                crown(client, name, version, why)
            publish(model_out, model_dir)
        elif client is not None and held and not (model_dir / "peacestance.json").is_file():
            publish(_download_version(name, held[0]), model_dir)  # the served folder follows the champion
    return promoted, why


def _download_version(name: str, version: str) -> Path:
    from peacestance.predict import resolve_source

    return resolve_source(f"models:/{name}/{version}")
