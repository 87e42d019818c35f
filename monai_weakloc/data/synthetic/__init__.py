"""Synthetic datasets written in the official layouts of the public datasets.

Each generator draws images with numpy (no downloads, no weights), plants lesions whose placement it
knows, and writes image files and label tables exactly as the real distribution lays them out, so that
the dataset readers read them like the real thing. Everything is deterministic: the same arguments give
byte-identical files.

Example::

    from monai_weakloc.data.synthetic import synthesize

    root = synthesize("eyepacs", "data/eyepacs", num_images=40, seed=0, image_size=128)
"""

from __future__ import annotations

from monai_weakloc.data.synthetic.cbis_ddsm import synthesize_cbis_ddsm
from monai_weakloc.data.synthetic.chestxray14 import synthesize_chestxray14
from monai_weakloc.data.synthetic.eyepacs import synthesize_eyepacs
from monai_weakloc.data.synthetic.idrid import synthesize_idrid
from monai_weakloc.data.synthetic.messidor import synthesize_messidor
from monai_weakloc.data.synthetic.mias import synthesize_mias
from monai_weakloc.data.synthetic.synthesize import SYNTH_LAYOUTS, synthesize
from monai_weakloc.data.synthetic.tb_cxr import synthesize_tb_cxr

__all__ = [
    "SYNTH_LAYOUTS",
    "synthesize",
    "synthesize_eyepacs",
    "synthesize_messidor",
    "synthesize_idrid",
    "synthesize_chestxray14",
    "synthesize_tb_cxr",
    "synthesize_mias",
    "synthesize_cbis_ddsm",
]
