"""Overlays a person can read: no heat off the field of view, a colour bar, the truth in its own colour, scores
that tell boxes apart, and few labels."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from monai_weakloc.report import write_overlay
from monai_weakloc.report.image_display import display_image
from monai_weakloc.report.overlay import TRUTH_COLOUR, score_texts

HEIGHT, WIDTH = 96, 128


def fundus_photo() -> tuple[np.ndarray, np.ndarray]:
    """(3, H, W) textured retina disc on a black border, and the disc as the (H, W) field of view."""
    rows, cols = np.mgrid[:HEIGHT, :WIDTH]
    disc = (rows - HEIGHT / 2) ** 2 + (cols - WIDTH / 2) ** 2 < (HEIGHT / 2 - 4) ** 2
    texture = np.random.default_rng(0).uniform(0.3, 1.0, (3, HEIGHT, WIDTH))
    return (texture * disc).astype(np.float32), disc


def read(path) -> np.ndarray:
    with Image.open(path) as written:
        return np.asarray(written.convert("RGB")).astype(int)


def shown_image(image: np.ndarray) -> np.ndarray:
    """The image's pixels as the overlay shows them where no heat is drawn."""
    return np.round(np.moveaxis(display_image(image), -1, 0) * 255).astype(int).transpose(1, 2, 0)


def test_no_heat_is_drawn_outside_the_field_of_view_of_a_fundus_photo(tmp_path):
    image, disc = fundus_photo()
    heatmap = np.random.default_rng(1).uniform(0, 1, (12, 16)).astype(np.float32)
    pixels = read(write_overlay(image, heatmap, tmp_path / "o.png", field_of_view=disc))[:, :WIDTH]
    expected = shown_image(image)
    assert np.array_equal(pixels[~disc], expected[~disc])  # the black border is left as it is
    assert pixels[~disc].max() == 0
    assert (np.abs(pixels[disc] - expected[disc]).sum(axis=-1) > 0).mean() > 0.95  # the heat tints the retina


def test_the_colour_bar_beside_the_image_shows_the_scale_from_low_to_high(tmp_path):
    image, disc = fundus_photo()
    heatmap = np.linspace(0.2, 0.7, 16, dtype=np.float32)[None].repeat(12, axis=0)
    pixels = read(write_overlay(image, heatmap, tmp_path / "o.png", field_of_view=disc, value_range=(0.0, 1.0)))
    plain = read(write_overlay(image, heatmap, tmp_path / "p.png", field_of_view=disc, value_range=(0.0, 1.0),
                               colour_bar=False))
    assert pixels.shape[0] == HEIGHT and pixels.shape[1] > WIDTH
    assert np.array_equal(pixels[:, :WIDTH], plain)  # the image keeps its size and position
    strip = pixels[:, WIDTH:]
    jet = (np.array(matplotlib.colormaps["jet"]([1.0, 0.0])[:, :3]) * 255).round().astype(int)
    bar_columns = [col for col in range(strip.shape[1]) if (np.abs(strip[:, col] - jet[0]).sum(axis=-1) <= 3).any()]
    assert bar_columns, "no column of the strip holds the colour map's top colour"
    column = strip[:, bar_columns[0]]
    coloured = np.nonzero(column.sum(axis=-1) > 0)[0]
    assert np.abs(column[coloured[0]] - jet[0]).sum() <= 3  # the high colour at the top
    assert np.abs(column[coloured[-1]] - jet[1]).sum() <= 3  # the low colour at the bottom
    text = strip[:, bar_columns[-1] + 2 :]
    white = (text.min(axis=-1) > 150).nonzero()[0]
    assert white.size and white.min() < HEIGHT / 3 and white.max() > 2 * HEIGHT / 3  # both values written


def test_the_truth_is_drawn_in_the_truth_colour(tmp_path):
    image = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[60:80, 20:50] = True
    pixels = read(write_overlay(image, np.zeros((4, 4)), tmp_path / "t.png", alpha=0.0, truth_boxes=[(70, 10, 110, 40)],
                               truth_points=[(100.5, 70.5)], truth_mask=mask, colour_bar=False))
    truth = np.array(matplotlib.colors.to_rgb(TRUTH_COLOUR)) * 255
    magenta = np.abs(pixels - truth).sum(axis=-1) < 10
    assert magenta[10, 70:110].all() and magenta[10:40, 70].all()  # the box's outline
    assert magenta[60, 20:50].all() and magenta[60:80, 20].all() and not magenta[70, 35]  # the mask's outline
    assert magenta[70, 100] and magenta[50:90, 85:116].sum() > 20  # the point, a cross in a circle
    assert not magenta[:, :15].any()


def test_distinct_scores_are_written_distinct():
    assert score_texts([0.87, 0.5]) == ["0.87", "0.50"]
    assert score_texts([0.9991, 0.9994, 0.9991]) == ["0.9991", "0.9994", "0.9991"]
    assert score_texts([0.999880, 0.999085]) == ["1.000", "0.999"]
    assert score_texts([13.588614, 8.220282]) == ["13.59", "8.22"]
    assert len(set(score_texts([1.0, 1.0 - 1e-9]))) == 1  # past 6 decimals they stay alike


def test_box_captions_tell_nearly_equal_scores_apart(tmp_path, monkeypatch):
    from monai_weakloc.report import overlay

    written = []
    monkeypatch.setattr(overlay, "_caption", lambda draw, position, label, score, colour, font: written.append(score))
    write_overlay(np.zeros((HEIGHT, WIDTH)), np.zeros((4, 4)), tmp_path / "s.png",
                  boxes=[(0, 0, 30, 30), (40, 40, 70, 70)], labels=["lesion"] * 2, scores=[0.99912, 0.99938])
    assert written == ["0.9991", "0.9994"]


def test_only_the_best_scored_labels_are_drawn(tmp_path):
    image = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    names = ["Atelectasis", "Effusion", "Mass", "Nodule"]
    boxes = [(4 + 30 * k, 10, 24 + 30 * k, 30) for k in range(4)]
    points = [(14.5 + 30 * k, 70.5) for k in range(4)]
    kwargs = {"alpha": 0.0, "colour_bar": False, "boxes": boxes, "labels": names, "scores": [0.1, 0.9, 0.2, 0.8],
                  "points": points, "point_labels": names, "point_scores": [0.1, 0.9, 0.2, 0.8]}
    green = read(write_overlay(image, np.zeros((4, 4)), tmp_path / "two.png", max_labels=2, **kwargs))[..., 1] > 150
    drawn = [bool(green[10, x0 : x1 - 1].all()) for x0, _, x1, _ in boxes]
    assert drawn == [False, True, False, True]
    assert [bool(green[70, int(x)]) for x, _ in points] == [False, True, False, True]
    every = read(write_overlay(image, np.zeros((4, 4)), tmp_path / "all.png", max_labels=None, **kwargs))[..., 1] > 150
    assert all(every[10, x0 : x1 - 1].all() for x0, _, x1, _ in boxes)
    with pytest.raises(ValueError, match="max_labels"):
        write_overlay(image, np.zeros((4, 4)), tmp_path / "x.png", max_labels=0)


def test_truth_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="truth_mask must have the image's shape"):
        write_overlay(np.zeros((16, 16)), np.zeros((4, 4)), tmp_path / "x.png", truth_mask=np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="truth_labels"):
        write_overlay(np.zeros((16, 16)), np.zeros((4, 4)), tmp_path / "x.png", truth_boxes=[(0, 0, 2, 2)],
                      truth_labels=["a", "b"])


def test_a_caption_at_the_right_edge_is_moved_inside_the_image(tmp_path):
    image = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    pixels = read(write_overlay(image, np.zeros((4, 4)), tmp_path / "c.png", alpha=0.0, colour_bar=False,
                               points=[(WIDTH - 2.5, 40.5)], point_labels=["Pneumonia"], point_scores=[0.88]))
    green = (pixels[..., 1] > 150) & (pixels[..., 0] < 100)
    caption = green[43:60]  # the caption's rows, below the point's cross
    assert caption[:, : WIDTH - 20].any()  # written leftwards from the edge, not cut off by it
