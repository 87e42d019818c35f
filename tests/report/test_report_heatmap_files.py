from __future__ import annotations

import matplotlib
import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import PILReader
from monai.transforms import LoadImage

from monai_weakloc.transforms import LoadImage2D
from monai_weakloc.report import heatmap_to_uint8, restore_heatmap_geometry, write_heatmap_nifti, write_heatmap_png


def _marked_heatmap(height: int = 12, width: int = 20) -> np.ndarray:
    heatmap = np.zeros((height, width), dtype=np.float32)
    heatmap[3, 15] = 1.0
    return heatmap


def _load_png(path) -> np.ndarray:
    return np.asarray(LoadImage(reader=PILReader(reverse_indexing=False), image_only=True)(str(path)))


def test_png_keeps_rows_and_columns(tmp_path):
    path = write_heatmap_png(_marked_heatmap(), tmp_path / "maps" / "a.png")
    pixels = _load_png(path)
    assert pixels.shape == (12, 20)
    assert pixels[3, 15] == 255 and pixels.sum() == 255


def test_png_is_resized_to_the_original_size(tmp_path):
    heatmap = torch.zeros(8, 16)
    heatmap[2:4, 12:14] = 1.0  # rows 2-3, columns 12-13: a quarter down, three quarters across
    pixels = _load_png(write_heatmap_png(heatmap, tmp_path / "b.png", original_size=(32, 64)))
    assert pixels.shape == (32, 64)
    # the block (rows 2-3, columns 12-13) scaled by 4 covers rows 8-15, columns 48-55: its core is saturated
    assert (pixels == 255).sum() == 16 and pixels[10:14, 50:54].min() == 255
    rows, cols = np.indices(pixels.shape)
    weights = pixels.astype(float) / pixels.sum()
    assert ((rows * weights).sum(), (cols * weights).sum()) == pytest.approx((11.5, 51.5))


def test_png_undoes_a_crop_box(tmp_path):
    heatmap = np.full((5, 10), 0.5, dtype=np.float32)
    heatmap[0, 0] = 1.0
    path = write_heatmap_png(heatmap, tmp_path / "c.png", original_size=(40, 60), crop_box=(20, 10, 40, 20),
                             value_range=(0.0, 1.0))
    pixels = _load_png(path)
    assert pixels.shape == (40, 60)
    assert pixels[:10].max() == 0 and pixels[:, :20].max() == 0 and pixels[20:].max() == 0
    assert pixels[10, 20] == 255 and pixels[15, 30] == 128


def test_png_with_a_colour_map_is_rgb(tmp_path):
    pixels = _load_png(write_heatmap_png(_marked_heatmap(), tmp_path / "d.png", colormap="viridis"))
    assert pixels.shape == (12, 20, 3)
    assert tuple(pixels[3, 15]) == tuple(matplotlib.colormaps["viridis"](255, bytes=True)[:3])


def test_uint8_scaling_and_bad_inputs():
    assert heatmap_to_uint8(np.array([[0.0, 0.5, 2.0]]), value_range=(0.0, 1.0)).tolist() == [[0, 128, 255]]
    assert heatmap_to_uint8(np.ones((2, 2))).max() == 0
    with pytest.raises(ValueError, match="colormap"):
        write_heatmap_png(np.zeros((4, 4)), "unused.png", colormap="no-such-map")
    with pytest.raises(ValueError, match="crop_box"):
        restore_heatmap_geometry(np.zeros((4, 4)), (10, 10), crop_box=(0, 0, 11, 5))
    with pytest.raises(ValueError, match="original_size"):
        restore_heatmap_geometry(np.zeros((4, 4)), crop_box=(0, 0, 2, 2))
    with pytest.raises(ValueError, match=r"\(h, w\)"):
        restore_heatmap_geometry(np.zeros((2, 4, 4)))


def test_nifti_keeps_rows_and_columns(tmp_path):
    path = write_heatmap_nifti(_marked_heatmap(), tmp_path / "maps" / "a.nii.gz")
    image = nib.load(str(path))
    data = image.get_fdata()
    assert data.shape == (20, 12)  # NIfTI/ITK order: [x, y]
    assert data[15, 3] == pytest.approx(1.0) and data.sum() == pytest.approx(1.0)
    assert np.allclose(image.affine, np.eye(4))
    loaded = LoadImage(image_only=True)(str(path))
    assert tuple(loaded.shape) == (20, 12) and float(loaded[15, 3]) == pytest.approx(1.0)
    rows_first = LoadImage2D(mode="keep")(path)
    assert tuple(rows_first.shape) == (1, 12, 20) and float(rows_first[0, 3, 15]) == pytest.approx(1.0)


def test_nifti_in_original_geometry_with_crop_and_spacing(tmp_path):
    heatmap = np.ones((4, 4), dtype=np.float32)
    path = write_heatmap_nifti(heatmap, tmp_path / "b.nii", original_size=(30, 50), crop_box=(10, 5, 30, 25),
                               pixel_spacing=(0.5, 0.25))
    image = nib.load(str(path))
    data = image.get_fdata().T
    assert data.shape == (30, 50)
    assert data[5:25, 10:30].min() == pytest.approx(1.0) and data.sum() == pytest.approx(400.0)
    assert np.allclose(np.diag(image.affine), [0.25, 0.5, 1.0, 1.0])
