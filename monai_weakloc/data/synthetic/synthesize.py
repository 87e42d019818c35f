"""One entry point for every synthetic layout: ``synthesize(layout, out_dir, ...)``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from monai_weakloc.data.synthetic.cbis_ddsm import synthesize_cbis_ddsm
from monai_weakloc.data.synthetic.chestxray14 import synthesize_chestxray14
from monai_weakloc.data.synthetic.eyepacs import synthesize_eyepacs
from monai_weakloc.data.synthetic.idrid import synthesize_idrid
from monai_weakloc.data.synthetic.messidor import synthesize_messidor
from monai_weakloc.data.synthetic.mias import synthesize_mias
from monai_weakloc.data.synthetic.tb_cxr import synthesize_tb_cxr

__all__ = ["SYNTH_LAYOUTS", "synthesize"]

SYNTH_LAYOUTS: Mapping[str, Callable[..., Path]] = MappingProxyType(
    {
        "eyepacs": synthesize_eyepacs,
        "messidor": synthesize_messidor,
        "idrid": synthesize_idrid,
        "chestxray14": synthesize_chestxray14,
        "tb_cxr": synthesize_tb_cxr,
        "mias": synthesize_mias,
        "cbis_ddsm": synthesize_cbis_ddsm,
    }
)
"""Layout name -> generator ``f(out_dir, *, num_images, seed, image_size) -> Path`` (read-only)."""


def synthesize(layout: str, out_dir: str | Path, *, num_images: int = 40, seed: int = 0, image_size: int = 256) -> Path:
    """Write a synthetic dataset in the official layout ``layout`` into ``out_dir``.

    Args:
        layout: one of ``SYNTH_LAYOUTS``: ``eyepacs``, ``messidor``, ``idrid``, ``chestxray14``, ``tb_cxr``,
            ``mias``, ``cbis_ddsm``.
        out_dir: new or empty directory to write into (created if missing).
        num_images: number of images (EyePACS rounds up to an even number; IDRiD writes this many in
            each of its two parts; CBIS-DDSM counts full mammograms, two views per case).
        seed: seed of ``numpy.random.default_rng``; the same arguments give byte-identical files.
        image_size: nominal image size in pixels (fundus widths vary around it; X-rays and mammograms
            are this wide).

    Returns:
        ``out_dir`` as a ``Path``: the dataset root to hand to a reader.

    Raises:
        ValueError: unknown layout (with close matches), bad argument values, or ``out_dir`` not empty.
        TypeError: an argument of the wrong type.
    """
    if layout not in SYNTH_LAYOUTS:
        close = difflib.get_close_matches(str(layout), list(SYNTH_LAYOUTS), n=2)
        hint = f"; did you mean {' or '.join(repr(name) for name in close)}?" if close else ""
        raise ValueError(f"unknown synthetic layout {layout!r}, expected one of {tuple(SYNTH_LAYOUTS)}{hint}")
    return SYNTH_LAYOUTS[layout](out_dir, num_images=num_images, seed=seed, image_size=image_size)
