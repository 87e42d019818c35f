"""``weakloc bundle`` and ``weakloc plugins`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monai_weakloc.bundles import BUNDLE_PATH_ENV
from monai_weakloc.cli.main import cli


def make_bundle(root: Path, name: str, version: str = "0.1.0", task: str = "Demo task") -> Path:
    configs = root / name / "configs"
    configs.mkdir(parents=True)
    (configs / "metadata.json").write_text(json.dumps({"version": version, "task": task, "description": f"{name} demo"}))
    (configs / "train.json").write_text("{}")
    return root / name


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_help_on_every_group(runner):
    for args in ([], ["bundle"], ["bundle", "list"], ["bundle", "info"], ["plugins"], ["plugins", "list"],
                 ["data"], ["data", "synth"], ["data", "check"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage:" in result.output


def test_bundle_list_from_option_and_environment(runner, tmp_path, monkeypatch):
    make_bundle(tmp_path / "a", "alpha", "1.2.0", "Grading")
    make_bundle(tmp_path / "b", "beta", "0.3.0", "Localization")
    monkeypatch.setenv(BUNDLE_PATH_ENV, str(tmp_path / "b"))
    result = runner.invoke(cli, ["bundle", "list", "--bundle-dir", str(tmp_path / "a"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["alpha"] == {"name": "alpha", "version": "1.2.0", "task": "Grading", "path": str(tmp_path / "a" / "alpha")}
    assert rows["beta"]["task"] == "Localization"


def test_bundle_list_reports_a_broken_bundle(runner, tmp_path):
    make_bundle(tmp_path, "good")
    broken = tmp_path / "broken" / "configs"
    broken.mkdir(parents=True)
    (broken / "metadata.json").write_text("{not json")
    result = runner.invoke(cli, ["bundle", "list", "--bundle-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "good" in result.stdout
    assert f"{broken / 'metadata.json'}: not valid JSON" in result.stderr


def test_bundle_info_and_unknown_bundle(runner, tmp_path):
    make_bundle(tmp_path, "alpha", "1.2.0", "Grading")
    result = runner.invoke(cli, ["bundle", "info", "alpha", "--bundle-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "alpha 1.2.0: Grading" in result.output
    assert "configs: metadata.json, train.json" in result.output
    assert f"--config_file {tmp_path / 'alpha' / 'configs' / 'train.json'}" in result.output
    missing = runner.invoke(cli, ["bundle", "info", "alhpa", "--bundle-dir", str(tmp_path)])
    assert missing.exit_code != 0
    assert "no bundle named 'alhpa'" in missing.stderr and "alpha" in missing.stderr


def test_missing_bundle_folder_is_an_error(runner, tmp_path):
    result = runner.invoke(cli, ["bundle", "list", "--bundle-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert f"bundle folder {tmp_path / 'nowhere'} does not exist" in result.stderr


def test_plugins_list_shows_the_first_party_plugins(runner):
    result = runner.invoke(cli, ["plugins", "list"])
    assert result.exit_code == 0, result.output
    for name in ("weakloc_networks", "weakloc_metrics", "weakloc_samplers"):
        assert f"{name} [ok] {name}.plugin:register" in result.stdout
    networks_section = result.stdout.split("weakloc_networks [ok]")[1].split(" [ok] ")[0]
    assert "  localizer: " in networks_section and "zoom_in_net" in networks_section.split("  localizer: ")[1]
