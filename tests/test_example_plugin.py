"""A third-party plugin package, installed in editable mode, extends the host without any change to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "weakloc_example_plugin"
WEAKLOC = [sys.executable, "-m", "monai_weakloc.cli"]


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


@pytest.fixture(scope="module")
def example_plugin_installed():
    pip("install", "--no-deps", "--no-build-isolation", "-e", str(EXAMPLE))
    try:
        yield
    finally:
        pip("uninstall", "-y", "weakloc-example-plugin")


@pytest.mark.slow
def test_plugins_list_shows_the_example(example_plugin_installed):
    result = subprocess.run([*WEAKLOC, "plugins", "list"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    block = result.stdout.split("weakloc_example [ok]")[1].split("\nweakloc_")[0]
    assert "network: example_cam_cnn" in block
    assert "metric: example_mean_absolute_error" in block
    assert "sampler: example_every_second" in block


@pytest.mark.slow
def test_bundle_config_builds_the_example_components(example_plugin_installed, tmp_path):
    config = {
        "network": {"_target_": "monai_weakloc.registry.create", "kind": "network", "name": "example_cam_cnn",
                    "in_channels": 1, "num_classes": 3},
        "metric": {"_target_": "monai_weakloc.registry.create", "kind": "metric", "name": "example_mean_absolute_error"},
        "sampler": {"_target_": "monai_weakloc.registry.create", "kind": "sampler", "name": "example_every_second",
                    "length": 5},
        "logits": "$@network(torch.zeros(2, 1, 8, 8))",
        "run": [
            "$print('network', type(@network).__name__, tuple(@logits.shape))",
            "$print('metric', type(@metric).__name__)",
            "$print('sampler', list(@sampler))",
        ],
    }
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"imports": ["$import torch"], **config}))
    result = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(config_file)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "network ExampleCamCnn (2, 3)" in result.stdout
    assert "metric ExampleMeanAbsoluteError" in result.stdout
    assert "sampler [0, 2, 4]" in result.stdout
