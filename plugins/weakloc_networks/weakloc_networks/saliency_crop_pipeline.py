"""The saliency-crop pipeline's data steps (Grzeszczuk, the paper's Listing 2): two-class records, the training set's
mean image, and the crops of every training image that the crop network trains on.

- :func:`two_class_records`: EyePACS grades to the paper's classes, healthy {0, 1} and unhealthy {2, 3, 4};
- :func:`ensure_mean_image`: the training set's mean image at the first network's input size, computed once and
  saved with the model (:mod:`monai_weakloc.transforms.mean_image`);
- :class:`SaliencyCropper`: saliency of the unhealthy class through the first network's adaptive-pooling form,
  border rule, arg-max, crop of the full-resolution image around it;
- :func:`training_crop_stage`: an Ignite engine (one stage of :func:`~monai_weakloc.engines.stages.run_stages`)
  that writes one crop per training image, ``<crops_dir>/<id>.png``: at the saliency maximum for unhealthy
  images, at a random place for healthy ones (they have no lesion to find); :func:`crop_records` names those files
  with the image's class before they exist, so the crop network's trainer can be built with the other stages.

Under data-parallel training (``multi_gpu_train.json``, one process per device) the mean image and the crops are
files shared by every process: the main process alone computes and writes them while the others wait on a barrier
(:func:`wait_for_main_process`), so that no two processes write the same file and none reads one half written.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events, State
from monai.utils import convert_to_tensor
from PIL import Image
from torch import nn

from monai_weakloc.engines.distributed import is_main_process
from monai_weakloc.localize.crop import crop_around
from monai_weakloc.transforms.load_2d import LoadImage2D
from monai_weakloc.transforms.mean_image import compute_mean_image, save_mean_image
from weakloc_networks.saliency_crop import SaliencyCropNetwork
from weakloc_networks.saliency_crop_centres import (
    SaliencyCentres,
    full_resolution_centre,
    random_centre,
    saliency_centres,
)

__all__ = [
    "CROPS_DONE_FILE",
    "HEALTHY_CLASS",
    "UNHEALTHY_CLASS",
    "UNHEALTHY_GRADES",
    "OneEpochStage",
    "SaliencyCropper",
    "crop_records",
    "ensure_mean_image",
    "training_crop_stage",
    "two_class_records",
    "wait_for_main_process",
]

logger = logging.getLogger(__name__)

HEALTHY_CLASS = 0
UNHEALTHY_CLASS = 1
UNHEALTHY_GRADES: tuple[int, ...] = (2, 3, 4)
"""The EyePACS grades of the paper's unhealthy class; grades 0 and 1 are healthy."""
CROPS_DONE_FILE = "crops.json"
"""Written into the crops folder when every training crop is there."""


def wait_for_main_process() -> None:
    """A barrier of every process of the default process group; nothing without one (a single process)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


class OneEpochStage(Engine):
    """An Ignite engine bound to its data that runs one epoch over it: a stage that
    :func:`~monai_weakloc.engines.stages.run_stages` can run (it calls ``run()`` without arguments).

    Args:
        process_function: Ignite's ``(engine, batch) -> output``.
        data: the batches.
        main_process_only: under data-parallel training, only the main process runs the epoch (a stage that writes
            files every process shares); the others wait for it on a barrier and run nothing. Every process must
            call ``run()``.
    """

    def __init__(
        self, process_function: Callable[[Engine, Any], Any], data: Iterable[Any], main_process_only: bool = False
    ) -> None:
        super().__init__(process_function)
        self.data = data
        self.main_process_only = main_process_only

    def run(self) -> State:
        """One epoch over the bound data (in the main process alone when ``main_process_only``)."""
        if not self.main_process_only:
            return super().run(self.data, max_epochs=1)
        if is_main_process():
            state = super().run(self.data, max_epochs=1)
        else:
            logger.info("%s: the main process runs this stage; waiting for it", type(self).__name__)
            state = self.state
        wait_for_main_process()
        return state


def two_class_records(
    records: Iterable[Mapping[str, Any]], unhealthy_grades: Sequence[int] = UNHEALTHY_GRADES
) -> list[dict]:
    """Records with the paper's two classes: ``label`` 1 (unhealthy) for a grade in ``unhealthy_grades``, else 0.

    Args:
        records: reader records whose ``label`` is the grade.
        unhealthy_grades: the grades of the unhealthy class.

    Returns:
        copies of the records with ``grade`` (the original label) and ``label`` (the class), without EyePACS's
        ``eye_pair``: the method reads each eye alone, and the fellow eye's path is ``None`` where that eye is absent
        or was left out by the checks, which a data loader cannot collate with the paths of other records.
    """
    unhealthy = {int(grade) for grade in unhealthy_grades}
    return [
        {
            **{key: value for key, value in record.items() if key != "eye_pair"},
            "grade": int(record["label"]),
            "label": int(int(record["label"]) in unhealthy),
        }
        for record in records
    ]


def crop_records(records: Iterable[Mapping[str, Any]], crops_dir: str | Path) -> list[dict]:
    """The crop network's training records: ``<crops_dir>/<id>.png`` of each image, labelled with its class.

    Args:
        records: two-class records (:func:`two_class_records`) with ``id``.
        crops_dir: the folder :func:`training_crop_stage` writes the crops to.

    Returns:
        ``id``, ``image`` (the crop file, written later by the crop stage), ``label`` and ``grade`` per image.
    """
    folder = Path(crops_dir)
    return [
        {
            "id": record["id"],
            "image": str(folder / f"{record['id']}.png"),
            "label": record["label"],
            "grade": record["grade"],
        }
        for record in records
    ]


def ensure_mean_image(path: str | Path, images: Iterable[Any], reuse: bool) -> str:
    """The mean image file of the training images, computed and saved unless ``reuse`` finds it there.

    Args:
        path: the ``.pt`` or ``.npy`` file (beside the model).
        images: the training images as the first network reads them before the mean subtraction, (C, h, w) each
            (a MONAI ``Dataset`` of records, read one image at a time).
        reuse: keep an existing file (a resumed run); otherwise compute it anew.

    Under data-parallel training the main process alone computes and writes the file while the others wait on a
    barrier (every process must call this).

    Returns:
        ``path`` as a string.
    """
    target = Path(path)
    if not is_main_process():  # data-parallel: the main process writes it, the others wait
        wait_for_main_process()
        return str(target)
    if reuse and target.is_file():
        logger.info("mean image: reusing %s", target)
    else:
        mean = compute_mean_image(images)
        partial = save_mean_image(target.with_name(f".partial_{target.name}"), mean)
        os.replace(partial, target)
        logger.info("mean image of %s written to %s", type(images).__name__, target)
    wait_for_main_process()
    return str(target)


class SaliencyCropper:
    """Crop centres from saliency through the first network, and crops of the full-resolution image around them.

    Args:
        network: the first network (trained on downsampled images); its adaptive-pooling form, made anew from the
            current weights at each call, gives the saliency of any input size.
        crop_size: side of the square crop in full-resolution pixels (the paper: 512).
        kappa: fraction of the width and height left out at each edge of the saliency map, in ``[0, 0.5)``.
        unhealthy_class: the class whose saliency is taken.
        absolute: average the absolute gradient over the channels instead of the signed one.
    """

    def __init__(
        self,
        network: SaliencyCropNetwork,
        crop_size: int,
        kappa: float,
        unhealthy_class: int = UNHEALTHY_CLASS,
        absolute: bool = False,
    ) -> None:
        if isinstance(crop_size, bool) or not isinstance(crop_size, int) or crop_size < 1:
            raise ValueError(f"SaliencyCropper: crop_size must be a positive int, got {crop_size!r}")
        if not 0 <= kappa < 0.5:
            raise ValueError(f"SaliencyCropper: kappa must lie in [0, 0.5), got {kappa!r}")
        self.network = network
        self.crop_size = crop_size
        self.kappa = kappa
        self.unhealthy_class = unhealthy_class
        self.absolute = absolute
        self.loader = LoadImage2D(mode="rgb")

    def locate(self, images: torch.Tensor) -> SaliencyCentres:
        """Saliency maps of the unhealthy class and their maxima inside the border rule.

        Args:
            images: (B, C, h, w) preprocessed, downsampled whole images.

        Returns:
            maps (B, h, w), centres (B, 2) in map pixels, scores (B,).
        """
        form: nn.Module = self.network.adaptive_pooling_form()
        parameter = next(form.parameters())
        plain = convert_to_tensor(images, track_meta=False).to(parameter.device)
        return saliency_centres(form, plain, self.unhealthy_class, self.kappa, self.absolute)

    def load(self, path: str | Path) -> torch.Tensor:
        """The full-resolution image, (C, H, W) float32 in the file's intensity range (0..255)."""
        return convert_to_tensor(self.loader(path), track_meta=False)

    def crop(self, image: torch.Tensor, centre: Sequence[float]) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        """The ``crop_size`` crop around ``centre``, shifted to stay inside the image, never padded.

        Args:
            image: (C, H, W) full-resolution image.
            centre: ``(x, y)`` in its pixels.

        Returns:
            the crop (C, crop_size, crop_size) and its box ``(x0, y0, x1, y1)``.
        """
        return crop_around(image, centre, self.crop_size)


def _save_png(crop: torch.Tensor, path: Path) -> None:
    """Write a (C, h, w) crop of 0..255 values as an 8-bit PNG, atomically."""
    pixels = crop.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    partial = path.with_name(f".partial_{path.name}")
    Image.fromarray(np.ascontiguousarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels)).save(
        partial, format="PNG"
    )
    os.replace(partial, path)


def training_crop_stage(
    cropper: SaliencyCropper,
    data_loader: Iterable[Mapping[str, Any]],
    crops_dir: str | Path,
    seed: int,
    reuse: bool = False,
    image_key: str = "image",
) -> OneEpochStage:
    """An engine that writes the crop of every training image to ``<crops_dir>/<id>.png``.

    Unhealthy images are cropped at their saliency maximum (:class:`SaliencyCropper`), healthy ones at a random
    place (:func:`~weakloc_networks.saliency_crop_centres.random_centre`, fixed by the seed and the id). When the
    run ends, :data:`CROPS_DONE_FILE` lists the crops; with ``reuse``, a folder holding it is kept and the stage
    ends at once (a resumed command). Under data-parallel training the main process alone writes the crops, the
    others wait for it (:class:`OneEpochStage` ``main_process_only``).

    Args:
        cropper: the saliency and crop steps.
        data_loader: batches of the training images as the first network reads them: ``image_key`` (B, C, h, w)
            ``MetaTensor`` whose meta names the files (``filename_or_obj``), ``label`` (B,) classes, ``id`` (B ids).
        crops_dir: the crops' folder (created).
        seed: seed of the healthy images' random crops.
        reuse: keep the crops of a finished earlier run.
        image_key: the batch key of the images.

    Returns:
        the engine; ``run()`` writes the crops.
    """
    folder = Path(crops_dir)
    done_file = folder / CROPS_DONE_FILE

    def crop_batch(engine: Engine, batch: Mapping[str, Any]) -> list[str]:
        images = batch[image_key]
        labels = [int(label) for label in torch.as_tensor(batch["label"]).reshape(-1)]
        unhealthy = [index for index, label in enumerate(labels) if label == cropper.unhealthy_class]
        located = cropper.locate(images[unhealthy]) if unhealthy else None
        map_size = tuple(images.shape[-2:])
        written = []
        for index, image_id in enumerate(batch["id"]):
            full = cropper.load(images.meta["filename_or_obj"][index])
            if index in unhealthy:
                centre = full_resolution_centre(located.centres[unhealthy.index(index)], map_size, full.shape[-2:])
            else:
                centre = random_centre(image_id, full.shape[-2:], cropper.crop_size, seed)
            crop, _ = cropper.crop(full, centre)
            _save_png(crop, folder / f"{image_id}.png")
            written.append(image_id)
        return written

    engine = OneEpochStage(crop_batch, data_loader, main_process_only=True)

    @engine.on(Events.STARTED)
    def _start(engine: Engine) -> None:
        if reuse and done_file.is_file():
            logger.info("training crops: reusing %s", folder)
            engine.terminate()
            return
        done_file.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)

    @engine.on(Events.EPOCH_COMPLETED)
    def _finish(engine: Engine) -> None:
        crops = sorted(path.name for path in folder.glob("*.png") if not path.name.startswith("."))
        partial = done_file.with_name(f".partial_{done_file.name}")
        partial.write_text(json.dumps({"crops": crops}, indent=1))
        os.replace(partial, done_file)
        logger.info("training crops: %d written to %s", len(crops), folder)

    return engine
