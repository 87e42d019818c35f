"""MONAI conformance of the saliency_crop bundle: metadata, workflow properties, network input/output, ckpt_export.

The bundle trains two networks of the same structure (:class:`weakloc_networks.saliency_crop.SaliencyCropNetwork`):
``network_def`` on downsampled whole images (the metadata's 3 x 1024 x 1024 input) and ``crop_network_def`` on
full-resolution crops. Both return (B, 2) class logits, a tensor, so MONAI's ``verify_net_in_out`` checks them
directly. Training keeps each network in its stage's checkpoints (``<ckpt_dir>/image_network/checkpoint_<n>.pt``,
``<ckpt_dir>/crop_network/checkpoint_<n>.pt``, the network under the key ``network``), which inference loads; there
is no separate ``model.pt``, so ``ckpt_export`` reads the network from the checkpoint with ``key_in_ckpt``.
MONAI's bundle commands are called in-process, as ``python -m monai.bundle <command>`` calls the same functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow, ckpt_export, verify_metadata, verify_net_in_out

from monai_weakloc.data.synthetic import synthesize
from monai_weakloc.engines.checkpoint import atomic_torch_save
from monai_weakloc.transforms.mean_image import save_mean_image
from weakloc_networks.saliency_crop import SaliencyCropNetwork

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "saliency_crop" / "configs"
METADATA = CONFIGS / "metadata.json"
TRAIN = CONFIGS / "train.json"
INFERENCE = CONFIGS / "inference.json"
QUICK = CONFIGS / "quick.json"
IMAGE_SIZE = 1024  # train.json's image network input
CROP_SIZE = 32  # the synthetic images below are ~128 px; train.json's 512 px crops would reject them all

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
def eyepacs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic EyePACS set in the official layout."""
    return synthesize("eyepacs", tmp_path_factory.mktemp("eyepacs"), num_images=24, image_size=128, seed=0)


def workflow(workflow_type: str, eyepacs_dir: Path, tmp_path: Path) -> ConfigWorkflow:
    files = [TRAIN] if workflow_type == "train" else [TRAIN, INFERENCE]
    bundle_root = tmp_path / "bundle"
    # inference reads the mean image and the threshold that training writes when its config is parsed
    (bundle_root / "models").mkdir(parents=True)
    (bundle_root / "models" / "threshold.json").write_text(json.dumps({"threshold": 0.4, "num_images": 4}))
    if workflow_type == "infer":
        save_mean_image(bundle_root / "models" / "mean_image.pt", torch.zeros(3, IMAGE_SIZE, IMAGE_SIZE))
    return ConfigWorkflow(
        config_file=[str(path) for path in files],
        meta_file=str(METADATA),
        logging_file=False,
        workflow_type=workflow_type,
        bundle_root=str(bundle_root),
        dataset_dir=str(eyepacs_dir),
        crop_size=CROP_SIZE,
        num_workers=0,
        cache_rate=0.0,  # the datasets hold their records; nothing is decoded before training
    )


def test_metadata_verifies_against_the_schema():
    verify_metadata(meta_file=str(METADATA), filepath=str(REPO / "schemas" / "meta_schema.json"))  # raises if not


@pytest.mark.parametrize("workflow_type", ["train", "infer"])
def test_check_properties_reports_nothing_missing(workflow_type, eyepacs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    bundle = workflow(workflow_type, eyepacs_dir, tmp_path)
    bundle.initialize()
    assert bundle.check_properties() == []


@pytest.mark.parametrize("workflow_type", ["train", "infer"])
def test_the_workflow_properties_are_the_bundle_objects(workflow_type, eyepacs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    bundle = workflow(workflow_type, eyepacs_dir, tmp_path)
    bundle.initialize()
    assert bundle.network_def.__class__ is SaliencyCropNetwork
    assert bundle.dataset_dir == str(eyepacs_dir)
    assert bundle.bundle_root == str(tmp_path / "bundle")
    if workflow_type == "train":
        # the standard ids are the image network's stage: its trainer, its validation
        assert bundle.trainer is bundle.parser.get_parsed_content("train#trainer")
        assert bundle.trainer.network is bundle.network_def
        assert bundle.evaluator is bundle.parser.get_parsed_content("validate#evaluator")
        assert bundle.max_epochs == bundle.parser["max_epochs"]
        records = bundle.train_dataset_data
        assert {record["label"] for record in records} == {0, 1}
        assert all(Path(record["image"]).parent.name == "train" for record in records)
    else:
        records = bundle.dataset_data
        assert all(Path(record["image"]).parent.name == "test" for record in records)
        assert bundle.evaluator is bundle.parser.get_parsed_content("evaluator")
    assert records and all(Path(record["image"]).is_relative_to(eyepacs_dir) for record in records)


@pytest.mark.slow
@pytest.mark.parametrize("network_id", ["network_def", "crop_network_def"])
def test_verify_net_in_out_passes_on_the_paper_networks(network_id):
    """The metadata's 3 x 1024 x 1024 input; the crop network reads 512 px crops, so its input is overridden."""
    overrides = {}
    if network_id == "crop_network_def":
        overrides["_meta_#network_data_format#inputs#image#spatial_shape"] = [512, 512]
    verify_net_in_out(network_id, meta_file=str(METADATA), config_file=[str(TRAIN)], device="cpu", **overrides)


def test_verify_net_in_out_catches_a_wrong_number_of_classes():
    with pytest.raises(ValueError, match="output channel number `2` doesn't match: `3`"):
        verify_net_in_out(
            "network_def",
            meta_file=str(METADATA),
            config_file=[str(TRAIN), str(QUICK)],
            device="cpu",
            **{
                "_meta_#network_data_format#outputs#pred#num_channels": 3,
                "_meta_#network_data_format#inputs#image#spatial_shape": [
                    ConfigParser.load_config_file(QUICK)["image_size"]
                ]
                * 2,
            },
        )


def test_the_metadata_describes_the_networks():
    metadata = json.loads(METADATA.read_text())["network_data_format"]
    image, pred = metadata["inputs"]["image"], metadata["outputs"]["pred"]
    parser = ConfigParser()
    parser.read_config([str(TRAIN)])
    assert image["spatial_shape"] == [parser["image_size"]] * 2
    assert image["num_channels"] == 3
    assert pred["num_channels"] == parser["num_classes"] == len(pred["channel_def"]) == len(parser["class_names"])
    assert list(pred["channel_def"].values()) == parser["class_names"]


@pytest.mark.parametrize(
    ("network_id", "stage"), [("network_def", "image_network"), ("crop_network_def", "crop_network")]
)
def test_ckpt_export_of_the_trained_network_gives_torchscript_equal_to_the_network(network_id, stage, tmp_path):
    """The networks of quick.json (the paper's script the same way, only slower), from a checkpoint where training
    writes it and inference loads it, with the network under the key ``network``."""
    parser = ConfigParser()
    parser.read_config([str(TRAIN), str(QUICK)])
    parser["bundle_root"] = str(tmp_path / "bundle")
    checkpoint = Path(parser.get_parsed_content("ckpt_dir")) / stage / "checkpoint_12.pt"
    network = randomized(parser.get_parsed_content(network_id), seed=1)
    atomic_torch_save({"network": network.state_dict(), "optimizer": {}, "trainer": {"iteration": 12}}, checkpoint)
    exported = tmp_path / f"{stage}.ts"

    ckpt_export(
        network_id,
        filepath=str(exported),
        ckpt_file=str(checkpoint),
        key_in_ckpt="network",
        meta_file=str(METADATA),
        config_file=[str(TRAIN), str(QUICK)],
    )

    extra_files = {"metadata.json": "", "train.json": "", "quick.json": ""}
    torchscript = torch.jit.load(str(exported), _extra_files=extra_files).eval()
    assert json.loads(extra_files["metadata.json"])["network_data_format"]["outputs"]["pred"]["num_channels"] == 2
    assert json.loads(extra_files["quick.json"])["widths"] == parser["widths"]
    loaded = parser.get_parsed_content(network_id, instantiate=True, lazy=False).eval()
    loaded.load_state_dict(torch.load(checkpoint, weights_only=True)["network"])
    size = parser["image_size"] if stage == "image_network" else parser["crop_size"]
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        images = torch.rand(3, 3, size, size, generator=generator)
        scripted, eager = torchscript(images), loaded(images)
        assert scripted.shape == (3, 2)
        torch.testing.assert_close(scripted, eager, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(eager, randomized(parser.get_parsed_content(network_id), seed=3)(images))
        # the classifier reads a fixed feature grid: another grid is refused with the same message as the network's
        with pytest.raises(torch.jit.Error, match=r"SaliencyCropNetwork: input size \[.*\] gives a feature grid"):
            torchscript(torch.rand(1, 3, 4 * size, 4 * size))


def test_the_saliency_form_scripts_too():
    """Inference takes the saliency through the image network's adaptive-pooling form, at any input size."""
    parser = ConfigParser()
    parser.read_config([str(TRAIN), str(QUICK)])
    form = randomized(parser.get_parsed_content("network_def"), seed=4).adaptive_pooling_form().eval()
    scripted = torch.jit.script(form)
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for size in ((160, 160), (224, 192)):
            images = torch.rand(2, 3, *size, generator=generator)
            torch.testing.assert_close(scripted(images), form(images), atol=1e-5, rtol=1e-5)
