"""MONAI conformance of the self_transfer bundle: metadata, workflow properties, network input/output, ckpt_export.

The network (``network_def``, :class:`weakloc_networks.self_transfer.SelfTransferNetwork`) returns a dict
``{"classifier", "localizer", "maps"}``: the classifier's and the localizer's class logits (B, classes) and the
localizer's activation maps. MONAI's ``verify_net_in_out`` reads ``output.shape`` and ``output.dtype`` of a
tensor, so it cannot check a dict output (it stops with ``AttributeError``); the tests show that and check by hand
what it would check, on the output the metadata describes (``pred``: the localizer's class probabilities).
MONAI's bundle commands are called in-process, as ``python -m monai.bundle <command>`` calls the same functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow, ckpt_export, verify_metadata, verify_net_in_out

from monai_weakloc.data.synthetic import synthesize
from weakloc_networks.self_transfer import SelfTransferNetwork

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "self_transfer" / "configs"
METADATA = CONFIGS / "metadata.json"
TRAIN = CONFIGS / "train.json"
INFERENCE = CONFIGS / "inference.json"
QUICK = CONFIGS / "quick.json"
OUTPUT_KEYS = {"classifier", "localizer", "maps"}


def randomized(network: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The network in eval mode with its weights and batch-norm statistics perturbed by a seeded generator, so
    that a state dict that was not loaded shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in network.state_dict().items():
            if name.endswith("running_var"):
                tensor.mul_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn(tensor.shape, generator=generator))
    return network.eval()


@pytest.fixture(scope="module")
def tb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic TB chest X-ray set whose images are quick.json's 256 px."""
    return synthesize("tb_cxr", tmp_path_factory.mktemp("tb"), num_images=20, image_size=256, seed=0)


def test_metadata_verifies_against_the_schema():
    verify_metadata(meta_file=str(METADATA), filepath=str(REPO / "schemas" / "meta_schema.json"))  # raises if not


@pytest.mark.parametrize(
    ("workflow_type", "config_files"), [("train", [TRAIN]), ("infer", [TRAIN, INFERENCE])], ids=["train", "infer"]
)
def test_workflow_has_every_required_property(workflow_type, config_files, tb_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    workflow = ConfigWorkflow(
        config_file=[str(path) for path in config_files],
        meta_file=str(METADATA),
        logging_file=False,
        workflow_type=workflow_type,
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=str(tb_dir),
        image_size=256,
        num_workers=0,
        cache_rate=0.0,  # the datasets hold their records; nothing is decoded before training
    )
    workflow.initialize()
    assert workflow.check_properties() == []
    assert workflow.network_def.__class__ is SelfTransferNetwork
    assert workflow.dataset_dir == str(tb_dir)
    if workflow_type == "train":
        assert workflow.trainer is workflow.parser.get_parsed_content("train#trainer")
        assert workflow.evaluator is workflow.parser.get_parsed_content("validate#evaluator")
        records = workflow.parser.get_parsed_content("train#records")
        assert {record["label"] for record in records} == {0, 1}
    else:
        records = workflow.dataset_data
        test_ids = {r["id"] for r in workflow.parser.get_parsed_content("records") if r["split"] == "test"}
        assert {record["id"] for record in records} == test_ids
    assert records and all(Path(record["image"]).is_relative_to(tb_dir) for record in records)


def test_verify_net_in_out_cannot_read_a_dict_output():
    """MONAI's check reads ``output.shape[1]``; the network's dict has none. See the next test."""
    with pytest.raises(AttributeError, match="'dict' object has no attribute 'shape'"):
        verify_net_in_out("network_def", meta_file=str(METADATA), config_file=[str(TRAIN), str(QUICK)], device="cpu")


@pytest.mark.slow
def test_the_paper_network_has_the_metadata_input_and_output():
    """What ``verify_net_in_out`` checks, on the dict: the metadata's 1 x 500 x 500 float input gives the
    localizer's logits of ``num_channels`` classes, float32, whose softmax lies in the declared value range."""
    metadata = json.loads(METADATA.read_text())["network_data_format"]
    image, pred = metadata["inputs"]["image"], metadata["outputs"]["pred"]
    parser = ConfigParser()
    parser.read_config([str(TRAIN)])
    network = parser.get_parsed_content("network_def").eval()
    assert network.min_input_size <= min(image["spatial_shape"])
    x = torch.rand(1, image["num_channels"], *image["spatial_shape"], dtype=getattr(torch, image["dtype"]))
    with torch.no_grad():
        output = network(x)
    assert set(output) == OUTPUT_KEYS
    for key in ("classifier", "localizer"):
        assert output[key].shape == (1, pred["num_channels"]) == (1, *pred["spatial_shape"]), key
        assert output[key].dtype == getattr(torch, pred["dtype"]), key
    assert output["maps"].shape == (1, pred["num_channels"], 15, 15)  # the paper's 15 x 15 maps at 500 px
    probabilities = output["localizer"].softmax(dim=1)
    low, high = pred["value_range"]
    assert low <= probabilities.min() and probabilities.max() <= high
    assert len(pred["channel_def"]) == pred["num_channels"] == parser.get_parsed_content("num_classes")


def test_ckpt_export_of_the_trained_network_gives_torchscript_equal_to_the_network(tmp_path):
    """The network of quick.json (the paper's scripts the same way, only slower), from the model.pt that training
    writes to ckpt_dir and inference loads."""
    parser = ConfigParser()
    parser.read_config([str(TRAIN), str(QUICK)])
    parser["bundle_root"] = str(tmp_path / "bundle")
    checkpoint = Path(parser.get_parsed_content("ckpt_dir")) / "model.pt"
    checkpoint.parent.mkdir(parents=True)
    torch.save(randomized(parser.get_parsed_content("network_def"), seed=1).state_dict(), checkpoint)
    exported = tmp_path / "self_transfer.ts"

    ckpt_export(
        "network_def", filepath=str(exported), ckpt_file=str(checkpoint), meta_file=str(METADATA),
        config_file=[str(TRAIN), str(QUICK)],
    )

    extra_files = {"metadata.json": "", "train.json": "", "quick.json": ""}
    torchscript = torch.jit.load(str(exported), _extra_files=extra_files).eval()
    assert json.loads(extra_files["metadata.json"])["network_data_format"]["outputs"]["pred"]["num_channels"] == 2
    assert json.loads(extra_files["quick.json"])["backbone"]["fc_channels"] == [64, 64]
    network = parser.get_parsed_content("network_def", instantiate=True, lazy=False).eval()
    network.load_state_dict(torch.load(checkpoint, weights_only=True))
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        # quick.json's input size, and another: scripted, not traced at one size
        for size in ([256, 256], [192, 224]):
            images = torch.rand(2, 1, *size, generator=generator)
            scripted, eager = torchscript(images), network(images)
            assert set(scripted) == set(eager) == OUTPUT_KEYS
            for key in OUTPUT_KEYS:
                torch.testing.assert_close(scripted[key], eager[key], atol=1e-5, rtol=1e-5)
        with pytest.raises(torch.jit.Error, match=r"SelfTransferNetwork: x must be \(B, 1, H, W\)"):
            torchscript(torch.rand(1, 3, 256, 256))
