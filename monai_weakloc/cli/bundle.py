"""``weakloc bundle``: list and describe the MONAI bundles."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monai_weakloc.bundles import BUNDLE_PATH_ENV, find_bundle, find_bundles

bundle_dir_option = click.option(
    "--bundle-dir",
    "bundle_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Another folder of bundles (repeatable); {BUNDLE_PATH_ENV} adds more.",
)


@click.group()
def bundle() -> None:
    """List and describe the bundles of the project and of extra folders."""


@bundle.command("list")
@bundle_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_bundles(bundle_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Print name, version, task and path of every bundle.

    Exits with status 1 when a bundle folder is unreadable.
    """
    bundles, problems = find_bundles(list(bundle_dirs))
    if as_json:
        rows = [{"name": b.name, "version": b.version, "task": b.task, "path": str(b.path)} for b in bundles]
        click.echo(json.dumps(rows, indent=2))
    elif not bundles:
        click.echo("no bundles found")
    else:
        width = max(len(b.name) for b in bundles)
        for info in bundles:
            click.echo(f"{info.name:<{width}}  {info.version:<8}  {info.task}  ({info.path})")
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        raise SystemExit(1)


@bundle.command("info")
@click.argument("name")
@bundle_dir_option
def bundle_info(name: str, bundle_dirs: tuple[Path, ...]) -> None:
    """Describe bundle NAME: metadata, config files, and how to run it."""
    try:
        info = find_bundle(name, list(bundle_dirs))
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    meta = info.metadata
    click.echo(f"{info.name} {info.version}: {info.task}")
    click.echo(f"path: {info.path}")
    if info.description:
        click.echo(f"description: {info.description}")
    for key in ("authors", "license", "monai_version", "pytorch_version"):
        if key in meta:
            click.echo(f"{key}: {meta[key]}")
    network_data = meta.get("network_data_format", {})
    for direction in ("inputs", "outputs"):
        for key, spec in network_data.get(direction, {}).items():
            click.echo(f"{direction[:-1]} {key}: {spec.get('type', '?')} {spec.get('num_channels', '?')} channel(s), "
                       f"spatial shape {spec.get('spatial_shape', '?')}")
    click.echo(f"configs: {', '.join(info.configs)}")
    train = info.path / "configs" / "train.json"
    if train.is_file():
        click.echo(f"train: python -m monai.bundle run training --config_file {train}")
