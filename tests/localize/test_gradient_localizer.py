"""GradientLocalizer: saliency maps and their maxima inside MONAI evaluators, no_grad and inference mode."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from ignite.engine import Events
from ignite.metrics import Accuracy
from monai.bundle import ConfigParser
from monai.data import DataLoader, Dataset, MetaTensor
from monai.engines import SupervisedEvaluator
from monai.utils import CommonKeys
from torch import nn

from monai_weakloc import registry
from monai_weakloc.engines.localizer_probabilities import LocalizerProbabilities
from monai_weakloc.localize import Localization, gradient_saliency, guided_backprop_saliency
from monai_weakloc.localize.gradient_localizer import GradientLocalizer

NUM_CLASSES = 3
SIZE = 32


def _network() -> nn.Module:
    torch.manual_seed(0)
    network = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 6, 3, padding=1),
            norm1=nn.BatchNorm2d(6),
            relu1=nn.ReLU(),
            conv2=nn.Conv2d(6, 8, 3, padding=1),
            relu2=nn.ReLU(inplace=True),
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(8, NUM_CLASSES),
        )
    )
    with torch.no_grad():  # batch-norm statistics that make eval mode matter
        network.norm1.running_mean.uniform_(-0.5, 0.5)
        network.norm1.running_var.uniform_(0.5, 2.0)
    return network


class _DictNetwork(nn.Module):
    """A network whose forward returns a dict, as Zoom-in-Net's does."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = _network()

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.classifier(images), "features": images.mean(dim=1)}


def _images(count: int = 6) -> torch.Tensor:
    return torch.randn(count, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _input_gradient_as_is(network: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Input gradient of class 0 in whatever autograd mode the caller is in."""
    inputs = images.clone().requires_grad_(True)
    network(inputs)[:, 0].sum().backward()
    return inputs.grad


def _evaluator(network: nn.Module, images: torch.Tensor, **options) -> SupervisedEvaluator:
    data = [{CommonKeys.IMAGE: image, CommonKeys.LABEL: index % NUM_CLASSES} for index, image in enumerate(images)]
    loader = DataLoader(Dataset(data), batch_size=4, shuffle=False, num_workers=0)
    return SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=loader, network=network, decollate=False, **options
    )


def _collect(engine: SupervisedEvaluator, localizer: GradientLocalizer, event, found: list[Localization]) -> None:
    @engine.on(event)
    def localize(engine: SupervisedEvaluator) -> None:
        found.append(localizer(engine.state.output[CommonKeys.PRED], engine.state.batch))


@pytest.mark.parametrize(
    "method, saliency", [("guided_backprop", guided_backprop_saliency), ("gradient", gradient_saliency)]
)
def test_maps_inside_an_evaluator_equal_the_maps_outside(method, saliency):
    network = _network()
    images = _images()
    expected = saliency(network, images)
    localizer = GradientLocalizer(network, method=method)
    inside_forward: list[Localization] = []

    def localizing_inferer(inputs: torch.Tensor, network: nn.Module) -> torch.Tensor:
        """The forward inside MONAI's eval_mode, i.e. under torch.no_grad, localizing there as well."""
        assert not torch.is_grad_enabled()
        logits = network(inputs)
        inside_forward.append(localizer(logits, {CommonKeys.IMAGE: inputs}))
        return logits

    evaluator = _evaluator(
        network,
        images,
        inferer=localizing_inferer,
        key_val_metric={"accuracy": Accuracy(LocalizerProbabilities(localizer))},
    )
    after_forward: list[Localization] = []
    _collect(evaluator, localizer, Events.ITERATION_COMPLETED, after_forward)  # as the output writer runs
    evaluator.run()

    with torch.no_grad():
        logits = network.eval()(images)
    for found in (after_forward, inside_forward):
        maps = torch.cat([localization.heatmaps[method] for localization in found])
        assert torch.allclose(maps, expected, atol=1e-6)
        assert maps.abs().sum() > 0
        probabilities = torch.cat([localization.probabilities for localization in found])
        assert torch.allclose(probabilities, torch.softmax(logits, dim=1), atol=1e-6)
    labels = torch.arange(len(images)) % NUM_CLASSES
    assert evaluator.state.metrics["accuracy"] == pytest.approx((logits.argmax(dim=1) == labels).float().mean().item())


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_a_run_without_autograd_gives_the_same_maps(context):
    network = _network()
    images = _images()
    expected = guided_backprop_saliency(network, images, target_classes=1)
    localizer = GradientLocalizer(network, target_class=1)
    evaluator = _evaluator(network, images)
    found: list[Localization] = []
    _collect(evaluator, localizer, Events.ITERATION_COMPLETED, found)
    with context():
        evaluator.run()
    maps = torch.cat([localization.heatmaps["guided_backprop"] for localization in found])
    assert torch.allclose(maps, expected, atol=1e-6)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_the_localizer_gets_gradients_where_autograd_is_off(context):
    network = _network()
    with context():
        images = _images(2)
        pred = network(images)
        with pytest.raises(RuntimeError):  # a gradient pass that does not switch autograd back on
            _input_gradient_as_is(network, images)
        localization = GradientLocalizer(network)(pred, {CommonKeys.IMAGE: images})
    assert localization.heatmaps["guided_backprop"].shape == (2, SIZE, SIZE)
    assert (localization.heatmaps["guided_backprop"].flatten(1).abs().sum(dim=1) > 0).all()


def test_parameter_gradients_stay_none_and_modes_are_restored():
    network = _network().train()  # a network validated during training is in train mode between iterations
    localization = GradientLocalizer(network)(torch.zeros(2, NUM_CLASSES), {CommonKeys.IMAGE: _images(2)})
    assert torch.allclose(localization.heatmaps["guided_backprop"], guided_backprop_saliency(network, _images(2), 0))
    assert all(parameter.grad is None for parameter in network.parameters())
    assert all(module.training for module in network.modules())


def test_the_point_is_the_arg_max_inside_the_field_of_view():
    network = _network()
    images = _images(2)
    localizer = GradientLocalizer(network, method="gradient", class_names=["a", "b", "c"], target_class=2)
    localization = localizer(network.eval()(images).detach(), {CommonKeys.IMAGE: images})
    maps = localization.heatmaps["gradient"]
    for index, points in enumerate(localization.points):
        row, col = divmod(int(maps[index].argmax()), SIZE)
        assert points.coordinates.tolist() == [[col + 0.5, row + 0.5]]
        assert points.labels == ["c"] and points.scores.tolist() == pytest.approx([maps[index, row, col].item()])

    field_of_view = torch.ones(2, 1, SIZE, SIZE)
    for index in range(2):  # a disc of radius 4 around each global maximum is outside
        row, col = divmod(int(maps[index].argmax()), SIZE)
        rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
        field_of_view[index, 0][(rows - row) ** 2 + (cols - col) ** 2 <= 16] = 0
    batch = {CommonKeys.IMAGE: MetaTensor(images), "fov": field_of_view}
    masked = localizer(network(images).detach(), batch)
    assert torch.allclose(masked.heatmaps["gradient"], maps)  # the heatmap itself is not masked
    for index, points in enumerate(masked.points):
        inside = maps[index].masked_fill(field_of_view[index, 0] == 0, -torch.inf)
        row, col = divmod(int(inside.argmax()), SIZE)
        assert points.coordinates.tolist() == [[col + 0.5, row + 0.5]]
        assert field_of_view[index, 0, row, col] == 1
        assert points.scores.item() == pytest.approx(maps[index, row, col].item())
        assert points.scores.item() < maps[index].max()

    field_of_view[1] = 0  # nothing to look at: no point
    empty = localizer(network(images).detach(), {CommonKeys.IMAGE: images, "fov": field_of_view})
    assert len(empty.points[0].labels) == 1 and len(empty.points[1].labels) == 0


def test_dict_outputs_and_multi_label_probabilities():
    network = _DictNetwork()
    images = _images(2)
    pred = network.eval()(images)
    localizer = GradientLocalizer(network, probability_kind="multi_label", logits_key="logits", heatmap_name="saliency")
    localization = localizer(pred, {CommonKeys.IMAGE: images})
    assert torch.allclose(localization.probabilities, torch.sigmoid(pred["logits"]))
    assert torch.allclose(localization.heatmaps["saliency"], guided_backprop_saliency(network.classifier, images))
    with pytest.raises(TypeError, match="logits_key"):
        GradientLocalizer(network)(pred, {CommonKeys.IMAGE: images})
    with pytest.raises(KeyError, match="'scores'"):
        GradientLocalizer(network, logits_key="scores")(pred, {CommonKeys.IMAGE: images})


def test_without_a_batch_only_probabilities():
    network = _network()
    logits = torch.randn(2, NUM_CLASSES)
    localization = GradientLocalizer(network)(logits)
    assert torch.allclose(localization.probabilities, torch.softmax(logits, dim=1))
    assert localization.heatmaps == {} and localization.points is None


@pytest.mark.parametrize(
    "options, field",
    [
        ({"method": "grad_cam"}, "method"),
        ({"target_class": -1}, "target_class"),
        ({"target_class": 1.0}, "target_class"),
        ({"target_class": 3, "class_names": ["a", "b", "c"]}, "target_class"),
        ({"probability_kind": "softmax"}, "probability_kind"),
        ({"heatmap_name": ""}, "heatmap_name"),
    ],
)
def test_bad_options_raise_naming_the_field(options, field):
    with pytest.raises(ValueError, match=field):
        GradientLocalizer(_network(), **options)


def test_bad_inputs_raise_naming_what_is_wrong():
    network = _network()
    images = _images(2)
    with pytest.raises(ValueError, match="target_class 5 out of range for 3 classes"):
        GradientLocalizer(network, target_class=5)(torch.zeros(2, NUM_CLASSES), {CommonKeys.IMAGE: images})
    with pytest.raises(ValueError, match="images must be"):
        GradientLocalizer(network)(torch.zeros(2, NUM_CLASSES), {CommonKeys.IMAGE: images[:, 0]})
    with pytest.raises(ValueError, match="logits must be"):
        GradientLocalizer(network)(torch.zeros(2, NUM_CLASSES, 1), {CommonKeys.IMAGE: images})
    with pytest.raises(TypeError, match="batch must be a dict"):
        GradientLocalizer(network)(torch.zeros(2, NUM_CLASSES), (images, None))
    with pytest.raises(TypeError, match="network"):
        GradientLocalizer(lambda images: images)


def test_the_host_registers_both_methods_and_a_config_builds_them():
    assert {"guided_backprop", "gradient"} <= set(registry.names("localizer"))
    assert registry.REGISTRY.owner("localizer", "guided_backprop") == registry.HOST_PLUGIN
    parser = ConfigParser(
        {
            "network": {"_target_": "torch.nn.Sequential"},
            "localizer": {
                "_target_": "monai_weakloc.registry.create",
                "kind": "localizer",
                "name": "gradient",
                "network": "@network",
                "target_class": 1,
            },
        }
    )
    localizer = parser.get_parsed_content("localizer")
    assert isinstance(localizer, GradientLocalizer)
    assert localizer.method == "gradient" and localizer.heatmap_name == "gradient" and localizer.target_class == 1
    assert registry.create("localizer", "guided_backprop", network=_network()).method == "guided_backprop"
