"""MONAI conformance of the ma_segmentation bundle: metadata, workflow properties, verify_net_in_out, ckpt_export.

The bundle's network (``network_def``) is the full-scale HGN, an FRRN-A; ``ckpt_export`` scripts it from the
checkpoint that training writes to ``<ckpt_dir>/hgn_1x/model.pt`` (a plain state dict), with no extra config.
MONAI's bundle commands are called in-process: ``python -m monai.bundle <command> --arg value`` calls the same
function with the same arguments (through ``fire``), and each subprocess would cost an import of torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow, ckpt_export, verify_metadata, verify_net_in_out

from monai_weakloc.data.synthetic import synthesize
from weakloc_networks.frrn import FRRN

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "ma_segmentation" / "configs"
METADATA = CONFIGS / "metadata.json"
TRAIN = CONFIGS / "train.json"
INFERENCE = CONFIGS / "inference.json"
QUICK = CONFIGS / "quick.json"


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
def idrid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic IDRiD dataset whose training images (448 x 298 px) are at least twice train.json's
    128 px HGN patch, as the half-scale HGN needs."""
    return synthesize("idrid", tmp_path_factory.mktemp("idrid"), num_images=16, image_size=448, seed=0)


def test_metadata_verifies_against_the_schema():
    verify_metadata(meta_file=str(METADATA), filepath=str(REPO / "schemas" / "meta_schema.json"))  # raises if not


@pytest.mark.parametrize(
    ("workflow_type", "config_files"), [("train", [TRAIN]), ("infer", [TRAIN, INFERENCE])], ids=["train", "infer"]
)
def test_workflow_has_every_required_property(workflow_type, config_files, idrid_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    workflow = ConfigWorkflow(
        config_file=[str(path) for path in config_files],
        meta_file=str(METADATA),
        logging_file=False,
        workflow_type=workflow_type,
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=str(idrid_dir),
        num_workers=0,
        cache_rate=0.0,  # the datasets hold their records; nothing is decoded before training
    )
    workflow.initialize()
    assert workflow.check_properties() == []
    assert workflow.network_def.__class__ is FRRN
    assert workflow.dataset_dir == str(idrid_dir)
    if workflow_type == "train":
        # the standard ids are the full-scale HGN stage's: its trainer, its checkpoint folder, its validation
        assert workflow.trainer is workflow.parser.get_parsed_content("train#trainer")
        assert workflow.trainer.network is workflow.network_def
        assert workflow.evaluator is workflow.parser.get_parsed_content("validate#evaluator")
        records = workflow.parser.get_parsed_content("train_images#records")
        assert {record["healthy"] for record in records} == {False, True}
        assert workflow.parser.get_parsed_content("train#ckpt_dir") == str(tmp_path / "bundle" / "models" / "hgn_1x")
    else:
        records = workflow.dataset_data
        assert all(Path(record["image"]).parent.name == "b. Testing Set" for record in records)
    assert records and all(Path(record["image"]).is_relative_to(idrid_dir) for record in records)


@pytest.mark.slow
def test_verify_net_in_out_passes_on_the_paper_network():
    verify_net_in_out("network_def", meta_file=str(METADATA), config_file=[str(TRAIN)], device="cpu")  # raises if not


def test_verify_net_in_out_catches_a_wrong_number_of_classes():
    with pytest.raises(ValueError, match="output channel number `2` doesn't match: `3`"):
        verify_net_in_out(
            "network_def", meta_file=str(METADATA), config_file=[str(TRAIN), str(QUICK)], device="cpu",
            **{"_meta_#network_data_format#outputs#pred#num_channels": 3},
        )


def test_ckpt_export_of_the_trained_hgn_gives_torchscript_equal_to_the_network(tmp_path):
    """The HGN of quick.json (the paper's FRRN-A scripts the same way, only slower), from the checkpoint path that
    training writes."""
    bundle_root = tmp_path / "bundle"
    parser = ConfigParser()
    parser.read_config([str(TRAIN), str(QUICK)])
    parser["bundle_root"] = str(bundle_root)
    checkpoint = Path(parser.get_parsed_content("train#ckpt_dir")) / "model.pt"
    checkpoint.parent.mkdir(parents=True)
    torch.save(randomized(parser.get_parsed_content("network_def"), seed=1).state_dict(), checkpoint)
    exported = tmp_path / "hgn_1x.ts"

    ckpt_export(
        "network_def", filepath=str(exported), ckpt_file=str(checkpoint), meta_file=str(METADATA),
        config_file=[str(TRAIN), str(QUICK)],
    )

    extra_files = {"metadata.json": "", "train.json": "", "quick.json": ""}
    torchscript = torch.jit.load(str(exported), _extra_files=extra_files).eval()
    metadata = json.loads(extra_files["metadata.json"])
    assert json.loads(extra_files["train.json"])["network_def"] == "%hgn_network_def"
    assert json.loads(extra_files["quick.json"])["hgn"]["encoder_units"] == [1, 1]
    network = parser.get_parsed_content("network_def", instantiate=True, lazy=False).eval()
    network.load_state_dict(torch.load(checkpoint, weights_only=True))
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        # the metadata's input, and a whole image of another size: scripted, not traced at one size
        for size in (metadata["network_data_format"]["inputs"]["image"]["spatial_shape"], [96, 160]):
            images = torch.rand(1, 3, *size, generator=generator)
            logits = torchscript(images)
            assert logits.shape == (1, 2, *size)
            torch.testing.assert_close(logits, network(images), atol=1e-5, rtol=1e-5)
        with pytest.raises(torch.jit.Error, match=r"FRRN: input size \[96, 98\] must be divisible by 4"):
            torchscript(torch.rand(1, 3, 96, 98))
