"""MONAI conformance of the multi_attention bundle: metadata, workflow properties, network input/output, export.

The network (``network_def``, :class:`weakloc_networks.multi_attention.MultiAttentionNetwork`) returns a dict
``{"logits", "maps"}``; MONAI's ``verify_net_in_out`` reads ``output.shape`` of a tensor and cannot check it, so the
test checks by hand what it would check, on the output the metadata describes (``pred``: the label probabilities).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow, ckpt_export, verify_metadata, verify_net_in_out
from weakloc_networks.multi_attention import MultiAttentionNetwork

from monai_weakloc.data.synthetic import synthesize

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "multi_attention" / "configs"
METADATA = CONFIGS / "metadata.json"
TRAIN, INFERENCE, QUICK = CONFIGS / "train.json", CONFIGS / "inference.json", CONFIGS / "quick.json"
OUTPUT_KEYS = {"logits", "maps"}


@pytest.fixture(scope="module")
def chest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic ChestX-ray14 set whose images are quick.json's 146 px."""
    return synthesize("chestxray14", tmp_path_factory.mktemp("cxr14"), num_images=30, image_size=146, seed=0)


def test_metadata_verifies_against_the_schema():
    verify_metadata(meta_file=str(METADATA), filepath=str(REPO / "schemas" / "meta_schema.json"))


@pytest.mark.parametrize(
    ("workflow_type", "config_files"),
    [("train", [TRAIN, QUICK]), ("infer", [TRAIN, INFERENCE, QUICK])],
    ids=["train", "infer"],
)
def test_workflow_has_every_required_property(workflow_type, config_files, chest_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    workflow = ConfigWorkflow(
        config_file=[str(path) for path in config_files],
        meta_file=str(METADATA),
        logging_file=False,
        workflow_type=workflow_type,
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=str(chest_dir),
        num_workers=0,
        cache_rate=0.0,
    )
    workflow.initialize()
    assert workflow.check_properties() == []
    assert workflow.network_def.__class__ is MultiAttentionNetwork
    if workflow_type == "train":
        assert workflow.trainer is workflow.parser.get_parsed_content("train#trainer")
        checkpoint = workflow.parser.get_parsed_content("train#checkpoint_objects")
        assert {"network", "optimizer", "lr_scheduler", "sampler", "epoch_record"} <= set(checkpoint)
    else:
        test_ids = {r["id"] for r in workflow.parser.get_parsed_content("records") if r["split"] == "test"}
        assert {record["id"] for record in workflow.dataset_data} == test_ids


def test_verify_net_in_out_cannot_read_a_dict_output():
    with pytest.raises(AttributeError, match="'dict' object has no attribute 'shape'"):
        verify_net_in_out("network_def", meta_file=str(METADATA), config_file=[str(TRAIN), str(QUICK)], device="cpu")


def test_the_quick_network_has_the_metadata_output_for_the_metadata_input():
    """What ``verify_net_in_out`` checks, on the dict: 3 x 224 x 224 float input, 14 logits whose sigmoid lies in
    the declared range, and 7 x 7 maps (the paper's) per label."""
    metadata = json.loads(METADATA.read_text())["network_data_format"]
    image, pred = metadata["inputs"]["image"], metadata["outputs"]["pred"]
    parser = ConfigParser()
    parser.read_config([str(TRAIN), str(QUICK)])
    network = parser.get_parsed_content("network_def").eval()
    x = torch.rand(1, image["num_channels"], *image["spatial_shape"])
    with torch.no_grad():
        output = network(x)
    assert set(output) == OUTPUT_KEYS
    assert output["logits"].shape == (1, pred["num_channels"]) and output["logits"].dtype == torch.float32
    assert output["maps"].shape == (1, pred["num_channels"], 7, 7)
    low, high = pred["value_range"]
    assert low <= output["logits"].sigmoid().min() and output["logits"].sigmoid().max() <= high
    assert list(pred["channel_def"].values()) == parser.get_parsed_content("class_names")


def test_ckpt_export_gives_torchscript_equal_to_the_network_and_torch_export_too(tmp_path):
    """The quick network (the paper's scripts the same way, only slower) from a checkpoint: ``ckpt_export``'s
    TorchScript, and a ``torch.export`` program, equal to the network at two input sizes (scripted, not traced)."""
    parser = ConfigParser()
    parser.read_config([str(TRAIN), str(QUICK)])
    network = parser.get_parsed_content("network_def", instantiate=True, lazy=False).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.01 * torch.randn(parameter.shape, generator=generator))
    checkpoint = tmp_path / "model.pt"
    torch.save(network.state_dict(), checkpoint)
    exported = tmp_path / "multi_attention.ts"
    ckpt_export(
        "network_def",
        filepath=str(exported),
        ckpt_file=str(checkpoint),
        meta_file=str(METADATA),
        config_file=[str(TRAIN), str(QUICK)],
    )
    torchscript = torch.jit.load(str(exported)).eval()
    images = torch.rand(2, 3, 128, 128, generator=generator)
    program = torch.export.export(network, (images,))
    torch.export.save(program, str(tmp_path / "multi_attention.pt2"))
    loaded = torch.export.load(str(tmp_path / "multi_attention.pt2")).module()
    with torch.no_grad():
        eager, from_program = network(images), loaded(images)
        for key in OUTPUT_KEYS:
            torch.testing.assert_close(torchscript(images)[key], eager[key], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(from_program[key], eager[key], atol=1e-5, rtol=1e-5)
        other = torch.rand(1, 3, 96, 160, generator=generator)
        for key in OUTPUT_KEYS:
            torch.testing.assert_close(torchscript(other)[key], network(other)[key], atol=1e-5, rtol=1e-5)
