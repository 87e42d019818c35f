"""Finding the MONAI bundles of the project and of the user.

A bundle is a folder holding ``configs/metadata.json``. Bundles are searched in the repository's
``bundles/`` folder, in the folders listed (``os.pathsep``-separated) in the environment variable
``WEAKLOC_BUNDLE_PATH``, and in folders given by the caller.

MONAI's ``monai.bundle`` runs and verifies one bundle at a time from a path but does not list
bundles in local folders, hence this module.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BUNDLE_PATH_ENV", "BundleInfo", "bundle_search_paths", "find_bundles", "find_bundle", "read_bundle"]

BUNDLE_PATH_ENV = "WEAKLOC_BUNDLE_PATH"
REPO_BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


@dataclass
class BundleInfo:
    """What ``configs/metadata.json`` of one bundle says.

    Attributes:
        name: the bundle's folder name (what ``weakloc bundle info`` takes).
        path: the bundle folder.
        version: ``version`` from the metadata.
        task: ``task`` from the metadata.
        description: ``description`` from the metadata.
        metadata: the whole metadata dict.
        configs: the config files in ``configs/`` (names, sorted).
    """

    name: str
    path: Path
    version: str
    task: str
    description: str
    metadata: dict[str, Any] = field(repr=False)
    configs: list[str] = field(default_factory=list)


def bundle_search_paths(extra: list[str | Path] | None = None) -> list[Path]:
    """The folders searched for bundles, in order: the repository's ``bundles/``, the environment, ``extra``."""
    paths: list[Path] = []
    if REPO_BUNDLES.is_dir():
        paths.append(REPO_BUNDLES)
    for entry in os.environ.get(BUNDLE_PATH_ENV, "").split(os.pathsep):
        if entry.strip():
            paths.append(Path(entry.strip()).expanduser())
    paths.extend(Path(p).expanduser() for p in extra or [])
    unique: list[Path] = []
    for path in paths:
        if path.resolve() not in [p.resolve() for p in unique]:
            unique.append(path)
    return unique


def read_bundle(folder: str | Path) -> BundleInfo:
    """Read one bundle's metadata.

    Raises:
        ValueError: naming the file, when ``configs/metadata.json`` is missing, is not valid JSON, or lacks
            ``version`` or ``task``.
    """
    folder = Path(folder)
    meta_file = folder / "configs" / "metadata.json"
    if not meta_file.is_file():
        raise ValueError(f"{folder} is not a bundle: {meta_file} does not exist")
    try:
        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_file}: not valid JSON ({err})") from err
    if not isinstance(metadata, dict):
        raise ValueError(f"{meta_file}: expected a JSON object, got {type(metadata).__name__}")
    missing = [key for key in ("version", "task") if key not in metadata]
    if missing:
        raise ValueError(f"{meta_file}: missing field(s) {', '.join(missing)}")
    configs = sorted(p.name for p in (folder / "configs").iterdir() if p.suffix in {".json", ".yaml", ".yml", ".conf"})
    return BundleInfo(
        name=folder.name,
        path=folder,
        version=str(metadata["version"]),
        task=str(metadata["task"]),
        description=str(metadata.get("description", "")),
        metadata=metadata,
        configs=configs,
    )


def find_bundles(extra: list[str | Path] | None = None) -> tuple[list[BundleInfo], list[str]]:
    """Every bundle in the search paths.

    Args:
        extra: more folders to search (each holds bundle folders, or is a bundle itself).

    Returns:
        the bundles found, sorted by name, and the problems met (a message per unreadable bundle or
        missing search folder).
    """
    bundles: list[BundleInfo] = []
    problems: list[str] = []
    for root in bundle_search_paths(extra):
        if not root.is_dir():
            problems.append(f"bundle folder {root} does not exist")
            continue
        candidates = [root] if (root / "configs" / "metadata.json").is_file() else sorted(root.iterdir())
        for folder in candidates:
            if not (folder / "configs").is_dir():
                continue
            try:
                bundles.append(read_bundle(folder))
            except ValueError as err:
                problems.append(str(err))
    return sorted(bundles, key=lambda b: b.name), problems


def find_bundle(name: str, extra: list[str | Path] | None = None) -> BundleInfo:
    """The bundle called ``name`` (its folder name).

    Raises:
        ValueError: if no bundle has that name; the message lists the bundles found.
    """
    bundles, problems = find_bundles(extra)
    for info in bundles:
        if info.name == name:
            return info
    known = ", ".join(b.name for b in bundles) or "none"
    message = f"no bundle named {name!r}; bundles found: {known}"
    if problems:
        message += "; problems: " + "; ".join(problems)
    raise ValueError(message)
