"""LocalizationOutputWriter under a two-process gloo group: each process its images' files, rank 0 the tables once.

Two processes (``torch.multiprocessing.spawn``) each write their share of five images; the folder they write
together must equal the folder one process writes from all five, tables included (sorted by image, each image's
boxes in the localizer's order). A process without images and an image run by both processes are tried too.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from monai.data import MetaTensor
from monai.utils import CommonKeys
from PIL import Image

from monai_weakloc.engines.localization_outputs import LocalizationOutputWriter
from monai_weakloc.localize import Detections, Localization

SIZE = 16  # original images and network input alike: no crop
# image id -> (probabilities, boxes (x, y, w, h) in the localizer's order, their scores)
IMAGES = {
    "a": ([0.2, 0.8], [[1.0, 1.0, 4.0, 4.0]], [0.5]),
    "b": ([0.6, 0.4], [[8.0, 2.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0]], [0.3, 0.9]),
    "c": ([0.1, 0.9], [], []),
    "d": ([0.7, 0.3], [[2.0, 9.0, 5.0, 5.0], [6.0, 6.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0]], [0.2, 0.8, 0.4]),
    "e": ([0.5, 0.5], [[0.0, 4.0, 8.0, 8.0]], [0.6]),
}
# as a DistributedSampler(even_divisible=False, shuffle=False) splits the ids in the order e, a, d, b, c
SHARES = {0: [["e", "d"], ["c"]], 1: [["a", "b"]]}


def _engine(folder: Path, ids: list[str]) -> SimpleNamespace:
    """An evaluator's state after one batch of ``ids``: the network input and the localization found in it."""
    paths = []
    for image_id in ids:
        path = folder / "images" / f"{image_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((SIZE, SIZE, 3), 90, dtype=np.uint8)).save(path)
        paths.append(str(path))
    count = len(ids)
    image = MetaTensor(
        torch.zeros(count, 3, SIZE, SIZE),
        meta={"original_size": torch.tensor([[SIZE, SIZE]] * count), "filename_or_obj": paths},
    )
    ramp = torch.arange(SIZE * SIZE, dtype=torch.float32).reshape(SIZE, SIZE)
    heatmaps = torch.stack([ramp * (1 + ord(image_id)) for image_id in ids])  # (B, SIZE, SIZE), one per image
    result = Localization(
        probabilities=torch.tensor([IMAGES[image_id][0] for image_id in ids]),
        heatmaps={"map": heatmaps},
        boxes=[
            Detections(torch.tensor(boxes).reshape(-1, 4), ["lesion"] * len(boxes), torch.tensor(scores))
            for _, boxes, scores in (IMAGES[image_id] for image_id in ids)
        ],
    )
    batch = {CommonKeys.IMAGE: image, "id": ids}
    return SimpleNamespace(state=SimpleNamespace(batch=batch, output={CommonKeys.PRED: result}, device=torch.device("cpu")))


def _run(folder: Path, out: Path, batches: list[list[str]]) -> None:
    """One evaluator epoch over ``batches`` through a writer into ``out``."""
    writer = LocalizationOutputWriter(out, localizer=None, write_nifti=True)
    writer.reset()
    for ids in batches:
        writer.write_batch(_engine(folder, ids))
    writer.write_tables()


def _two_ranks(rank: int, world_size: int, init_file: str, folder: str) -> None:
    """One rank: its share of the images; then everything on rank 0 and nothing on rank 1; then image a twice."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        root = Path(folder)
        _run(root, root / "split", SHARES[rank])
        _run(root, root / "one_busy", [list(IMAGES)] if rank == 0 else [])
        error = ""
        try:
            _run(root, root / "twice", [["a"]])
        except ValueError as err:
            error = str(err)
        (root / f"twice_error_rank{rank}.json").write_text(json.dumps(error))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _files(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def two_rank_folders(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("writer_two_ranks")
    mp.spawn(_two_ranks, args=(2, str(root / "init"), str(root)), nprocs=2, join=True)
    return root


def test_two_processes_write_the_folder_one_process_writes(two_rank_folders, tmp_path):
    single = tmp_path / "single"
    _run(tmp_path, single, [list(IMAGES)])
    expected = _files(single)
    assert {"predictions.csv", "boxes.csv", "heatmaps/d_map.nii.gz", "overlays/b.png"} <= set(expected)
    assert (single / "boxes.csv").read_text().splitlines()[4:7] == [  # d's boxes in the localizer's order
        "d,lesion,2.0,9.0,5.0,5.0,0.200000", "d,lesion,6.0,6.0,1.0,1.0,0.800000", "d,lesion,3.0,3.0,3.0,3.0,0.400000"
    ]
    for folder in ("split", "one_busy"):
        written = _files(two_rank_folders / folder)
        assert sorted(written) == sorted(expected), folder
        for name in ("predictions.csv", "boxes.csv"):
            assert written[name] == expected[name], f"{folder}/{name}"
        for name in (name for name in expected if name.endswith(".png")):
            pixels = np.asarray(Image.open(two_rank_folders / folder / name))
            assert np.array_equal(pixels, np.asarray(Image.open(single / name))), f"{folder}/{name}"
    assert not list(two_rank_folders.rglob("*.tmp"))


def test_an_image_run_by_two_processes_is_named_by_rank_zero(two_rank_folders):
    errors = [json.loads((two_rank_folders / f"twice_error_rank{rank}.json").read_text()) for rank in (0, 1)]
    assert "image a was run by processes 0 and 1" in errors[0] and "even_divisible=False" in errors[0]
    assert errors[1] == ""  # rank 1 handed its rows over; rank 0 refuses the table
    assert not (two_rank_folders / "twice" / "predictions.csv").exists()
