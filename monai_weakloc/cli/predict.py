"""``weakloc predict``: a trained bundle's own inference on a user's images, writing the output contract.

The bundle's configs are composed as ``weakloc bundle run --stage infer`` composes them: ``train.json``,
``inference.json`` (then ``multi_gpu_inference.json`` when ``torchrun`` started several processes, i.e.
``WORLD_SIZE`` > 1), ``quick.json`` with ``--quick``, and ``--arg`` overrides, parsed as
``python -m monai.bundle run`` parses them. They run in this process through ``monai.bundle.ConfigWorkflow``
with three ids replaced:

- ``infer_records``: the images given, read by :func:`monai_weakloc.data.read_image_list`, which checks them
  as the bundle's own inference records are checked: at least the bundle's ``infer_min_size`` pixels, and
  fellow eyes paired when its ``infer_pair_eyes`` is true (Zoom-in-Net grades both eyes of a patient
  together);
- ``output_dir``: where the files of ``docs/outputs.md`` go;
- ``checkpoint`` (a checkpoint file), or ``ckpt_dir`` (the models folder of a training run, for bundles
  that load several networks and files from it: ``ma_segmentation``, ``saliency_crop``).

Nothing else of the dataset is read: no bundle's inference needs its ``dataset_dir`` once its records are
replaced, so no synthetic dataset is made either.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click
from fire.parser import DefaultParseValue
from monai.bundle import ConfigParser, ConfigWorkflow

from monai_weakloc.bundles import find_bundle
from monai_weakloc.cli.bundle import bundle_dir_option
from monai_weakloc.data import ON_ERROR_CHOICES, DataProblem, ProblemLog, read_image_list

__all__ = ["inference_config_files", "parse_config_args", "predict", "predict_images"]

TRAIN_CONFIG = "train.json"
INFERENCE_CONFIG = "inference.json"
MULTI_GPU_INFERENCE_CONFIG = "multi_gpu_inference.json"
QUICK_CONFIG = "quick.json"
WORLD_SIZE_ENV = "WORLD_SIZE"
RANK_ENV = "RANK"
RECORDS_ID = "infer_records"
MIN_SIZE_ID = "infer_min_size"
PAIR_EYES_ID = "infer_pair_eyes"
OUTPUT_DIR_ID = "output_dir"
CHECKPOINT_ID = "checkpoint"
CHECKPOINT_DIR_ID = "ckpt_dir"
BUNDLE_ROOT_ID = "bundle_root"
CHECKPOINT_ID_SUFFIX = "_checkpoint"


def inference_config_files(bundle_path: Path, quick: bool = False, world_size: int = 1) -> list[Path]:
    """The config files of a bundle's inference, in the order they are composed.

    Args:
        bundle_path: the bundle folder.
        quick: compose ``quick.json`` last.
        world_size: the number of processes ``torchrun`` started; above 1, ``multi_gpu_inference.json``
            follows ``inference.json``.

    Returns:
        ``train.json``, ``inference.json``, [``multi_gpu_inference.json``], [``quick.json``].

    Raises:
        ValueError: naming the bundle and the file, when one of them is missing.
    """
    configs = bundle_path / "configs"
    files = [configs / TRAIN_CONFIG, configs / INFERENCE_CONFIG]
    files += [configs / MULTI_GPU_INFERENCE_CONFIG] if world_size > 1 else []
    files += [configs / QUICK_CONFIG] if quick else []
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        raise ValueError(f"bundle {bundle_path.name} has no {', '.join(missing)} in {configs}")
    return files


def parse_config_args(args: Sequence[str]) -> dict[str, object]:
    """``ID=VALUE`` pairs as config overrides, each value parsed as ``python -m monai.bundle run`` parses it.

    Args:
        args: e.g. ``("num_workers=0", "device=$torch.device('cpu')")``.

    Returns:
        id -> value (``0`` an int, ``[1, 2]`` a list, anything else not a Python literal a string).

    Raises:
        click.BadParameter: for an item that is not ``ID=VALUE``.
    """
    overrides: dict[str, object] = {}
    for item in args:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not ID=VALUE", param_hint="--arg")
        overrides[key] = DefaultParseValue(value)
    return overrides


def _checkpoint_id(parser: ConfigParser, bundle_name: str, checkpoint: Path) -> str:
    """The config id the checkpoint path replaces: ``ckpt_dir`` for a folder, ``checkpoint`` for a file."""
    if checkpoint.is_dir():
        return CHECKPOINT_DIR_ID
    if CHECKPOINT_ID not in parser:
        several = sorted(key for key in parser.get() if str(key).endswith(CHECKPOINT_ID_SUFFIX))
        raise ValueError(
            f"bundle {bundle_name} loads its weights from several files ({', '.join(several)}), not one "
            f"{CHECKPOINT_ID!r}: give --checkpoint the models folder of its training run, or each file with "
            f"--arg ID=FILE"
        )
    return CHECKPOINT_ID


def predict_images(
    bundle_path: Path,
    images: Sequence[str | Path],
    checkpoint: Path,
    output_dir: Path,
    quick: bool = False,
    overrides: dict[str, object] | None = None,
    on_error: str = "raise",
) -> tuple[list[dict], list[DataProblem]]:
    """Run the inference of the bundle at ``bundle_path`` on ``images`` and write its files to ``output_dir``.

    Args:
        bundle_path: the bundle folder.
        images: folders (searched recursively), image files and CSV lists with an ``image`` column.
        checkpoint: the trained weights: a checkpoint file (the bundle's ``checkpoint``), or the models
            folder of a training run (its ``ckpt_dir``).
        output_dir: where the files of the output contract go (``predictions.csv``, ``heatmaps/``, ...).
        quick: compose the bundle's ``quick.json`` (for weights trained with it).
        overrides: more config ids to set, as ``--arg`` gives them (``bundle_root`` defaults to the bundle
            folder); ``infer_records``, ``output_dir`` and the checkpoint's id are set after them.
        on_error: ``"raise"`` stops at the first image that cannot be used, naming it and why; ``"skip"``
            logs it and goes on with the others.

    Returns:
        the records the inference ran on, and the problems of the images left out.

    Raises:
        ValueError: for a missing config file, a checkpoint file given to a bundle that loads several, no
            image found or none usable; with ``on_error="raise"``, naming the first image that cannot be used.
    """
    files = inference_config_files(bundle_path, quick, int(os.environ.get(WORLD_SIZE_ENV, "1")))
    workflow = ConfigWorkflow(
        config_file=[str(file) for file in files],
        workflow_type="infer",
        **{BUNDLE_ROOT_ID: str(bundle_path), **(overrides or {})},
    )
    parser = workflow.parser
    parser[_checkpoint_id(parser, bundle_path.name, checkpoint)] = str(checkpoint.resolve())
    parser[OUTPUT_DIR_ID] = str(output_dir.resolve())
    problems = ProblemLog(on_error)
    records = read_image_list(
        images,
        min_size=parser.get_parsed_content(MIN_SIZE_ID, default=1),
        pair_eyes=bool(parser.get_parsed_content(PAIR_EYES_ID, default=False)),
        problems=problems,
    )
    # a tuple is one value to the config parser, which would read an id such as "@x" in a file name as a reference
    parser[RECORDS_ID] = tuple(records)
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return records, problems.problems


@click.command("predict")
@click.argument("bundle_name", metavar="BUNDLE")
@click.argument("more_images", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH]...")
@click.option("--images", "images", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A folder (searched recursively), an image file or a CSV with an image column; more paths "
                   "may follow.")
@click.option("--checkpoint", required=True, type=click.Path(exists=True, path_type=Path),
              help="The trained weights: a checkpoint file, or the models folder of a training run (needed by "
                   "bundles that load several networks).")
@click.option("--out", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where predictions, heatmaps, boxes, points, masks and overlays go.")
@click.option("--quick", is_flag=True, help="Compose the bundle's quick.json (for weights trained with --quick).")
@click.option("--arg", "args", multiple=True, metavar="ID=VALUE",
              help="Override one config id, as python -m monai.bundle takes it (repeatable).")
@click.option("--on-error", type=click.Choice(ON_ERROR_CHOICES), default="raise", show_default=True,
              help="raise: stop at the first image that cannot be used; skip: name it, leave it out, go on.")
@bundle_dir_option
def predict(bundle_name: str, more_images: tuple[Path, ...], images: tuple[Path, ...], checkpoint: Path,
            output_dir: Path, quick: bool, args: tuple[str, ...], on_error: str, bundle_dirs: tuple[Path, ...]) -> None:
    """Run bundle BUNDLE's inference on your images and write the output contract to --out.

    --images takes a folder, an image file or a CSV list, and more may follow it:
    --images scans/ extra.png list.csv. Images in any format the 2-D loader reads (PNG, JPEG, TIFF, PGM,
    DICOM, NIfTI), at any size, gray or colour, without labels. Zoom-in-Net pairs fellow eyes named the
    EyePACS way (10_left, 10_right); an image without its fellow stands in for it.
    """
    try:
        info = find_bundle(bundle_name, list(bundle_dirs))
        records, skipped = predict_images(
            info.path, [*images, *more_images], checkpoint, output_dir, quick, parse_config_args(args), on_error
        )
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    if int(os.environ.get(RANK_ENV, "0")) != 0:
        return  # under torchrun every process reads the same list: rank 0 tells what was done
    for problem in skipped:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"{len(records)} image(s) predicted, {len(skipped)} skipped; the files are in {output_dir.resolve()}")
