"""MONAI conformance of the zoom_in_net bundle: metadata, workflow properties, verify_net_in_out, ckpt_export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow

from monai_weakloc.data.synthetic import synthesize
from weakloc_networks.zoom_in_net import ZoomInNet
from weakloc_networks.zoom_in_net_export import ZoomInNetGrader

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "zoom_in_net" / "configs"
METADATA = CONFIGS / "metadata.json"
TRAIN = CONFIGS / "train.json"
INFERENCE = CONFIGS / "inference.json"
QUICK = CONFIGS / "quick.json"
EXPORT = CONFIGS / "export.json"
TINY_NETWORK = {
    "low_res": 96, "high_res": 160, "region_size": 40, "crop_size": 64, "m_width_multiplier": 0.125,
    "m_blocks_per_stage": (1, 1, 1), "c_width_multiplier": 0.125, "c_blocks_per_stage": (1, 1, 1),
    "attention_channels": 16, "padding": "same",
}


def monai_bundle(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    """``python -m monai.bundle <args>`` from the repository root, with its own synthetic-data cache."""
    env = {**os.environ, "WEAKLOC_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-m", "monai.bundle", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def config_list(*files: Path) -> str:
    return repr([str(path) for path in files])


def randomized(network: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The network in eval mode with its weights and batch-norm statistics perturbed by a seeded generator, so
    that networks of different seeds differ and a state dict that was not loaded shows."""
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
    """A tiny synthetic EyePACS dataset whose images are all larger than train.json's 492 px input."""
    return synthesize("eyepacs", tmp_path_factory.mktemp("eyepacs"), num_images=10, image_size=720, seed=0)


@pytest.mark.slow
def test_metadata_verifies_against_the_schema(tmp_path):
    result = monai_bundle(
        "verify_metadata", "--meta_file", str(METADATA), "--filepath", str(REPO / "schemas" / "meta_schema.json"),
        cache_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "metadata is verified with no error" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("workflow_type", "config_files"), [("train", [TRAIN]), ("infer", [TRAIN, INFERENCE])], ids=["train", "infer"]
)
def test_workflow_has_every_required_property(workflow_type, config_files, eyepacs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    workflow = ConfigWorkflow(
        config_file=[str(path) for path in config_files],
        meta_file=str(METADATA),
        logging_file=False,
        workflow_type=workflow_type,
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=str(eyepacs_dir),
    )
    workflow.initialize()
    assert workflow.check_properties() == []
    assert workflow.network_def.__class__ is ZoomInNet
    assert workflow.dataset_dir == str(eyepacs_dir)
    records = workflow.train_dataset_data if workflow_type == "train" else workflow.dataset_data
    assert records and all(Path(record["image"]).parent.parent == eyepacs_dir for record in records)


@pytest.mark.parametrize("paired_eyes", [True, False], ids=["paired", "single"])
def test_grader_gives_the_phase_2_prediction_of_the_full_network(paired_eyes):
    network = randomized(ZoomInNet(paired_eyes=paired_eyes, **TINY_NETWORK), seed=1)
    grader = ZoomInNetGrader(network).eval()
    scripted = torch.jit.script(grader)
    images = torch.rand(3, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = ZoomInNet.predict_proba(network(images, fellow_low=images if paired_eyes else None), phase=2)
        probabilities = grader(images)
        scripted_probabilities = scripted(images)
    assert probabilities.shape == (3, 5)
    torch.testing.assert_close(probabilities, expected)
    torch.testing.assert_close(scripted_probabilities, expected)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(3))


def test_grader_loads_the_full_network_state_dict():
    trained = randomized(ZoomInNet(**TINY_NETWORK), seed=3)
    grader = ZoomInNetGrader(randomized(ZoomInNet(**TINY_NETWORK), seed=4)).eval()
    images = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        before = grader(images)
        result = grader.load_state_dict(trained.state_dict())
        after = grader(images)
        expected = ZoomInNetGrader(trained).eval()(images)
    assert not result.missing_keys and not result.unexpected_keys
    assert not torch.allclose(before, expected)
    torch.testing.assert_close(after, expected)
    without_a_score = {key: value for key, value in trained.state_dict().items() if key != "a_net.score.weight"}
    with pytest.raises(RuntimeError, match="a_net.score.weight"):
        grader.load_state_dict(without_a_score)


def test_grader_rejects_a_network_that_is_not_zoom_in_net():
    with pytest.raises(TypeError, match="ZoomInNetGrader: zoom_in_net must be a ZoomInNet, got Linear"):
        ZoomInNetGrader(torch.nn.Linear(2, 2))


@pytest.mark.slow
def test_verify_net_in_out_passes_on_the_paper_network(tmp_path):
    result = monai_bundle(
        "verify_net_in_out", "network_def_export", "--meta_file", str(METADATA),
        "--config_file", config_list(TRAIN, EXPORT), "--device", "cpu", cache_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "data shape of network is verified with no error" in result.stdout + result.stderr


@pytest.mark.slow
def test_verify_net_in_out_catches_a_wrong_number_of_grades(tmp_path):
    result = monai_bundle(
        "verify_net_in_out", "network_def_export", "--meta_file", str(METADATA),
        "--config_file", config_list(TRAIN, QUICK, EXPORT), "--device", "cpu",
        "--_meta_#network_data_format#inputs#image#spatial_shape", "[96, 96]",
        "--_meta_#network_data_format#outputs#pred#num_channels", "4", cache_dir=tmp_path,
    )
    assert result.returncode != 0
    assert "output channel number `5` doesn't match: `4`" in result.stderr


@pytest.mark.slow
def test_ckpt_export_writes_torchscript_equal_to_the_grader(tmp_path):
    parser = ConfigParser()
    parser.read_config([str(TRAIN), str(QUICK)])
    checkpoint = tmp_path / "model.pt"
    torch.save(randomized(parser.get_parsed_content("network_def"), seed=6).state_dict(), checkpoint)
    exported = tmp_path / "model.ts"

    result = monai_bundle(
        "ckpt_export", "network_def_export", "--filepath", str(exported), "--ckpt_file", str(checkpoint),
        "--meta_file", str(METADATA), "--config_file", config_list(TRAIN, QUICK, EXPORT), cache_dir=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    extra_files = {"metadata.json": "", "train.json": "", "quick.json": "", "export.json": ""}
    torchscript = torch.jit.load(str(exported), _extra_files=extra_files)
    assert json.loads(extra_files["metadata.json"])["network_data_format"]["outputs"]["pred"]["num_channels"] == 5
    assert json.loads(extra_files["export.json"])["network_def_export"]["name"] == "zoom_in_net_grader"
    network = parser.get_parsed_content("network_def", instantiate=True, lazy=False).eval()
    network.load_state_dict(torch.load(checkpoint, weights_only=True))
    side = parser.get_parsed_content("low_res")
    images = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = ZoomInNet.predict_proba(network(images, fellow_low=images), phase=2)
        torch.testing.assert_close(torchscript(images), ZoomInNetGrader(network).eval()(images))
        torch.testing.assert_close(torchscript(images), expected)
