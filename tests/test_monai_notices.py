"""MONAI's notices that say nothing to a user of the toolkit are gone where it runs bundles."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from monai_weakloc.monai_notices import PYTHON_WARNINGS_ENV, quiet_environment

REPO = Path(__file__).resolve().parents[1]
METADATA = REPO / "bundles" / "zoom_in_net" / "configs" / "metadata.json"
NOTICES = ("nvImageCodec", "optional_packages_version")

LOAD_AND_READ_METADATA = f"""
{{imports}}
from monai.bundle import ConfigParser
loader
ConfigParser().read_meta({str(METADATA)!r})
"""


def python_output(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_the_toolkit_silences_the_notices_monai_gives_without_it():
    plain = python_output(LOAD_AND_READ_METADATA.format(
        imports="from monai.transforms import LoadImage\nloader = LoadImage()"))
    assert all(notice in plain for notice in NOTICES)  # what MONAI alone prints
    quiet = python_output(LOAD_AND_READ_METADATA.format(
        imports="from monai_weakloc.transforms import LoadImage2D\nloader = LoadImage2D()"))
    assert not any(notice in quiet for notice in NOTICES), quiet


def test_a_bundle_run_through_weakloc_prints_none_of_them(tmp_path):
    configs = tmp_path / "bundles" / "notice_check" / "configs"
    configs.mkdir(parents=True)
    shutil.copy(METADATA, configs / "metadata.json")  # it holds optional_packages_version, as the schema asks
    (configs / "train.json").write_text(json.dumps({
        "imports": ["$import monai_weakloc.transforms"],
        "loader": {"_target_": "monai_weakloc.transforms.LoadImage2Dd", "keys": "image"},
    }))
    (configs / "evaluate.json").write_text(json.dumps({"run": ["$print('built', type(@loader).__name__)"]}))
    done = subprocess.run(
        [sys.executable, "-c", "from monai_weakloc.cli.main import cli; cli()", "bundle", "run", "notice_check",
         "--stage", "evaluate", "--bundle-dir", str(tmp_path / "bundles"), "--bundle-root", str(tmp_path / "root")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "built LoadImage2Dd" in output, output[-3000:]
    assert not any(notice in output for notice in NOTICES), output


def test_the_quiet_environment_keeps_the_users_warning_options():
    environment = quiet_environment({PYTHON_WARNINGS_ENV: "error::DeprecationWarning", "HOME": "/home/a"})
    entries = environment[PYTHON_WARNINGS_ENV].split(",")
    assert entries[0].startswith("ignore:Detected deprecated name 'optional_packages_version'")
    assert entries[-1] == "error::DeprecationWarning" and environment["HOME"] == "/home/a"
    assert quiet_environment()[PYTHON_WARNINGS_ENV].startswith("ignore:")  # from this process's environment
