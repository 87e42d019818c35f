"""At the paper's sizes, the M-Net feature map M is 1024 x 14 x 14 for a 492 px image."""

from __future__ import annotations

import torch

from weakloc_networks.zoom_in_m_net import MNet


def test_default_m_net_gives_1024_by_14_by_14_at_492_px():
    torch.manual_seed(0)
    net = MNet().eval()
    with torch.no_grad():
        feature_map = net.features(torch.randn(1, 3, 492, 492))
    assert feature_map.shape == (1, 1024, 14, 14)
    assert net.embedding_channels == 2048
    assert net.classifier.out_features == 5
