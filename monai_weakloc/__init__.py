"""monai-weakloc: weakly supervised lesion localization on MONAI, PyTorch and pytorch-ignite."""

from __future__ import annotations

__version__ = "0.1.0"
