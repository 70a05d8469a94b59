"""Where the Hydra configs live and how code outside a Hydra app composes them."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

# configs/ sits at the project root; the package is installed from src/ in editable mode.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = str(PROJECT_ROOT / "configs")
CONFIG_NAME = "config"


def compose(overrides: list[str] | None = None) -> DictConfig:
    """Compose the project config outside a Hydra app (tests, notebooks, evaluate)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides or []))
