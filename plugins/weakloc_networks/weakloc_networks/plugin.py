"""Entry point of the ``weakloc_networks`` plugin: registers its components with the host registry."""

from __future__ import annotations

from monai_weakloc.registry import Registry
from weakloc_networks.inception_resnet import InceptionResNet
from weakloc_networks.zoom_in_a_net import ANet
from weakloc_networks.zoom_in_m_net import MNet
from weakloc_networks.zoom_in_net import ZoomInNet
from weakloc_networks.zoom_in_net_export import ZoomInNetGrader
from weakloc_networks.zoom_in_net_localizer import ZoomInNetLocalizer
from weakloc_networks.zoom_in_net_loss import ZoomInNetLoss


def register(registry: Registry) -> None:
    """Register every networks component of this plugin.

    Networks: ``inception_resnet``, ``zoom_in_net``, ``zoom_in_m_net``, ``zoom_in_a_net``,
    ``zoom_in_net_grader``.
    Losses: ``zoom_in_net_loss``.
    Localizers: ``zoom_in_net``.

    Args:
        registry: the host registry to fill.
    """
    registry.register("network", "inception_resnet", InceptionResNet)
    registry.register("network", "zoom_in_net", ZoomInNet)
    registry.register("network", "zoom_in_m_net", MNet)
    registry.register("network", "zoom_in_a_net", ANet)
    registry.register("network", "zoom_in_net_grader", ZoomInNetGrader)
    registry.register("loss", "zoom_in_net_loss", ZoomInNetLoss)
    registry.register("localizer", "zoom_in_net", ZoomInNetLocalizer)
