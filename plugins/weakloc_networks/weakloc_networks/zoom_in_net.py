"""Zoom-in-Net (Wang et al., MICCAI 2017, "Zoom-in-Net: Deep Mining Lesions for Diabetic Retinopathy
Detection"): M-Net grading, A-Net gated attention, C-Net grading from zoomed high-resolution crops."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from monai_weakloc.localize import Region, crop_around_batch, sample_regions, scale_region
from monai_weakloc.localize.field_of_view import field_of_view_on_grid
from monai_weakloc.localize.heatmap import heatmap_batch, resize_heatmaps
from weakloc_networks.zoom_in_a_net import ANet
from weakloc_networks.zoom_in_c_net import CNet
from weakloc_networks.zoom_in_m_net import MNet

__all__ = ["PHASES", "REGION_MAP_KINDS", "REGION_MAP_VIEWS", "ZoomInNet"]

PHASES: tuple[int, ...] = (1, 2, 3)
REGION_MAP_KINDS: tuple[str, ...] = ("gated_sum", "gated_max", "score_contrast", "lesion_probability")
REGION_MAP_VIEWS: tuple[int, ...] = (1, 8)


class ZoomInNet(nn.Module):
    """M-Net + A-Net + C-Net.

    Forward pass on a low-resolution image (``low_res``, 492 px in the paper), optionally its fellow eye
    and the same image at high resolution (``high_res``, 1230 px):

    1. M-Net: feature map M (B, C, h, w) (1024 x 14 x 14 at the defaults), pooled (and concatenated with
       the fellow eye's when ``paired_eyes``), grade logits y_M.
    2. A-Net on M: score maps S, spatial-softmax attention A, gated maps G = S * A, logits y_A = sum of G
       over space.
    3. Regions: a region map (``region_map_kind``, see :meth:`region_map`; by default the paper's gated
       maps of grades 1..K-1, the lesion grades, summed over grades) is sampled greedily by the shared
       :func:`monai_weakloc.localize.sample_regions` after a bilinear resize to the low-resolution image:
       up to ``num_regions`` peaks, each masking the ``region_size`` square around it, early stop below
       ``region_threshold`` (the paper gives no threshold; ``None`` always takes ``num_regions``). With
       ``region_map_views=8``, in eval mode, the map is first averaged over the 8 rotations and flips of
       the image (see :meth:`attention_over_views`). With the field of view ``fov_low`` (the retina disc
       the preprocessing found, in low-resolution pixels), the resized map is -inf outside it, so no peak
       and hence no C-Net crop centre lies outside the retina (sampling stops early when the retina is
       all masked).
    4. C-Net (phase 3, when ``image_high`` is given): ``crop_size`` crops centred on the peaks scaled to the
       high-resolution image and shifted to lie inside it (:func:`monai_weakloc.localize.crop_around_batch`),
       one backbone pass over all crops of the batch, element-wise max over each image's crops,
       concatenated with the M-Net embedding, logits y_C.

    Training phases (:meth:`set_phase`): 1 trains M-Net alone; 2 freezes M-Net and trains
    A-Net; 3 trains everything jointly with the C-Net. Frozen sub-networks have ``requires_grad=False``
    and stay in eval mode (their batch-norm statistics do not move) even after ``train()``.

    MONAI ``SupervisedTrainer`` use: the forward returns a dict, which the trainer hands as is to
    ``loss_function`` (use :class:`ZoomInNetLoss`); pass the extra inputs with
    ``prepare_batch=monai.engines.PrepareBatchExtraInput(extra_keys={"image_high": "image_high",
    "fellow_low": "fellow_low", "fov_low": "fov"})``.

    Scripting: the whole network is not TorchScript-able (the region sampling and cropping are data
    dependent and the output dict's keys vary with the phase); :class:`MNet` scripts, :class:`ANet` traces
    (``torch.jit.trace(..., strict=False)``) or exports.

    Args:
        spatial_dims: must be 2.
        in_channels: image channels.
        num_classes: number of grades K (at least 2).
        paired_eyes: whether the forward takes the fellow eye (``fellow_low``).
        low_res: side of the low-resolution input.
        high_res: side of the high-resolution input.
        region_size: side s of the sampled regions, in low-resolution pixels.
        num_regions: the most regions N per image.
        region_threshold: stop sampling an image when its remaining map maximum is below this.
        crop_size: side of the high-resolution crops.
        region_map_kind: the map the regions are sampled from: "gated_sum" (the paper), "gated_max",
            "score_contrast" or "lesion_probability" (see :meth:`region_map`).
        region_map_views: 1 (the paper) samples the regions from the image's own map; 8 averages the map
            over the image's 8 rotations by multiples of 90 degrees and their mirror images, in eval mode
            only (training always uses 1 view: the views cost 7 more M-Net passes).
        m_width_multiplier: M-Net backbone width.
        m_blocks_per_stage: M-Net backbone blocks in stages A, B, C.
        m_feature_channels: channels C of M; default ``1024 * m_width_multiplier``.
        attention_channels: width of the A-Net attention convolutions.
        c_width_multiplier: C-Net backbone width.
        c_blocks_per_stage: C-Net backbone blocks in stages A, B, C.
        c_feature_channels: channels of the C-Net crop features; default ``1024 * c_width_multiplier``.
        padding: backbone padding, "valid" (the original) or "same" (any input size).
        dropout_prob: dropout before the M-Net and C-Net heads.
        phase: initial training phase (see :meth:`set_phase`).

    Attributes:
        cam_target_layer: name of the module whose output is M (for ``monai.visualize.GradCAM``).
    """

    cam_target_layer: str = "m_net.backbone.projection"

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        num_classes: int = 5,
        paired_eyes: bool = True,
        low_res: int = 492,
        high_res: int = 1230,
        region_size: int = 200,
        num_regions: int = 4,
        region_threshold: float | None = None,
        crop_size: int = 384,
        region_map_kind: str = "gated_sum",
        region_map_views: int = 1,
        m_width_multiplier: float = 1.0,
        m_blocks_per_stage: Sequence[int] = (5, 10, 5),
        m_feature_channels: int | None = None,
        attention_channels: int = 256,
        c_width_multiplier: float = 1.0,
        c_blocks_per_stage: Sequence[int] = (5, 10, 5),
        c_feature_channels: int | None = None,
        padding: str = "valid",
        dropout_prob: float = 0.0,
        phase: int = 3,
    ) -> None:
        super().__init__()
        if not 1 <= region_size <= low_res:
            raise ValueError(f"ZoomInNet: region_size {region_size} must be in [1, low_res={low_res}]")
        if not 1 <= crop_size <= high_res:
            raise ValueError(f"ZoomInNet: crop_size {crop_size} must be in [1, high_res={high_res}]")
        if num_regions < 1:
            raise ValueError(f"ZoomInNet: num_regions must be at least 1, got {num_regions}")
        if region_map_kind not in REGION_MAP_KINDS:
            raise ValueError(f"ZoomInNet: region_map_kind must be one of {REGION_MAP_KINDS}, got {region_map_kind!r}")
        if region_map_views not in REGION_MAP_VIEWS:
            raise ValueError(f"ZoomInNet: region_map_views must be one of {REGION_MAP_VIEWS}, got {region_map_views!r}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.paired_eyes = paired_eyes
        self.low_res = low_res
        self.high_res = high_res
        self.region_size = region_size
        self.num_regions = num_regions
        self.region_threshold = region_threshold
        self.crop_size = crop_size
        self.region_map_kind = region_map_kind
        self.region_map_views = region_map_views
        self.m_net = MNet(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            num_classes=num_classes,
            paired_eyes=paired_eyes,
            width_multiplier=m_width_multiplier,
            blocks_per_stage=m_blocks_per_stage,
            feature_channels=m_feature_channels,
            padding=padding,
            dropout_prob=dropout_prob,
        )
        self.a_net = ANet(
            spatial_dims=spatial_dims,
            in_channels=self.m_net.feature_channels,
            num_classes=num_classes,
            attention_channels=attention_channels,
        )
        self.c_net = CNet(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            num_classes=num_classes,
            context_channels=self.m_net.embedding_channels,
            width_multiplier=c_width_multiplier,
            blocks_per_stage=c_blocks_per_stage,
            feature_channels=c_feature_channels,
            padding=padding,
            dropout_prob=dropout_prob,
        )
        self.set_phase(phase)

    def _frozen_modules(self) -> list[nn.Module]:
        return {1: [self.a_net, self.c_net], 2: [self.m_net, self.c_net], 3: []}[self.phase]

    def set_phase(self, phase: int) -> None:
        """Switch the training phase.

        - 1: M-Net trains; A-Net and C-Net are frozen.
        - 2: A-Net trains; M-Net and C-Net are frozen.
        - 3: everything trains; the forward runs the C-Net when ``image_high`` is given.

        Frozen sub-networks get ``requires_grad=False`` and eval mode; the others get ``requires_grad=True``
        and follow ``self.training``.

        Raises:
            ValueError: on a phase other than 1, 2, 3.
        """
        if phase not in PHASES:
            raise ValueError(f"ZoomInNet: phase must be one of {PHASES}, got {phase!r}")
        self.phase = phase
        frozen = self._frozen_modules()
        for module in (self.m_net, self.a_net, self.c_net):
            module.requires_grad_(not any(module is f for f in frozen))
        self.train(self.training)

    def train(self, mode: bool = True) -> ZoomInNet:
        """Set train/eval mode; sub-networks frozen by the current phase stay in eval mode."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def features(self, image_low: torch.Tensor) -> torch.Tensor:
        """The M-Net feature map M.

        Args:
            image_low: (B, in_channels, low_res, low_res).

        Returns:
            M, (B, C, h, w) (1024 x 14 x 14 at the defaults).
        """
        return self.m_net.features(image_low)

    def region_map(self, gated_maps: torch.Tensor, score_maps: torch.Tensor) -> torch.Tensor:
        """The map the regions are sampled from, at the resolution of the A-Net maps.

        - "gated_sum" (the paper): G of grades 1..K-1 summed over grades;
        - "gated_max": G of grades 1..K-1, the largest over grades at each position;
        - "score_contrast": the score maps S (A-Net part I, before the attention gates them), the mean over
          grades 1..K-1 minus grade 0: where the evidence for a lesion grade beats the evidence for a healthy
          eye. Each grade's attention may settle on a single position, and a grade the image does not have
          may attend where its score is lowest, so the gated sum can cancel out at a lesion; S has neither
          effect (measured in the bundle README: steadier across training seeds);
        - "lesion_probability": each position's score vector S[:, :, i, j] read as grade logits, and the
          probability it gives to the lesion grades 1..K-1, ``1 - softmax(S)[:, 0]``. Bounded by 1, so a
          position with faint evidence (a microaneurysm) weighs nearly as much as one with strong evidence
          (a haemorrhage), and the greedy sampling spreads the regions over more of an image's lesions.

        Args:
            gated_maps: G, (B, K, h, w).
            score_maps: S, (B, K, h, w).

        Returns:
            (B, h, w).
        """
        if self.region_map_kind == "gated_sum":
            return gated_maps[:, 1:].sum(dim=1)
        if self.region_map_kind == "gated_max":
            return gated_maps[:, 1:].amax(dim=1)
        if self.region_map_kind == "score_contrast":
            return score_maps[:, 1:].mean(dim=1) - score_maps[:, 0]
        return 1.0 - torch.softmax(score_maps, dim=1)[:, 0]

    def attention_over_views(
        self, image_low: torch.Tensor, attention_outputs: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """G and S of the image's 8 views (rotations by 0, 90, 180, 270 degrees and their mirror images).

        Each view goes through M-Net and A-Net; its maps are turned back to the image's orientation. The
        training augmentation uses the same 8 views, so the network has seen them all. MONAI's
        ``TestTimeAugmentation`` inverts transforms of the network's final output; here the maps are needed
        inside the forward, before the regions are sampled.

        Args:
            image_low: (B, in_channels, low_res, low_res).
            attention_outputs: the A-Net's outputs for ``image_low`` as is (``gated_maps``, ``score_maps``).

        Returns:
            G and S, (8, B, K, h, w) each, the image as is first.
        """
        gated, scores = [attention_outputs["gated_maps"]], [attention_outputs["score_maps"]]
        for view in range(1, 8):
            rotations, mirrored = view % 4, view >= 4
            viewed = torch.rot90(image_low, rotations, dims=(2, 3))
            if mirrored:
                viewed = viewed.flip(3)
            view_outputs = self.a_net(self.m_net.features(viewed))
            for maps, key in ((gated, "gated_maps"), (scores, "score_maps")):
                view_maps = view_outputs[key].flip(3) if mirrored else view_outputs[key]
                maps.append(torch.rot90(view_maps, -rotations, dims=(2, 3)))
        return torch.stack(gated), torch.stack(scores)

    def region_map_of_views(self, gated_views: torch.Tensor, score_views: torch.Tensor) -> torch.Tensor:
        """The mean over views of :meth:`region_map`.

        Args:
            gated_views: G of V views, (V, B, K, h, w) (V = 1: the image as is).
            score_views: S of the same views, (V, B, K, h, w).

        Returns:
            (B, h, w).
        """
        views, batch = gated_views.shape[:2]
        maps = self.region_map(gated_views.flatten(0, 1), score_views.flatten(0, 1))
        return maps.unflatten(0, (views, batch)).mean(dim=0)

    @staticmethod
    def lesion_log_odds(score_views: torch.Tensor) -> torch.Tensor:
        """The log-odds ``log(p / (1 - p))`` of the "lesion_probability" region map p (the mean over views).

        Ordered as p (a position above another in one is above it in the other), but unbounded: where p
        rounds to 1 in float32 (the A-Net is sure of a lesion at most places of a diseased eye) it still
        tells positions apart. Computed from the log-softmax of S, so it is exact there.

        Args:
            score_views: S of V views, (V, B, K, h, w).

        Returns:
            (B, h, w).
        """
        log_shares = torch.log_softmax(score_views, dim=2)
        return torch.logsumexp(log_shares[:, :, 1:], dim=(0, 2)) - torch.logsumexp(log_shares[:, :, 0], dim=0)

    def sample_lesion_regions(
        self, region_map: torch.Tensor, field_of_view: torch.Tensor | None = None
    ) -> list[list[Region]]:
        """Regions on the low-resolution image, sampled from the region map resized to it.

        Args:
            region_map: (B, h, w), from :meth:`region_map` (or :meth:`region_map_of_views`).
            field_of_view: (B, 1, low_res, low_res) mask, 1 inside the retina; no peak is taken outside it.
                ``None``: the whole image.

        Returns:
            per image, up to ``num_regions`` regions in the order found; ``x, y`` is the peak, ``box`` the
            masked square (clipped to the image), in low-resolution pixels.
        """
        return sample_regions(
            region_map.detach(),
            num_regions=self.num_regions,
            mask_size=self.region_size,
            threshold=self.region_threshold,
            sampling_size=(self.low_res, self.low_res),
            field_of_view=None if field_of_view is None else field_of_view.detach(),
        )

    def region_scores(self, regions: list[list[Region]], score_map: torch.Tensor) -> torch.Tensor:
        """Each region's score: the map that ranks the regions at the region's peak.

        The map is the region map, except for "lesion_probability", whose map saturates at 1 (the A-Net is
        sure of a lesion at most places of a diseased eye, so most regions would read 1.00): there its
        log-odds (:meth:`lesion_log_odds`), ordered as the map but unbounded. It is resized to the
        low-resolution image as the sampling resizes the region map, and read at the peak pixel; on the region
        map itself that is the value the region was found at, so the regions, found greedily from the highest
        peak down, come in decreasing order of score.

        Args:
            regions: per image, the regions of :meth:`sample_lesion_regions`.
            score_map: the region map, or its log-odds, (B, h, w).

        Returns:
            (B, N) float32 on ``score_map``'s device, NaN for regions not taken.
        """
        resized = resize_heatmaps(heatmap_batch(score_map), (self.low_res, self.low_res))
        scores = torch.full((len(regions), self.num_regions), float("nan"))
        for image_index, image_regions in enumerate(regions):
            for region_index, region in enumerate(image_regions):
                scores[image_index, region_index] = resized[image_index, int(region.y), int(region.x)]
        return scores.to(score_map.device)

    @staticmethod
    def region_map_for_display(region_map: torch.Tensor, field_of_view: torch.Tensor) -> torch.Tensor:
        """The region map with each image's minimum inside the field of view everywhere outside it.

        The map stays finite (it is shown and resized) and outside the retina it is never above any value
        inside, so box scores read from it and a colour scale fitted to it follow the retina alone. A cell
        is inside when the field of view covers it at least partly
        (:func:`~monai_weakloc.localize.field_of_view.field_of_view_on_grid`).

        Args:
            region_map: (B, h, w).
            field_of_view: (B, 1, H, W) mask.

        Returns:
            (B, h, w).

        Raises:
            ValueError: if an image's field of view is empty.
        """
        inside = field_of_view_on_grid(field_of_view, tuple(region_map.shape[-2:])).to(region_map.device)
        empty = (~inside.flatten(1).any(dim=1)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f"ZoomInNet: fov_low of the images at batch positions {empty} holds no pixel inside")
        minimum_inside = region_map.masked_fill(~inside, torch.inf).amin(dim=(1, 2), keepdim=True)
        return torch.where(inside, region_map, minimum_inside)

    def _region_boxes(self, regions: list[list[Region]], device: torch.device) -> torch.Tensor:
        """(B, N, 4) float boxes (x, y, w, h), rows of -1 for regions not taken."""
        boxes = torch.full((len(regions), self.num_regions, 4), -1.0)
        for image_index, image_regions in enumerate(regions):
            for region_index, region in enumerate(image_regions):
                x0, y0, x1, y1 = region.box
                boxes[image_index, region_index] = torch.tensor([x0, y0, x1 - x0, y1 - y0])
        return boxes.to(device)

    def _zoom_in(self, image_high: torch.Tensor, regions: list[list[Region]], embedding: torch.Tensor) -> torch.Tensor:
        """C-Net logits from crops of the high-resolution image centred on the regions' peaks."""
        low_size, high_size = (self.low_res, self.low_res), (self.high_res, self.high_res)
        taken = torch.zeros(len(regions), self.num_regions, dtype=torch.bool, device=image_high.device)
        centres = []
        for image_index, image_regions in enumerate(regions):
            scaled = [scale_region(region, low_size, high_size) for region in image_regions]
            centres.append([(region.x, region.y) for region in scaled])
            taken[image_index, : len(scaled)] = True
        crop_batch = crop_around_batch(image_high, centres, self.crop_size)
        return self.c_net(crop_batch.crops, taken, embedding)

    def _check_image(self, name: str, image: torch.Tensor, side: int, batch: int, channels: int | None = None) -> None:
        expected = (batch, self.in_channels if channels is None else channels, side, side)
        if image.ndim != 4 or tuple(image.shape) != expected:
            raise ValueError(f"ZoomInNet: {name} must have shape {expected} (B, C, H, W), got {tuple(image.shape)}")

    def forward(
        self,
        image_low: torch.Tensor,
        image_high: torch.Tensor | None = None,
        fellow_low: torch.Tensor | None = None,
        fov_low: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Args:
            image_low: (B, in_channels, low_res, low_res).
            image_high: the same images, (B, in_channels, high_res, high_res); needed for y_c.
            fellow_low: the fellow eyes, (B, in_channels, low_res, low_res); required with ``paired_eyes``.
            fov_low: the field of view of ``image_low``, (B, 1, low_res, low_res), 1 inside the retina (the
                batch key ``fov`` of :class:`~monai_weakloc.transforms.FundusFieldOfViewd`); no region peak
                is taken outside it. ``None``: the whole image.

        Returns:
            ``y_m``, ``y_a`` logits (B, K); ``y_c`` logits (B, K) in phase 3 with ``image_high`` only;
            ``gated_maps`` G and ``attention`` A, (B, K, h, w); ``feature_map`` M, (B, C, h, w) (what
            the A-Net and lesion discovery read); ``regions`` (B, N, 4) float boxes
            (x, y, w, h) of the masked squares in low-resolution pixels, rows of -1 for regions not taken;
            ``region_map`` (B, h, w), the map they were sampled from; with ``fov_low``, each image's minimum
            inside the field of view replaces it outside (:meth:`region_map_for_display`); ``region_scores``
            (B, N), what ranks the regions (:meth:`region_scores`), NaN for regions not taken.

        Raises:
            ValueError: if an input has the wrong shape, the fellow eye is missing or unexpected, or an
                image's field of view is empty.
        """
        batch = image_low.shape[0] if image_low.ndim == 4 else -1
        self._check_image("image_low", image_low, self.low_res, batch)
        if fellow_low is not None:
            self._check_image("fellow_low", fellow_low, self.low_res, batch)
        if image_high is not None:
            self._check_image("image_high", image_high, self.high_res, batch)
        if fov_low is not None:
            self._check_image("fov_low", fov_low, self.low_res, batch, channels=1)
        feature_map, fellow_feature_map = self.m_net.paired_features(image_low, fellow_low)
        embedding = self.m_net.embed(feature_map, fellow_feature_map)
        attention_outputs = self.a_net(feature_map)
        outputs = {
            "y_m": self.m_net.classify(embedding),
            "y_a": attention_outputs["y_a"],
            "gated_maps": attention_outputs["gated_maps"],
            "attention": attention_outputs["attention"],
            "feature_map": feature_map,
        }
        with torch.no_grad():
            gated_views, score_views = attention_outputs["gated_maps"][None], attention_outputs["score_maps"][None]
            if self.region_map_views == 8 and not self.training:
                gated_views, score_views = self.attention_over_views(image_low, attention_outputs)
            region_map = self.region_map_of_views(gated_views, score_views)
            score_map = self.lesion_log_odds(score_views) if self.region_map_kind == "lesion_probability" else region_map
        regions = self.sample_lesion_regions(region_map, fov_low)
        outputs["region_map"] = region_map if fov_low is None else self.region_map_for_display(region_map, fov_low)
        outputs["region_scores"] = self.region_scores(regions, score_map)
        outputs["regions"] = self._region_boxes(regions, image_low.device)
        if self.phase == 3 and image_high is not None:
            outputs["y_c"] = self._zoom_in(image_high, regions, embedding)
        return outputs

    @staticmethod
    def predict_proba(outputs: Mapping[str, torch.Tensor], phase: int = 3) -> torch.Tensor:
        """Grade probabilities from the outputs of a phase.

        - phase 1: softmax(y_m);
        - phase 2: mean of softmax(y_m) and softmax(y_a);
        - phase 3: mean of softmax(y_m), softmax(y_a) and softmax(y_c).

        Args:
            outputs: the forward's dict.
            phase: 1, 2 or 3.

        Returns:
            (B, K), rows summing to 1.

        Raises:
            ValueError: on an unknown phase or a missing output (y_c needs ``image_high`` in phase 3).
        """
        if phase not in PHASES:
            raise ValueError(f"ZoomInNet.predict_proba: phase must be one of {PHASES}, got {phase!r}")
        keys = ("y_m", "y_a", "y_c")[:phase]
        missing = [key for key in keys if key not in outputs]
        if missing:
            raise ValueError(
                f"ZoomInNet.predict_proba: phase {phase} needs outputs {missing}, got keys {sorted(outputs)}"
            )
        return torch.stack([torch.softmax(outputs[key], dim=1) for key in keys]).mean(dim=0)
