from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from monai_weakloc.localize.candidate_refinement import refine_candidates

HEIGHT, WIDTH, PATCH = 40, 48, 7


class TinyPatchClassifier(nn.Module):
    """Two-class patch classifier with batch norm (so that eval mode matters); counts its calls."""

    def __init__(self, as_dict: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(4, 2)
        self.as_dict = as_dict
        self.calls = 0
        self.batch_sizes: list[int] = []

    def forward(self, patches: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        self.calls += 1
        self.batch_sizes.append(patches.shape[0])
        embedding = self.features(patches).flatten(1)
        logits = self.head(embedding)
        return {"logits": logits, "embedding": embedding} if self.as_dict else logits


def _network(as_dict: bool = False) -> TinyPatchClassifier:
    torch.manual_seed(0)
    network = TinyPatchClassifier(as_dict)
    with torch.no_grad():  # non-trivial running statistics, so that train-mode batch norm would differ
        network.features[1].running_mean.uniform_(-0.5, 0.5)
        network.features[1].running_var.uniform_(0.5, 2.0)
    return network


def _image_and_map() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(3, HEIGHT, WIDTH, generator=generator) + 0.5  # no zeros, so padding shows
    probability_map = torch.rand(HEIGHT, WIDTH, generator=generator)
    return image, probability_map


def _hand_patch(image: torch.Tensor, row: int, col: int, size: int) -> torch.Tensor:
    """The (C, size, size) patch centred on (row, col), zeros outside the image, built pixel by pixel."""
    radius = size // 2
    patch = torch.zeros(image.shape[0], size, size)
    for i in range(size):
        for j in range(size):
            r, c = row - radius + i, col - radius + j
            if 0 <= r < image.shape[1] and 0 <= c < image.shape[2]:
                patch[:, i, j] = image[:, r, c]
    return patch


def _one_at_a_time(network: TinyPatchClassifier, image: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    expected = torch.zeros(image.shape[1:])
    network.eval()
    with torch.no_grad():
        for row, col in candidates.nonzero().tolist():
            logits = network(_hand_patch(image, row, col, PATCH)[None])
            logits = logits["logits"] if isinstance(logits, dict) else logits
            expected[row, col] = F.softmax(logits, dim=1)[0, 1]
    return expected


@pytest.mark.parametrize("as_dict", [False, True])
def test_refined_map_equals_one_patch_at_a_time(as_dict):
    image, probability_map = _image_and_map()
    network = _network(as_dict)
    refined, count = refine_candidates(
        network, image, probability_map, threshold=0.9, patch_size=PATCH, batch_size=16,
        logits_key="logits" if as_dict else None,
    )
    candidates = probability_map > 0.9
    assert count == int(candidates.sum()) > 16  # several batches
    assert network.batch_sizes[:-1] == [16] * (len(network.batch_sizes) - 1)
    assert network.training  # back to its mode
    assert refined.shape == (HEIGHT, WIDTH) and refined.dtype == torch.float32
    torch.testing.assert_close(refined, _one_at_a_time(network, image, candidates), atol=1e-5, rtol=0)
    assert torch.all(refined[~candidates] == 0)
    assert torch.all(refined[candidates] > 0)


def test_field_of_view_excludes_candidates():
    image, probability_map = _image_and_map()
    field_of_view = torch.zeros(HEIGHT, WIDTH, dtype=torch.bool)
    field_of_view[10:30, 12:36] = True
    refined, count = refine_candidates(
        _network(), image, probability_map, threshold=0.5, patch_size=PATCH, batch_size=64, field_of_view=field_of_view
    )
    assert count == int(((probability_map > 0.5) & field_of_view).sum())
    assert torch.all(refined[~field_of_view] == 0)
    assert torch.all((refined > 0) == ((probability_map > 0.5) & field_of_view))


def test_corner_candidate_gets_a_zero_padded_patch():
    image, _ = _image_and_map()
    probability_map = torch.zeros(HEIGHT, WIDTH)
    probability_map[0, WIDTH - 1] = 1.0
    seen: list[torch.Tensor] = []

    def network(patches: torch.Tensor) -> torch.Tensor:
        seen.append(patches.clone())
        return torch.zeros(patches.shape[0], 2)

    refined, count = refine_candidates(network, image, probability_map, 0.5, PATCH, batch_size=8)
    assert count == 1 and len(seen) == 1
    patch = seen[0][0]
    torch.testing.assert_close(patch, _hand_patch(image, 0, WIDTH - 1, PATCH), atol=0, rtol=0)
    assert torch.all(patch[:, :3] == 0) and torch.all(patch[:, :, 4:] == 0)  # rows above, columns right
    assert torch.equal(patch[:, 3, 3], image[:, 0, WIDTH - 1])  # the centre is the candidate
    assert refined[0, WIDTH - 1] == 0.5 and refined.count_nonzero() == 1


def test_threshold_above_the_maximum_calls_no_network():
    image, probability_map = _image_and_map()
    network = _network()
    refined, count = refine_candidates(network, image, probability_map, 1.5, PATCH, batch_size=8)
    assert count == 0 and network.calls == 0
    assert refined.shape == (HEIGHT, WIDTH) and not refined.any()


def test_a_batch_of_images_matches_each_image_alone():
    image, probability_map = _image_and_map()
    images = torch.stack([image, image.flip(-1)])
    maps = torch.stack([probability_map, probability_map.flip(0)])[:, None]
    field_of_view = torch.ones(2, 1, HEIGHT, WIDTH)
    field_of_view[1, :, :, : WIDTH // 2] = 0
    network = _network()
    refined, count = refine_candidates(network, images, maps, 0.8, PATCH, batch_size=32, field_of_view=field_of_view)
    assert refined.shape == (2, 1, HEIGHT, WIDTH)
    for index in range(2):
        alone, _ = refine_candidates(
            network, images[index], maps[index, 0], 0.8, PATCH, batch_size=5, field_of_view=field_of_view[index, 0]
        )
        torch.testing.assert_close(refined[index, 0], alone, atol=1e-6, rtol=0)
    assert count == int(((maps > 0.8) & (field_of_view > 0)).sum())
    assert not refined[1, 0, :, : WIDTH // 2].any()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"patch_size": 6}, "patch_size must be odd"),
        ({"patch_size": 0}, "patch_size must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"probability_map": torch.zeros(HEIGHT, WIDTH - 1)}, r"probability_map size \(40, 47\) differs .* \(40, 48\)"),
        ({"probability_map": torch.zeros(1, HEIGHT, WIDTH)}, r"probability_map must have shape \(H, W\)"),
        ({"field_of_view": torch.ones(HEIGHT + 1, WIDTH)}, r"field_of_view size \(41, 48\) differs"),
        ({"positive_class": 2}, "positive_class 2 is out of range for 2 classes"),
        ({"logits_key": "scores"}, "logits_key 'scores' is not among"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_them(arguments, message):
    image, probability_map = _image_and_map()
    call = {
        "network": _network(as_dict=True),
        "image": image,
        "probability_map": probability_map,
        "threshold": 0.5,
        "patch_size": PATCH,
        "batch_size": 8,
        "logits_key": "logits",
        **arguments,
    }
    with pytest.raises(ValueError, match=message):
        refine_candidates(**call)


def test_a_dict_output_without_logits_key_is_a_type_error():
    image, probability_map = _image_and_map()
    with pytest.raises(TypeError, match=r"keys \['embedding', 'logits'\]; pass logits_key"):
        refine_candidates(_network(as_dict=True), image, probability_map, 0.5, PATCH, batch_size=8)
