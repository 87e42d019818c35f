"""``weakloc bundle``: list and describe the MONAI bundles."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import click

from monai_weakloc.bundles import BUNDLE_PATH_ENV, find_bundle, find_bundles
from monai_weakloc.monai_notices import quiet_environment

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


STAGE_CONFIGS = {"train": "train.json", "infer": "inference.json", "evaluate": "evaluate.json"}


@bundle.command("run")
@click.argument("name")
@click.option("--stage", "stages", multiple=True, type=click.Choice(list(STAGE_CONFIGS)),
              help="Stage to run (repeatable, in the order given); default: train, infer, evaluate.")
@click.option("--quick", is_flag=True, help="Compose the bundle's quick.json: tiny widths, images and epochs.")
@click.option("--override", "overrides", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Another override config composed last (repeatable).")
@click.option("--bundle-root", type=click.Path(file_okay=False, path_type=Path),
              help="Where models/ and outputs/ go (default: the bundle folder).")
@click.option("--arg", "args", multiple=True, metavar="ID=VALUE",
              help="Override one config id, as python -m monai.bundle takes it (repeatable).")
@bundle_dir_option
def run_bundle(name: str, stages: tuple[str, ...], quick: bool, overrides: tuple[Path, ...], bundle_root: Path | None,
               args: tuple[str, ...], bundle_dirs: tuple[Path, ...]) -> None:
    """Run bundle NAME's stages with `python -m monai.bundle run`, composing its configs.

    Each stage is the command a user would type, e.g. for train with --quick:
    python -m monai.bundle run training --config_file "['<b>/configs/train.json','<b>/configs/quick.json']",
    with MONAI's notice of the deprecated metadata name silenced.
    """
    try:
        info = find_bundle(name, list(bundle_dirs))
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    configs = info.path / "configs"
    extra = [configs / "quick.json"] if quick else []
    extra += [Path(p).resolve() for p in overrides]
    command_args: list[str] = []
    if bundle_root is not None:
        command_args += ["--bundle_root", str(bundle_root)]
    for item in args:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not ID=VALUE", param_hint="--arg")
        command_args += [f"--{key}", value]
    for stage in stages or tuple(STAGE_CONFIGS):
        files = [configs / "train.json"] + ([configs / STAGE_CONFIGS[stage]] if stage != "train" else []) + extra
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise click.ClickException(f"bundle {name}: missing config file(s) {', '.join(missing)}")
        config_list = "[" + ",".join(f"'{f}'" for f in files) + "]"
        command = [sys.executable, "-m", "monai.bundle", "run"] + (["training"] if stage == "train" else [])
        command += ["--config_file", config_list, *command_args]
        click.echo(f"[{stage}] {' '.join(shlex.quote(part) for part in command)}", err=True)
        result = subprocess.run(command, env=quiet_environment())
        if result.returncode != 0:
            raise click.ClickException(f"bundle {name}: stage {stage} failed with exit code {result.returncode}")
