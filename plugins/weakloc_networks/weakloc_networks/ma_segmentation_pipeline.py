"""The microaneurysm segmentation method at inference: two HGN scales over the whole image, fused, refined by
the PRN at the candidate pixels only (Sarhan et al., MICCAI 2019).

- HGN 1x runs over the whole image and HGN 0.5x over the image downsampled by 2 (area), both with MONAI's
  :class:`~monai.inferers.SlidingWindowInferer` on windows of the size they were trained on; the 0.5x map is
  upsampled bilinearly to the full size.
- The fusion is the pixel-wise arithmetic or geometric mean of the two maps.
- The PRN classifies the patch around every pixel whose fused probability exceeds ``candidate_threshold``
  (inside the field of view when one is given), in batches (:func:`~monai_weakloc.localize.refine_candidates`);
  its probability is the final map there, and the final map is 0 at every other pixel: the paper slides the
  PRN over the thresholded parts of the image only.

With ``ablation_maps`` every map of the paper's ablation table is returned too: ``hgn_arithmetic``,
``hgn_geometric`` and, per refinement network, ``prn_arithmetic`` and ``prn_geometric`` (``cls_...`` for the PRN
trained with cross-entropy only, when given). MONAI has no inferer that chains several networks at two
scales, hence this module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.inferers import SlidingWindowInferer
from torch import nn

from monai_weakloc.localize.candidate_refinement import refine_candidates

__all__ = ["FUSIONS", "MASegmentationPipeline"]

FUSIONS: tuple[str, ...] = ("arithmetic", "geometric")
PRN_LOGITS_KEY = "logits"


def fuse_maps(full: torch.Tensor, half: torch.Tensor, fusion: str) -> torch.Tensor:
    """The pixel-wise arithmetic or geometric mean of two probability maps of one shape."""
    if fusion == "arithmetic":
        return (full + half) / 2
    return torch.sqrt(full * half)


class MASegmentationPipeline(nn.Module):
    """HGN 1x + HGN 0.5x fused, refined by the PRN at candidates: whole images in, probability maps out.

    Args:
        hgn_full: the full-scale HGN, (B, C, h, w) -> (B, 2, h, w) logits.
        hgn_half: the half-scale HGN, same contract.
        prn: the patch refinement network, (N, C, p, p) -> ``{"logits": (N, 2), ...}``; ``None``: no PRN stage
            (the fused map is the final one).
        roi_size: side of the sliding windows (the HGNs' training patch size).
        prn_patch_size: side of the PRN's patches (odd).
        fusion: ``arithmetic`` or ``geometric``: the fusion the PRN refines and the ``fused`` map.
        candidate_threshold: fused probabilities above it are the PRN's candidates.
        sw_batch_size: windows per HGN call.
        overlap: the sliding windows' overlap.
        prn_batch_size: patches per PRN call.
        cls_prn: the PRN trained with cross-entropy only, for the ablation's ``cls`` maps (optional).
        ablation_maps: also return every map of the paper's ablation table.

    Raises:
        ValueError: for an unknown fusion, a threshold outside [0, 1), or an even ``prn_patch_size``.
    """

    def __init__(
        self,
        hgn_full: nn.Module,
        hgn_half: nn.Module,
        prn: nn.Module | None,
        roi_size: int,
        prn_patch_size: int,
        fusion: str = "geometric",
        candidate_threshold: float = 0.5,
        sw_batch_size: int = 4,
        overlap: float = 0.25,
        prn_batch_size: int = 256,
        cls_prn: nn.Module | None = None,
        ablation_maps: bool = False,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"MASegmentationPipeline: fusion must be one of {FUSIONS}, got {fusion!r}")
        if not 0.0 <= candidate_threshold < 1.0:
            raise ValueError(
                f"MASegmentationPipeline: candidate_threshold must lie in [0, 1), got {candidate_threshold}"
            )
        if prn_patch_size % 2 == 0:
            raise ValueError(f"MASegmentationPipeline: prn_patch_size must be odd, got {prn_patch_size}")
        self.hgn_full = hgn_full
        self.hgn_half = hgn_half
        self.prn = prn
        self.cls_prn = cls_prn
        self.fusion = fusion
        self.candidate_threshold = float(candidate_threshold)
        self.prn_patch_size = int(prn_patch_size)
        self.prn_batch_size = int(prn_batch_size)
        self.ablation_maps = ablation_maps
        self.inferer = SlidingWindowInferer(
            roi_size=(roi_size, roi_size), sw_batch_size=sw_batch_size, overlap=overlap, mode="gaussian"
        )

    def _hgn_map(self, network: nn.Module, image: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) lesion probability of one HGN over the whole (B, C, h, w) image."""
        logits = self.inferer(image, network)
        return torch.softmax(logits, dim=1)[:, 1:2]

    def _refined(
        self, network: nn.Module, image: torch.Tensor, fused: torch.Tensor, fov: torch.Tensor | None
    ) -> torch.Tensor:
        """(B, 1, H, W): the refinement network's probability at the candidates of ``fused``, 0 elsewhere."""
        return refine_candidates(
            network,
            image,
            fused,
            threshold=self.candidate_threshold,
            patch_size=self.prn_patch_size,
            batch_size=self.prn_batch_size,
            field_of_view=fov,
            logits_key=PRN_LOGITS_KEY,
        ).probabilities

    def forward(self, image: torch.Tensor, fov: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Args:
            image: (B, C, H, W) preprocessed whole images; an odd H or W is zero-padded by one row or column for
                the half scale, and the maps are cropped back.
            fov: (B, 1, H, W) field-of-view masks; ``None`` takes every pixel as a candidate source.

        Returns:
            probability maps, each (B, 1, H, W): ``hgn_1x``, ``hgn_05x``, ``fused``, ``final`` (with a PRN) and,
            with ``ablation_maps``, ``hgn_arithmetic``, ``hgn_geometric``, ``prn_arithmetic``,
            ``prn_geometric``, ``cls_arithmetic``, ``cls_geometric`` (as the networks are given).

        Raises:
            ValueError: when the image is not (B, C, H, W).
        """
        if image.ndim != 4:
            raise ValueError(f"MASegmentationPipeline: image must be (B, C, H, W), got {tuple(image.shape)}")
        height, width = image.shape[-2:]
        even = (0, width % 2, 0, height % 2)
        maps = self._maps(F.pad(image, even), None if fov is None else F.pad(fov, even))
        return {name: values[..., :height, :width] for name, values in maps.items()}

    def _maps(self, image: torch.Tensor, fov: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The maps of :meth:`forward` for (B, C, H, W) images of even H and W."""
        full = self._hgn_map(self.hgn_full, image)
        half = self._hgn_map(self.hgn_half, F.interpolate(image, scale_factor=0.5, mode="area"))
        half = F.interpolate(half, size=full.shape[-2:], mode="bilinear", align_corners=False)
        fusions = {name: fuse_maps(full, half, name) for name in FUSIONS}
        maps = {"hgn_1x": full, "hgn_05x": half, "fused": fusions[self.fusion]}
        refiners = {
            name: network for name, network in (("prn", self.prn), ("cls", self.cls_prn)) if network is not None
        }
        if self.prn is not None:
            maps["final"] = self._refined(self.prn, image, maps["fused"], fov)
        if self.ablation_maps:
            maps.update({f"hgn_{name}": fused for name, fused in fusions.items()})
            for refiner, network in refiners.items():
                for name, fused in fusions.items():
                    same = refiner == "prn" and name == self.fusion
                    maps[f"{refiner}_{name}"] = maps["final"] if same else self._refined(network, image, fused, fov)
        return maps
