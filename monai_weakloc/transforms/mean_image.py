"""Mean-image subtraction, and the helpers that compute, save and load a data set's mean image.

MONAI normalises intensities per image or with scalar statistics (``NormalizeIntensity``); it has no
transform that subtracts a per-pixel mean image, which is what :class:`SubtractMeanImage` adds. The
mean image is resized to each input with MONAI's ``Resize`` when their sizes differ.

The saliency-crop method's preprocessing (Grzeszczuk) subtracts the training set's mean image (computed once
with :func:`compute_mean_image`, saved next to the model with :func:`save_mean_image`, read back at inference),
then stretches each image's histogram so that its darkest pixel is 0 and its brightest 1. That stretch is
MONAI's ``ScaleIntensity(d)`` with its defaults (``minv=0.0, maxv=1.0``, over the whole image; a flat image
becomes 0), so no transform of ours does it.
"""

from __future__ import annotations

import pickle
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Resize, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

from monai_weakloc.transforms.image_checks import check_channel_first_2d, image_source
from monai_weakloc.transforms.load_2d import LoadImage2D

__all__ = ["SubtractMeanImage", "SubtractMeanImaged", "compute_mean_image", "load_mean_image", "save_mean_image"]

MeanImageSource = np.ndarray | torch.Tensor | str | Path

MEAN_IMAGE_SUFFIXES: tuple[str, ...] = (".npy", ".pt")
"""File types of a saved mean image: a numpy array or a torch tensor."""


def _read_mean_image_file(path: Path) -> np.ndarray | torch.Tensor:
    """Read the array or tensor saved in ``path`` (see :data:`MEAN_IMAGE_SUFFIXES`)."""
    if path.suffix.lower() not in MEAN_IMAGE_SUFFIXES:
        raise ValueError(f"{path}: a mean image file must be a .npy or .pt file")
    if not path.is_file():
        raise ValueError(f"{path}: mean image file does not exist")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: cannot read the mean image ({reason})") from err
    if not isinstance(loaded, torch.Tensor):
        raise TypeError(f"{path}: the file must hold one tensor, got {type(loaded).__name__}")
    return loaded


def load_mean_image(mean_image: MeanImageSource) -> torch.Tensor:
    """Load a mean image given as an array or the path of a ``.npy`` or ``.pt`` file.

    Args:
        mean_image: (C, H, W) or (H, W) array/tensor, or the path of a ``.npy`` (numpy) or ``.pt`` (one torch
            tensor) file holding one.

    Returns:
        (C, H, W) float32 tensor on the CPU ((H, W) gains a channel).

    Raises:
        ValueError: naming the file, if it is missing, of another type or unreadable, or if the array is not
            2D or 3D.
        TypeError: for any other type, or (naming the file) a ``.pt`` file that holds something else than a
            tensor.
    """
    source = "mean image"
    if isinstance(mean_image, (str, Path)):
        path = Path(mean_image).expanduser()
        source = f"mean image file {path}"
        mean_image = _read_mean_image_file(path)
    if not isinstance(mean_image, (np.ndarray, torch.Tensor)):
        raise TypeError(
            f"the mean image must be an array, a tensor or a .npy/.pt path, got {type(mean_image).__name__}"
        )
    mean = convert_to_tensor(mean_image, dtype=torch.float32, device="cpu", track_meta=False)
    if mean.ndim == 2:
        mean = mean[None]
    if mean.ndim != 3:
        raise ValueError(f"{source} must be (C, H, W) or (H, W), got shape {tuple(mean.shape)}")
    return mean


def save_mean_image(path: str | Path, mean: NdarrayOrTensor) -> Path:
    """Save a mean image for :func:`load_mean_image`, as numpy (``.npy``) or torch (``.pt``) by the suffix.

    Args:
        path: the file to write (``.npy`` or ``.pt``); missing parent folders are created.
        mean: (C, H, W) or (H, W) array/tensor.

    Returns:
        the path written.

    Raises:
        ValueError: naming the file, for another suffix or a mean that is not 2D or 3D.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() not in MEAN_IMAGE_SUFFIXES:
        raise ValueError(f"{path}: a mean image file must be a .npy or .pt file")
    if mean.ndim not in (2, 3):
        raise ValueError(f"{path}: the mean image must be (C, H, W) or (H, W), got shape {tuple(mean.shape)}")
    tensor = convert_to_tensor(mean, dtype=torch.float32, device="cpu", track_meta=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npy":
        np.save(path, tensor.numpy())
    else:
        torch.save(tensor.clone(), path)
    return path


class SubtractMeanImage(Transform):
    """Subtract a per-pixel mean image: ``out = img - resize(mean, img's size)``.

    Args:
        mean_image: (C, H, W) or (H, W) array/tensor, or the path of a ``.npy`` or ``.pt`` file holding one.
            A one-channel mean is subtracted from every channel; otherwise C must match the image's.
        resize_mode: interpolation of MONAI's ``Resize`` when the mean's size differs from the image's.

    Raises:
        ValueError: see :func:`load_mean_image`.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, mean_image: MeanImageSource, resize_mode: str = "bilinear") -> None:
        self.mean_image = load_mean_image(mean_image)
        self.mean_source = f"mean image {mean_image}" if isinstance(mean_image, (str, Path)) else "mean image"
        self.resize_mode = resize_mode
        self.resized_means: dict[tuple[int, int], torch.Tensor] = {}

    def mean_for(self, spatial_size: tuple[int, int]) -> torch.Tensor:
        """The mean image resized to ``spatial_size`` (cached per size).

        Args:
            spatial_size: (H, W) of the image.

        Returns:
            (C_mean, H, W) float32 tensor.
        """
        if tuple(self.mean_image.shape[1:]) == spatial_size:
            return self.mean_image
        if spatial_size not in self.resized_means:
            resize = Resize(spatial_size=spatial_size, mode=self.resize_mode)
            self.resized_means[spatial_size] = convert_to_tensor(resize(self.mean_image), track_meta=False)
        return self.resized_means[spatial_size]

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Subtract the mean image from ``img``.

        Args:
            img: (C, H, W) image.

        Returns:
            (C, H, W) float32 image of the input's type; a ``MetaTensor`` keeps its meta.

        Raises:
            ValueError: if ``img`` is not (C, H, W) or its channel count does not match the mean's.
        """
        check_channel_first_2d(img, "SubtractMeanImage")
        mean_channels = self.mean_image.shape[0]
        if mean_channels not in (1, img.shape[0]):
            raise ValueError(
                f"SubtractMeanImage: {image_source(img)} has {img.shape[0]} channels, "
                f"the {self.mean_source} has {mean_channels}"
            )
        img_t = convert_to_tensor(img, dtype=torch.float32, track_meta=False)
        subtracted = img_t - self.mean_for(tuple(img.shape[1:])).to(img_t.device)
        return convert_to_dst_type(subtracted, dst=img, dtype=torch.float32)[0]


class SubtractMeanImaged(MapTransform):
    """Dictionary version of :class:`SubtractMeanImage`.

    Args:
        keys: keys of the (C, H, W) images.
        mean_image, resize_mode: as in :class:`SubtractMeanImage`.
        allow_missing_keys: don't raise if one of ``keys`` is missing.
    """

    backend = SubtractMeanImage.backend

    def __init__(
        self,
        keys: KeysCollection,
        mean_image: MeanImageSource,
        resize_mode: str = "bilinear",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.subtract = SubtractMeanImage(mean_image=mean_image, resize_mode=resize_mode)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.subtract(d[key])
        return d


def compute_mean_image(
    images: Iterable[NdarrayOrTensor | str | Path | Mapping[Hashable, object]],
    spatial_size: Sequence[int] | None = None,
    image_key: str = "image",
    load_mode: str = "rgb",
    resize_mode: str = "bilinear",
) -> torch.Tensor:
    """Per-pixel mean of a set of images, read one at a time (a running sum: they are never all held).

    Args:
        images: an iterable (a list, a generator, a MONAI ``Dataset``) of (C, H, W) arrays/tensors, image file
            paths, or records (dicts) whose ``image_key`` holds either; files are read with
            :class:`~monai_weakloc.transforms.load_2d.LoadImage2D`.
        spatial_size: (H, W) every image is resized to first; ``None`` requires all images to share a size.
        image_key: the key of the image in a record.
        load_mode: ``mode`` of ``LoadImage2D`` for files (``"rgb"``, ``"gray"``, ``"keep"``).
        resize_mode: interpolation of MONAI's ``Resize``.

    Returns:
        (C, H, W) float32 tensor on the CPU, accumulated in float64; save it with :func:`save_mean_image` for
        :class:`SubtractMeanImage`.

    Raises:
        ValueError: for no images, a record without ``image_key``, or an image whose shape differs from the
            first one's (naming the image's position and file).
    """
    loader = LoadImage2D(mode=load_mode)
    resize = None if spatial_size is None else Resize(spatial_size=tuple(spatial_size), mode=resize_mode)
    total: torch.Tensor | None = None
    count = 0
    for index, item in enumerate(images):
        if isinstance(item, Mapping):
            if image_key not in item:
                raise ValueError(f"compute_mean_image: record {index} has no key {image_key!r}")
            item = item[image_key]
        img = loader(item) if isinstance(item, (str, Path)) else item
        check_channel_first_2d(img, f"compute_mean_image (image {index})")
        img_t = convert_to_tensor(img, dtype=torch.float32, device="cpu", track_meta=False)
        if resize is not None:
            img_t = convert_to_tensor(resize(img_t), track_meta=False)
        if total is None:
            total = torch.zeros(img_t.shape, dtype=torch.float64)
        elif img_t.shape != total.shape:
            name = f" ({item})" if isinstance(item, (str, Path)) else ""
            raise ValueError(
                f"compute_mean_image: image {index}{name} has shape {tuple(img_t.shape)}, the first image "
                f"{tuple(total.shape)}; pass spatial_size to resize them"
            )
        total += img_t.to(torch.float64)
        count += 1
    if total is None:
        raise ValueError("compute_mean_image: no images given")
    return (total / count).to(torch.float32)
