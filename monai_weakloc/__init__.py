"""monai-weakloc: weakly supervised lesion localization on MONAI, PyTorch and pytorch-ignite.

Importing the package silences MONAI's notices that say nothing to its users (see
:mod:`monai_weakloc.monai_notices`).
"""

from __future__ import annotations

from monai_weakloc.monai_notices import silence_monai_notices

__version__ = "0.1.0"

silence_monai_notices()
