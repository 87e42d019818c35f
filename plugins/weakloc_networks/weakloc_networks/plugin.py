"""Entry point of the ``weakloc_networks`` plugin: registers its components with the host registry."""

from __future__ import annotations

from monai_weakloc.registry import Registry
from weakloc_networks.frrn import FRRN
from weakloc_networks.inception_resnet import InceptionResNet
from weakloc_networks.ma_losses import AngularTripletLoss, HGNLoss, PatchCrossEntropy, PRNLoss
from weakloc_networks.ma_segmentation_localizer import MASegmentationLocalizer
from weakloc_networks.ma_segmentation_pipeline import MASegmentationPipeline
from weakloc_networks.multi_attention import MultiAttentionNetwork
from weakloc_networks.multi_attention_localizer import MultiAttentionLocalizer
from weakloc_networks.multi_label_loss import MultiLabelMapLoss
from weakloc_networks.patch_refinement import PatchRefinementLogits, PatchRefinementNetwork
from weakloc_networks.saliency_crop import SaliencyCropNetwork
from weakloc_networks.saliency_crop_localizer import SaliencyCropLocalizer
from weakloc_networks.saliency_crop_sliding_window import SlidingWindowLocalizer
from weakloc_networks.self_transfer import SelfTransferNetwork
from weakloc_networks.self_transfer_localizer import SelfTransferLocalizer
from weakloc_networks.self_transfer_loss import SelfTransferLoss
from weakloc_networks.zoom_in_a_net import ANet
from weakloc_networks.zoom_in_m_net import MNet
from weakloc_networks.zoom_in_net import ZoomInNet
from weakloc_networks.zoom_in_net_export import ZoomInNetGrader
from weakloc_networks.zoom_in_net_localizer import ZoomInNetLocalizer
from weakloc_networks.zoom_in_net_loss import ZoomInNetLoss


def register(registry: Registry) -> None:
    """Register every networks component of this plugin.

    Networks: ``inception_resnet``, ``zoom_in_net``, ``zoom_in_m_net``, ``zoom_in_a_net``,
    ``zoom_in_net_grader``; ``frrn`` (the microaneurysm method's hypothesis generation network),
    ``patch_refinement`` (its patch refinement network) and ``patch_refinement_logits`` (that network's logits
    alone, for the selective sampler's rescoring), ``ma_segmentation_pipeline`` (the two HGNs and the PRN over whole
    images at inference); ``self_transfer`` (self-transfer learning's classifier and localizer on shared layers);
    ``saliency_crop`` (the saliency-crop method's residual classifier); ``multi_attention`` (SE-ResNet with space
    attention and per-label maps).
    Losses: ``zoom_in_net_loss``; ``hgn_loss``, ``angular_triplet``, ``prn_loss`` and ``patch_cross_entropy``
    (the microaneurysm method's); ``self_transfer_loss`` (the alpha-weighted classifier and localizer losses);
    ``multi_attention_loss`` (binary cross-entropy on the logits of a network returning a dict).
    Localizers: ``zoom_in_net``, ``ma_segmentation``, ``self_transfer``, ``multi_attention``, ``saliency_crop``
    (saliency, crop and crop network over whole images), ``saliency_crop_sliding_window`` (the crop network's fully
    convolutional form over whole images, its window probabilities reduced to one decision).

    Args:
        registry: the host registry to fill.
    """
    registry.register("network", "inception_resnet", InceptionResNet)
    registry.register("network", "zoom_in_net", ZoomInNet)
    registry.register("network", "zoom_in_m_net", MNet)
    registry.register("network", "zoom_in_a_net", ANet)
    registry.register("network", "zoom_in_net_grader", ZoomInNetGrader)
    registry.register("network", "frrn", FRRN)
    registry.register("network", "patch_refinement", PatchRefinementNetwork)
    registry.register("network", "patch_refinement_logits", PatchRefinementLogits)
    registry.register("network", "ma_segmentation_pipeline", MASegmentationPipeline)
    registry.register("network", "self_transfer", SelfTransferNetwork)
    registry.register("network", "multi_attention", MultiAttentionNetwork)
    registry.register("network", "saliency_crop", SaliencyCropNetwork)
    registry.register("loss", "zoom_in_net_loss", ZoomInNetLoss)
    registry.register("loss", "hgn_loss", HGNLoss)
    registry.register("loss", "angular_triplet", AngularTripletLoss)
    registry.register("loss", "prn_loss", PRNLoss)
    registry.register("loss", "patch_cross_entropy", PatchCrossEntropy)
    registry.register("loss", "self_transfer_loss", SelfTransferLoss)
    registry.register("loss", "multi_attention_loss", MultiLabelMapLoss)
    registry.register("localizer", "zoom_in_net", ZoomInNetLocalizer)
    registry.register("localizer", "ma_segmentation", MASegmentationLocalizer)
    registry.register("localizer", "self_transfer", SelfTransferLocalizer)
    registry.register("localizer", "multi_attention", MultiAttentionLocalizer)
    registry.register("localizer", "saliency_crop", SaliencyCropLocalizer)
    registry.register("localizer", "saliency_crop_sliding_window", SlidingWindowLocalizer)
