"""Map geometry: the receptive-field centres of a map's cells, measured against the network's own gradients,
and the resampling of maps onto the input by them."""

from __future__ import annotations

import pytest
import torch
from weakloc_networks.self_transfer import SelfTransferNetwork

from monai_weakloc.localize import resize_heatmaps
from monai_weakloc.localize.map_geometry import MapGeometry, cell_centres, map_geometry, resample_to_input


def receptive_field_centre(network: SelfTransferNetwork, size: int, row: int, col: int) -> tuple[float, float]:
    """The centre (x, y) of the input rows and columns that move map cell (row, col), found by brightening one
    input row (column) at a time of a flat image, with every weight and bias positive so that no ReLU or max
    pooling hides a change."""
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.constant_(module.weight, 0.05)
            torch.nn.init.constant_(module.bias, 0.1)
    flat = torch.full((1, network.in_channels, size, size), 0.5)
    brightened_rows = flat.repeat(size, 1, 1, 1)
    brightened_cols = flat.repeat(size, 1, 1, 1)
    for index in range(size):
        brightened_rows[index, :, index, :] = 1.5
        brightened_cols[index, :, :, index] = 1.5
    with torch.no_grad():
        base = network(flat)["maps"][0, 0, row, col]
        rows = torch.nonzero((network(brightened_rows)["maps"][:, 0, row, col] - base).abs() > 1e-3)[:, 0]
        cols = torch.nonzero((network(brightened_cols)["maps"][:, 0, row, col] - base).abs() > 1e-3)[:, 0]
    return (float(cols.min() + cols.max() + 1) / 2, float(rows.min() + rows.max() + 1) / 2)


@pytest.mark.parametrize("sixth_conv", [False, True])
def test_the_self_transfer_networks_cells_sit_at_their_receptive_fields_centres(sixth_conv):
    # two 3x3 convolutions after the second pooling: a receptive field 131 px wide; the cells tried lie far enough
    # from the edges that it stays inside the 256 px input (zero padding would cut it and shift its centre)
    network = SelfTransferNetwork(channels=(2, 2, 2, 2), sixth_conv=sixth_conv, fc_channels=(), classifier_grid=1)
    geometry = network.map_geometry()
    assert geometry == MapGeometry(first_centre=17.5, stride=32.0 if sixth_conv else 16.0)
    cells = network.map_size(256)
    for row, col in ((3, 4), (cells - 5, cells // 2)):
        x, y = receptive_field_centre(network, 256, row, col)
        assert (x, y) == (geometry.first_centre + geometry.stride * col, geometry.first_centre + geometry.stride * row)


def test_same_padded_layers_keep_the_centre_and_strides_multiply():
    assert map_geometry([(3, 1, 1), (5, 1, 2)]) == MapGeometry(0.5, 1.0)
    assert map_geometry([(2, 2, 0), (2, 2, 0)]) == MapGeometry(2.0, 4.0)


def test_an_even_geometry_resamples_as_an_even_bilinear_resize():
    torch.manual_seed(0)
    maps = torch.rand(2, 3, 5, 7)
    even = MapGeometry(first_centre=40 / 5 / 2, stride=40 / 5)
    assert torch.allclose(even.first_centre + even.stride * torch.arange(5.0), (torch.arange(5.0) + 0.5) * 8)
    resampled = resample_to_input(maps, (40, 56), MapGeometry(4.0, 8.0))
    torch.testing.assert_close(resampled, resize_heatmaps(maps.flatten(0, 1), (40, 56)).reshape(2, 3, 40, 56))


def test_a_single_hot_cell_peaks_at_its_centre_pixel_and_the_outer_cells_extend_to_the_border():
    maps = torch.zeros(1, 1, 4, 4)
    maps[0, 0, 1, 2] = 1.0
    maps[0, 0, 3, 0] = 0.5
    geometry = MapGeometry(first_centre=17.5, stride=16.0)
    resampled = resample_to_input(maps, (80, 80), geometry)[0, 0]
    assert resampled.shape == (80, 80)
    # cell (1, 2): centre (x, y) = (49.5, 33.5), the centre of pixel (row 33, column 49)
    assert resampled[33, 49] == pytest.approx(1.0, abs=1e-6) and int(resampled.argmax()) == 33 * 80 + 49
    # cell (3, 0) is the last row's and first column's: constant from its centre to the bottom and left edges
    torch.testing.assert_close(resampled[65:, :18], torch.full((15, 18), 0.5))
    assert resampled[65, 18] < 0.49


def test_cell_centres_are_clamped_into_the_input():
    centres = cell_centres(MapGeometry(first_centre=-3.5, stride=10.0), 4, 30)
    assert centres.tolist() == [0.5, 6.5, 16.5, 26.5]
    assert cell_centres(MapGeometry(5.5, 10.0), 4, 30).tolist() == [5.5, 15.5, 25.5, 29.5]


@pytest.mark.parametrize("layer", [(0, 1, 0), (3, 0, 1), (3, 1, -1)])
def test_bad_layers_and_strides_are_rejected(layer):
    with pytest.raises(ValueError, match="every layer needs"):
        map_geometry([layer])
    with pytest.raises(ValueError, match="stride must be positive"):
        MapGeometry(first_centre=0.5, stride=0.0)
