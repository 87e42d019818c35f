"""Zoom-in-Net's extra jobs on a tiny trained bundle: Messidor protocol, lesion discovery, ensemble."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from monai.bundle import ConfigWorkflow
from PIL import Image

from monai_weakloc.data import read_eyepacs, read_messidor
from monai_weakloc.data.cache import CACHE_ENV

REPOSITORY = Path(__file__).resolve().parents[3]
CONFIGS = REPOSITORY / "bundles" / "zoom_in_net" / "configs"
TINY = {
    "synthetic": {"num_images": 24, "image_size": 128, "seed": 0},
    "phase_epochs": [1, 0, 0],
    "low_res": 96,
    "high_res": 128,
    "crop_size": 48,
    "region_size": 32,
    "write_nifti": False,
    "write_overlays": False,
    "messidor_synthetic": {"num_images": 20, "image_size": 144, "seed": 0},
    "messidor_folds": 5,
}


def _config_files(*configs: str, override: Path) -> list[str]:
    """``train.json``, ``configs``, ``quick.json`` and the tiny override, in that order."""
    middle = [str(CONFIGS / name) for name in configs]
    return [str(CONFIGS / "train.json"), *middle, str(CONFIGS / "quick.json"), str(override)]


@dataclass
class TrainedBundle:
    root: Path
    override: Path

    def run(self, *configs: str, **overrides: object) -> None:
        """Run the workflow of ``train.json`` + ``configs`` + quick.json + the tiny override in this process."""
        workflow = ConfigWorkflow(
            config_file=_config_files(*configs, override=self.override),
            logging_file=False,
            bundle_root=str(self.root),
            **overrides,
        )
        workflow.initialize()
        workflow.run()
        workflow.finalize()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> TrainedBundle:
    """Train the tiny bundle once, as a user types it (a subprocess)."""
    root = tmp_path_factory.mktemp("zoom_in_net_extras")
    override = root / "tiny.json"
    override.write_text(json.dumps(TINY))
    command = [sys.executable, "-m", "monai.bundle", "run", "training"]
    command += ["--config_file", repr(_config_files(override=override)), "--bundle_root", str(root)]
    env = {**os.environ, CACHE_ENV: str(root / "cache")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPOSITORY)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (root / "models" / "model.pt").is_file()
    return TrainedBundle(root=root, override=override)


@pytest.fixture
def bundle(trained, monkeypatch) -> TrainedBundle:
    """The trained bundle, with the synthetic datasets read from (and generated into) its own cache."""
    monkeypatch.setenv(CACHE_ENV, str(trained.root / "cache"))
    return trained


@pytest.mark.slow
def test_messidor_protocol_writes_metrics_of_both_tasks(bundle, capsys):
    bundle.run("inference.json", "messidor.json")
    outputs = bundle.root / "outputs"
    assert f"messidor_metrics.json and messidor_roc.png are in {outputs}" in capsys.readouterr().out
    metrics = json.loads((outputs / "messidor_metrics.json").read_text())
    messidor = read_messidor(next((bundle.root / "cache").glob("messidor_*")))
    eyepacs_train = read_eyepacs(next((bundle.root / "cache").glob("eyepacs_*")), splits="train")
    referable, normal = metrics["referable"], metrics["normal"]
    assert referable["num_images"] == normal["num_images"] == len(messidor) == 20
    assert referable["num_positive"] == sum(record["label"] >= 2 for record in messidor)
    assert normal["num_positive"] == sum(record["label"] >= 1 for record in messidor)
    assert normal["num_train_images"] == len(eyepacs_train)
    assert referable["num_folds"] == 5 and len(referable["fold_auc"]) == 5
    for task in (referable, normal):
        assert 0.0 <= task["auc"] <= 1.0 and 0.0 <= task["accuracy"] <= 1.0
        assert task["specificity"] == 0.5 and 0.0 <= task["sensitivity_at_specificity"] <= 1.0
    assert (outputs / "messidor_roc.png").stat().st_size > 1000


@pytest.mark.slow
def test_lesion_discovery_writes_clusters_of_test_image_regions(bundle):
    bundle.run("inference.json", "discover.json")
    outputs = bundle.root / "outputs"
    clusters = json.loads((outputs / "lesion_clusters.json").read_text())
    test_records = read_eyepacs(next((bundle.root / "cache").glob("eyepacs_*")), splits="test")
    sizes = {}
    for record in test_records:
        with Image.open(record["image"]) as image:
            sizes[record["id"]] = image.size
    members = [member for cluster in clusters["clusters"].values() for member in cluster]
    assert clusters["num_images"] == len(test_records) and clusters["num_regions"] == len(members) >= 2
    assert {member["image"] for member in members} <= set(sizes)
    for member in members:
        width, height = sizes[member["image"]]
        assert 0 <= member["x"] and member["x"] + member["w"] <= width + 0.5
        assert 0 <= member["y"] and member["y"] + member["h"] <= height + 0.5
        assert member["w"] > 0 and member["h"] > 0
    with Image.open(outputs / "lesion_clusters.png") as montage:
        assert montage.size[0] > 100 and montage.size[1] > 100


def _predictions(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as handle:
        return {row["image"]: [float(row[f"prob_{k}"]) for k in range(5)] for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_ensemble_of_one_checkpoint_twice_equals_the_single_model(bundle, capsys):
    single = bundle.root / "single"
    bundle.run("inference.json", output_dir=str(single))
    model = str(bundle.root / "models" / "model.pt")
    bundle.run(
        "inference.json", "ensemble.json", output_dir=str(bundle.root / "twice"), ensemble_checkpoints=[model, model]
    )
    ensemble = bundle.root / "twice" / "ensemble"
    message = f"the mean of 2 models: predictions, boxes, heatmaps and overlays are in {ensemble}"
    assert message in capsys.readouterr().out
    expected, averaged = _predictions(single / "predictions.csv"), _predictions(ensemble / "predictions.csv")
    assert sorted(averaged) == sorted(expected) and len(expected) > 0
    for image_id, probabilities in expected.items():
        assert averaged[image_id] == pytest.approx(probabilities, abs=2e-6)
    assert (ensemble / "boxes.csv").read_text() == (single / "boxes.csv").read_text()
    assert sorted(path.name for path in (ensemble / "heatmaps").iterdir()) == sorted(
        path.name for path in (single / "heatmaps").iterdir()
    )
