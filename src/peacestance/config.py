"""Where the Hydra configs live and how code outside a Hydra app composes them."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from peacestance.config_schema import register as register_schemas

# The configs ship inside the package (a wheel installed anywhere finds them); the repository's
# top-level configs/ is a link to this folder. A user adds their own with Hydra's --config-dir.
CONFIG_DIR = str(Path(__file__).resolve().parent / "configs")
# The checkout, when running from one (git commit of a run, tests); meaningless for a wheel install.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_NAME = "config"

register_schemas()


def compose(overrides: list[str] | None = None) -> DictConfig:
    """Compose the project config outside a Hydra app (tests, notebooks, evaluate)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides or []))
