"""The embedded default dataset of a bundle: a synthetic dataset generated once into a cache folder.

Bundles call :func:`synthetic_dataset_dir` when no ``dataset_dir`` is given. Generation writes into a
temporary folder that is renamed when complete, under an exclusive file lock, so that processes started
together (``torchrun``) generate it once and a crash never leaves a half-written dataset behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path

__all__ = ["CACHE_ENV", "default_cache_dir", "synthetic_dataset_dir"]

logger = logging.getLogger(__name__)

CACHE_ENV = "WEAKLOC_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$WEAKLOC_CACHE_DIR``, else ``$XDG_CACHE_HOME/monai_weakloc``, else ``~/.cache/monai_weakloc``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "monai_weakloc"


def synthetic_dataset_dir(
    layout: str,
    cache_dir: str | Path | None = None,
    num_images: int = 40,
    image_size: int = 256,
    seed: int = 0,
) -> str:
    """Path of the synthetic dataset for these arguments, generating it first if it is not cached.

    Args:
        layout: a layout of :data:`monai_weakloc.data.synthetic.SYNTH_LAYOUTS`.
        cache_dir: the cache root (default :func:`default_cache_dir`).
        num_images: images to generate.
        image_size: nominal image size in pixels.
        seed: generator seed.

    Returns:
        the dataset folder, in the layout's official structure.
    """
    from monai_weakloc.data.synthetic import synthesize

    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    target = root / f"{layout}_n{num_images}_px{image_size}_seed{seed}"
    if target.is_dir():
        return str(target)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            partial = root / f".{target.name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            logger.info("generating the synthetic %s dataset into %s", layout, target)
            synthesize(layout, partial, num_images=num_images, seed=seed, image_size=image_size)
            os.replace(partial, target)
    return str(target)
