"""Write what a localizer found, per image, in the original image's geometry: the output contract.

Every bundle's inference writes the files of ``docs/outputs.md`` into its ``output_dir`` through this one
handler; which files depends on what the method's :class:`~monai_weakloc.localize.Localization` holds:

- ``predictions.csv``: single-label ``image,<label_column>,prob_0,...,prob_{K-1}``; multi-label
  ``image,labels,<class name>...`` with ``labels`` the classes at or above ``label_threshold`` joined by
  ``|`` (``No Finding`` when none);
- ``heatmaps/<image>_<map>.png`` (8-bit) and ``.nii.gz`` (float32 values), one per named map;
- ``boxes.csv`` ``image,label,x,y,w,h,score`` and ``points.csv`` ``image,label,x,y,score``;
- ``masks/<image>_<label>.nii.gz`` (probability) and ``.png`` (binary at ``mask_threshold``, 0/255);
- ``overlays/<image>.png``: the overlay map over the original image, with boxes and points.

A registered localizer (``monai_weakloc.registry.create("localizer", ...)``) turns the network's output for a
batch into a ``Localization`` in network-input pixels; this handler maps it back through the loader's meta
data (``original_size`` and ``crop_box``, see :mod:`monai_weakloc.transforms`). MONAI's ``SaveImage`` and
``ClassificationSaver`` write one array or one CSV of scores; none maps boxes and points back through a
crop, hence this handler.

Under ``torchrun`` (a bundle's ``multi_gpu_inference.json``: a ``DistributedSampler`` hands each process its
own images, none twice, none dropped) every process writes its own images' files, and rank 0 alone writes the
tables, once, from every process's rows, sorted as the contract says: the folder is the one a single process
writes.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.utils import CommonKeys

from monai_weakloc.engines.distributed import gather_to_main_process
from monai_weakloc.localize.geometry import input_boxes_to_original, input_points_to_original
from monai_weakloc.localize.localization import Detections, Localization, Localizer
from monai_weakloc.report import write_heatmap_nifti, write_heatmap_png, write_overlay
from monai_weakloc.report.geometry import restore_field_of_view
from monai_weakloc.report.heatmap_png import write_binary_mask_png
from monai_weakloc.transforms import CROP_BOX_META_KEY, ORIGINAL_SIZE_META_KEY, LoadImage2D

__all__ = ["NO_FINDING", "LocalizationOutputWriter", "predicted_labels"]

logger = logging.getLogger(__name__)

NO_FINDING = "No Finding"
"""The ``labels`` value of a multi-label image with no class at or above the threshold (ChestX-ray14's)."""

BOX_HEADER = ["image", "label", "x", "y", "w", "h", "score"]
POINT_HEADER = ["image", "label", "x", "y", "score"]


def predicted_labels(probabilities: Sequence[float], class_names: Sequence[str], threshold: float) -> str:
    """Multi-label prediction as ChestX-ray14 writes findings: names at or above ``threshold`` joined by ``|``.

    Args:
        probabilities: K probabilities of one image.
        class_names: the K class names.
        threshold: the decision level.

    Returns:
        e.g. ``"Effusion|Mass"``, or ``"No Finding"``.
    """
    found = [name for name, p in zip(class_names, probabilities) if p >= threshold]
    return "|".join(found) if found else NO_FINDING


@dataclass
class _ImageGeometry:
    """Where one network input came from: original (H, W) and the crop ``(x0, y0, x1, y1)`` it was resized from."""

    original_size: tuple[int, int]
    crop_box: tuple[int, int, int, int]
    input_size: tuple[int, int]


@dataclass
class _ImageFiles:
    """What one image's files are written from, on the CPU, detections already in original pixels."""

    image_id: str
    source: str
    geometry: _ImageGeometry
    heatmaps: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    overlay_map: torch.Tensor | None
    boxes: Detections | None
    points: Detections | None
    field_of_view: torch.Tensor | None


@dataclass
class _Tables:
    """Rows of the CSV files, and which of them the method produces."""

    predictions: list[list[Any]] = field(default_factory=list)
    boxes: list[list[Any]] = field(default_factory=list)
    points: list[list[Any]] = field(default_factory=list)
    header: list[str] | None = None
    has_boxes: bool = False
    has_points: bool = False


def _merged_tables(per_process: Sequence[_Tables]) -> _Tables:
    """The rows of several processes' tables as one, in process order (the writer sorts them by image).

    Args:
        per_process: each process's rows, rank 0 first; a process that ran no image has no header.

    Returns:
        every row, the header of the processes that ran images, and boxes and points when any process had them.

    Raises:
        ValueError: when processes wrote different prediction columns, or one image was run by two processes
            (a sampler that pads its shards, such as ``DistributedSampler(even_divisible=True)``, repeats images).
    """
    merged = _Tables()
    runs: dict[str, int] = {}
    for rank, tables in enumerate(per_process):
        if tables.header is not None and merged.header is not None and tables.header != merged.header:
            raise ValueError(
                f"LocalizationOutputWriter: process {rank} wrote the columns {tables.header}, an earlier one {merged.header}"
            )
        merged.header = merged.header or tables.header
        for row in tables.predictions:
            image_id = str(row[0])
            if runs.setdefault(image_id, rank) != rank:
                raise ValueError(
                    f"LocalizationOutputWriter: image {image_id} was run by processes {runs[image_id]} and {rank}; "
                    "split the images with DistributedSampler(even_divisible=False), which repeats none"
                )
        merged.predictions += tables.predictions
        merged.boxes += tables.boxes
        merged.points += tables.points
        merged.has_boxes |= tables.has_boxes
        merged.has_points |= tables.has_points
    return merged


@dataclass
class _FileOptions:
    """How the image files are written (what a writer thread needs of the writer)."""

    output_dir: Path
    write_nifti: bool
    mask_threshold: float


def write_image_files(options: _FileOptions, files: _ImageFiles) -> None:
    """Write one image's heatmaps, masks and overlay (on a writer thread, or on the engine's thread)."""
    size, crop, image_id = files.geometry.original_size, files.geometry.crop_box, files.image_id
    output_dir = options.output_dir
    for name, heatmap in files.heatmaps.items():
        write_heatmap_png(heatmap, output_dir / "heatmaps" / f"{image_id}_{name}.png", size, crop)
        if options.write_nifti:
            write_heatmap_nifti(heatmap, output_dir / "heatmaps" / f"{image_id}_{name}.nii.gz", size, crop)
    for label, probability in files.masks.items():
        write_heatmap_nifti(probability, output_dir / "masks" / f"{image_id}_{label}.nii.gz", size, crop)
        write_binary_mask_png(
            probability, output_dir / "masks" / f"{image_id}_{label}.png", options.mask_threshold, size, crop
        )
    if files.overlay_map is None:
        return
    boxes, points = files.boxes, files.points
    box_rows = [] if boxes is None else boxes.coordinates.tolist()
    field_of_view = None
    if files.field_of_view is not None:
        field_of_view = restore_field_of_view(files.field_of_view > 0.5, size, crop)
    write_overlay(
        LoadImage2D(mode="keep")(files.source),
        files.overlay_map,
        output_dir / "overlays" / f"{image_id}.png",
        boxes=[(x, y, x + w, y + h) for x, y, w, h in box_rows],
        labels=None if boxes is None else list(boxes.labels),
        scores=None if boxes is None else boxes.scores.tolist(),
        crop_box=crop,
        field_of_view=field_of_view,
        points=[] if points is None else points.coordinates.tolist(),
        point_labels=None if points is None else list(points.labels),
        point_scores=None if points is None else points.scores.tolist(),
    )


class LocalizationOutputWriter:
    """Ignite handler, attached to an evaluator, writing the files of the output contract.

    Args:
        output_dir: where the files go.
        localizer: ``localizer(pred, batch) -> Localization`` with the evaluator's
            ``engine.state.output[CommonKeys.PRED]`` (use an evaluator with ``decollate=False``) and
            ``engine.state.batch``; build it by registry name in a config. ``None``: the output already is a
            ``Localization`` (an ensemble's post-processing made it, see
            :class:`~monai_weakloc.engines.ensemble.MeanLocalizationEnsembled`).
        image_key: batch key of the network input (a ``MetaTensor`` with ``original_size``, ``crop_box``
            and ``filename_or_obj`` in its meta).
        id_key: batch key of the image ids (the file names without extension).
        label_column: single-label predictions: the name of the predicted-class column (``level`` for graded
            datasets, ``label`` otherwise).
        label_threshold: multi-label predictions: the probability at which a class is predicted.
        mask_threshold: the probability at which a mask pixel is foreground in ``masks/*.png``.
        field_of_view_key: batch key of the field of view (B, 1, H_in, W_in) in network-input pixels; the
            overlays draw no heat outside it. Missing from the batch: the whole crop is the field of view.
        write_nifti: also write each heatmap as NIfTI (the masks are always written as NIfTI).
        write_overlays: write ``overlays/`` (reads each original image once more).
        writer_threads: the image files (heatmaps, masks, overlays) are written by this many threads, off
            the compute path, while the next batch is loaded and run (PNG and gzip encoding, numpy and
            PyTorch release the interpreter lock); 0 writes them on the engine's thread. The tables are kept
            in order on the engine's thread, and the end of the run waits for every file, so nothing is
            lost; an error in a writer thread is raised at the next batch or at the end. Measured in
            ``bench/bench_zoom_in_net_inference.py``.
        max_pending: with writer threads, the most image writes queued before a batch waits for them
            (bounds the memory the queue holds).

    Under a process group (``torchrun``, see ``multi_gpu_inference.json``), each process writes the image files
    of the images its sampler gave it, as a single process does, while the tables wait for the end: when the
    evaluator's epoch completes, every process, its own files written, hands its rows to rank 0
    (:func:`~monai_weakloc.engines.distributed.gather_to_main_process`, on the evaluator's device, so that NCCL
    gathers from each process's own GPU), and rank 0 writes each table once. Tables written by every process
    would overwrite one another, and rows appended to a shared file would interleave out of order. Without a
    process group, the tables hold this process's rows, as always.

    Raises:
        ValueError: when thresholds are not in [0, 1].
    """

    def __init__(
        self,
        output_dir: str | Path,
        localizer: Localizer | None,
        image_key: str = CommonKeys.IMAGE,
        id_key: str = "id",
        label_column: str = "level",
        label_threshold: float = 0.5,
        mask_threshold: float = 0.5,
        field_of_view_key: str = "fov",
        write_nifti: bool = True,
        write_overlays: bool = True,
        writer_threads: int = 1,
        max_pending: int = 64,
    ) -> None:
        for name, value in (("label_threshold", label_threshold), ("mask_threshold", mask_threshold)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"LocalizationOutputWriter: {name} must lie in [0, 1], got {value!r}")
        self.output_dir = Path(output_dir)
        self.localizer = localizer
        self.image_key = image_key
        self.id_key = id_key
        self.label_column = label_column
        self.label_threshold = label_threshold
        self.mask_threshold = mask_threshold
        self.field_of_view_key = field_of_view_key
        self.write_nifti = write_nifti
        self.write_overlays = write_overlays
        if writer_threads < 0:
            raise ValueError(f"LocalizationOutputWriter: writer_threads must be >= 0, got {writer_threads!r}")
        self._tables = _Tables()
        self.writer_threads = writer_threads
        self.max_pending = max_pending
        self._options = _FileOptions(self.output_dir, write_nifti, mask_threshold)
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def attach(self, engine: Engine) -> None:
        """Attach to an evaluator."""
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.write_batch)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write_tables)

    def reset(self, engine: Engine | None = None) -> None:
        """Forget the rows of an earlier run (after its queued files are written)."""
        self._wait()
        self._tables = _Tables()

    def write_batch(self, engine: Engine) -> None:
        """Keep the table rows of one batch and write (or queue, see ``writer_threads``) its image files."""
        self._raise_background_error()
        batch = engine.state.batch
        pred = engine.state.output[CommonKeys.PRED]
        result = pred if self.localizer is None else self.localizer(pred, batch)
        if not isinstance(result, Localization):
            raise TypeError(
                f"LocalizationOutputWriter: expected a Localization from the localizer, got {type(result).__name__}"
            )
        image = batch[self.image_key]
        ids = [str(image_id) for image_id in batch[self.id_key]]
        if len(ids) != result.batch_size:
            raise ValueError(f"LocalizationOutputWriter: {result.batch_size} results for the {len(ids)} images {ids}")
        fov = batch.get(self.field_of_view_key) if isinstance(batch, Mapping) else None
        overlay_maps = self._overlay_maps(result)
        for index, image_id in enumerate(ids):
            geometry = self._geometry(image, index)
            self._keep_prediction(image_id, result, index)
            files = _ImageFiles(
                image_id=image_id,
                source=str(image.meta["filename_or_obj"][index]),
                geometry=geometry,
                heatmaps={name: maps[index].detach().float().cpu() for name, maps in result.heatmaps.items()},
                masks={label: maps[index].detach().float().cpu() for label, maps in (result.masks or {}).items()},
                overlay_map=None if overlay_maps is None else overlay_maps[index].detach().float().cpu(),
                boxes=self._keep_detections(image_id, result.boxes, index, geometry, self._tables.boxes),
                points=self._keep_detections(image_id, result.points, index, geometry, self._tables.points),
                field_of_view=None if fov is None else fov[index].detach().float().cpu().reshape(fov.shape[-2:]),
            )
            if self.writer_threads == 0:
                write_image_files(self._options, files)
            else:
                self._pending.append(self._writer_pool().submit(write_image_files, self._options, files))
        self._tables.has_boxes |= result.boxes is not None
        self._tables.has_points |= result.points is not None
        self._wait(keep=self.max_pending)

    def _writer_pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.writer_threads, thread_name_prefix="weakloc-writer")
        return self._executor

    def _wait(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` image writes are pending; re-raise the first error of a finished one."""
        while len(self._pending) > keep:
            self._pending.pop(0).result()

    def _raise_background_error(self) -> None:
        finished = [future for future in self._pending if future.done()]
        for future in finished:
            self._pending.remove(future)
            future.result()

    def _geometry(self, image: Any, index: int) -> _ImageGeometry:
        meta = image.meta
        original_size = tuple(int(v) for v in meta[ORIGINAL_SIZE_META_KEY][index])
        if CROP_BOX_META_KEY in meta:
            crop_box = tuple(int(v) for v in meta[CROP_BOX_META_KEY][index])
        else:
            crop_box = (0, 0, original_size[1], original_size[0])
        return _ImageGeometry(original_size, crop_box, tuple(int(v) for v in image.shape[-2:]))

    def _keep_prediction(self, image_id: str, result: Localization, index: int) -> None:
        probabilities = result.probabilities[index].detach().float().cpu().tolist()
        if result.probability_kind == "multi_label":
            names = result.names_of_classes()
            header = ["image", "labels", *names]
            first = predicted_labels(probabilities, names, self.label_threshold)
        else:
            header = ["image", self.label_column, *[f"prob_{k}" for k in range(len(probabilities))]]
            first = int(np.argmax(probabilities))
        if self._tables.header is None:
            self._tables.header = header
        elif self._tables.header != header:
            raise ValueError(f"LocalizationOutputWriter: image {image_id} has columns {header}, earlier images {self._tables.header}")
        self._tables.predictions.append([image_id, first, *[f"{p:.6f}" for p in probabilities]])

    @staticmethod
    def _keep_detections(
        image_id: str,
        per_image: Sequence[Detections] | None,
        index: int,
        geometry: _ImageGeometry,
        rows: list[list[Any]],
    ) -> Detections | None:
        """Map one image's detections to the original image, keep their rows, return them mapped."""
        if per_image is None:
            return None
        detections = per_image[index]
        coordinates = detections.coordinates.detach().double().cpu().numpy()
        if coordinates.shape[1] == 4:
            mapped = input_boxes_to_original(coordinates, geometry.input_size, geometry.crop_box)
        else:
            mapped = input_points_to_original(coordinates, geometry.input_size, geometry.crop_box)
        scores = detections.scores.detach().double().cpu().numpy().reshape(-1)
        for values, label, score in zip(mapped, detections.labels, scores):
            rows.append([image_id, str(label), *[f"{v:.1f}" for v in values], f"{float(score):.6f}"])
        return Detections(torch.from_numpy(mapped), list(detections.labels), torch.from_numpy(scores))

    def _overlay_maps(self, result: Localization) -> torch.Tensor | None:
        """(B, h, w): the overlay map, else the first heatmap, else the first mask; ``None`` without any."""
        if not self.write_overlays:
            return None
        if result.overlay_map is not None:
            return result.overlay_map
        if result.heatmaps:
            return next(iter(result.heatmaps.values()))
        if result.masks:
            return next(iter(result.masks.values()))
        return None

    def write_tables(self, engine: Engine | None = None) -> None:
        """Wait for the queued image files, then write ``predictions.csv`` and, as the method has them,
        ``boxes.csv`` and ``points.csv`` (atomically); under a process group, rank 0 writes every process's rows
        and the other ranks write no table.

        Args:
            engine: the evaluator; its ``state.device`` (MONAI's workflows keep it) is where NCCL gathers.
        """
        self._wait()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        device = getattr(getattr(engine, "state", None), "device", None)
        per_process = gather_to_main_process(self._tables, device)
        if per_process is None:
            return
        tables = _merged_tables(per_process)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        written = [self._write_csv(self.output_dir / "predictions.csv", tables.header or ["image"], tables.predictions)]
        if tables.has_boxes:
            written.append(self._write_csv(self.output_dir / "boxes.csv", BOX_HEADER, tables.boxes))
        if tables.has_points:
            written.append(self._write_csv(self.output_dir / "points.csv", POINT_HEADER, tables.points))
        logger.info(
            "wrote %d predictions, %d boxes and %d points to %s (%s)",
            len(tables.predictions), len(tables.boxes), len(tables.points), self.output_dir,
            ", ".join(path.name for path in written),
        )

    @staticmethod
    def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(sorted(rows, key=lambda row: str(row[0])))
        os.replace(tmp, path)
        return path
