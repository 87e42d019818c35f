"""Hard-example two-stage sampling (multi-attention network, ChestX-ray14).

Stage one trains on the training set A. Then B, the hard examples, are the samples with at least one positive
label that the model scores below a threshold (0.5); stage two trains on C = A + B, so every hard sample is seen
twice per epoch. :func:`find_hard_examples` builds B from scores, :class:`HardExampleSampler` samples A or C.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import Any

import torch
from monai.data import DistributedSampler
from torch.utils.data import Sampler

from weakloc_samplers.distributed import resolve_replicas

__all__ = ["HardExampleSet", "find_hard_examples", "HardExampleSampler"]


@dataclass(frozen=True)
class HardExampleSet:
    """The hard examples B of a training set.

    Attributes:
        indices: dataset indices of the hard samples, shape (H,), int64, ascending.
        hard_labels: which of each hard sample's positive labels scored below the threshold, shape (H, L), bool.
    """

    indices: torch.Tensor
    hard_labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def label_counts(self) -> torch.Tensor:
        """Number of hard samples per label, shape (L,), int64."""
        return self.hard_labels.sum(dim=0)


def _as_matrix(values: torch.Tensor | Sequence, field: str) -> torch.Tensor:
    matrix = torch.as_tensor(values).detach().cpu()
    if matrix.ndim == 1:
        matrix = matrix.unsqueeze(1)
    if matrix.ndim != 2:
        raise ValueError(f"{field} must have shape (N,) or (N, L), got {tuple(matrix.shape)}")
    return matrix.to(torch.float64)


def find_hard_examples(
    scores: torch.Tensor | Sequence,
    labels: torch.Tensor | Sequence,
    threshold: float = 0.5,
    indices: torch.Tensor | Sequence[int] | None = None,
) -> HardExampleSet:
    """Find the positive samples that the model scores below ``threshold``, label by label.

    A sample is hard when any of its positive labels has a score below ``threshold``; the labels at fault are
    recorded. Negative labels never make a sample hard.

    Args:
        scores: per-label probabilities in [0, 1], shape (N, L) or (N,) for a single label.
        labels: binary targets of the same shape.
        threshold: a positive label scored below it is hard; the multi-attention method uses 0.5.
        indices: dataset index of each row, shape (N,); defaults to ``0..N-1``.

    Returns:
        the hard examples, ascending by dataset index.

    Raises:
        ValueError: on mismatched shapes, a non-binary label, a score outside [0, 1] (naming the row), a
            threshold outside (0, 1], or duplicate indices.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    score_matrix = _as_matrix(scores, "scores")
    label_matrix = _as_matrix(labels, "labels")
    if score_matrix.shape != label_matrix.shape:
        raise ValueError(
            f"scores have shape {tuple(score_matrix.shape)} but labels have shape {tuple(label_matrix.shape)}"
        )
    non_binary = ((label_matrix != 0) & (label_matrix != 1)).any(dim=1).nonzero().flatten()
    if non_binary.numel() > 0:
        row = int(non_binary[0])
        raise ValueError(f"labels row {row} holds {label_matrix[row].tolist()}; hard examples need binary labels")
    out_of_range = (~((score_matrix >= 0) & (score_matrix <= 1))).any(dim=1).nonzero().flatten()
    if out_of_range.numel() > 0:
        row = int(out_of_range[0])
        raise ValueError(
            f"scores row {row} holds {score_matrix[row].tolist()}; scores must be probabilities in [0, 1] "
            "(apply a sigmoid to logits)"
        )
    num_rows = score_matrix.shape[0]
    row_indices = torch.arange(num_rows) if indices is None else torch.as_tensor(indices, dtype=torch.int64).flatten()
    if row_indices.shape[0] != num_rows:
        raise ValueError(f"indices hold {row_indices.shape[0]} entries for {num_rows} rows of scores")
    if torch.unique(row_indices).shape[0] != num_rows:
        raise ValueError("indices must not repeat a dataset index")
    hard_mask = (label_matrix == 1) & (score_matrix < threshold)
    hard_rows = hard_mask.any(dim=1)
    hard_indices = row_indices[hard_rows]
    order = torch.argsort(hard_indices)
    return HardExampleSet(indices=hard_indices[order], hard_labels=hard_mask[hard_rows][order])


class HardExampleSampler(Sampler[int]):
    """Sampler over the training set A that switches to C = A + B once given the hard examples B.

    Each epoch is a permutation of A (stage one) or of C (stage two, each hard sample listed twice), seeded with
    ``seed + epoch`` and shared out across ranks exactly as ``monai.data.DistributedSampler`` does, which this
    sampler builds on: it draws positions into the current index list with one. ``len`` is the per-rank count,
    ``ceil(|A| / R)`` in stage one and ``ceil((|A| + |B|) / R)`` in stage two (with the default padding).

    Call ``set_epoch`` at the start of every epoch (``HardExampleMiningHandler`` does). A switch takes effect at
    the next ``iter()``; an iterator already running keeps its draw.

    Args:
        data_source: the training set A (anything sized).
        shuffle: permute each epoch's indices; ``False`` lists A then B in order.
        seed: seed of the permutation, identical on every rank.
        drop_last: drop the tail that does not divide evenly across ranks instead of padding.
        even_divisible: ``False`` lets ranks get different counts instead of padding
            (see ``monai.data.DistributedSampler``).
        num_replicas: number of ranks; defaults to the process group's size, else 1.
        rank: this rank; defaults to the process group's rank, else 0.

    Raises:
        ValueError: if ``data_source`` is empty, or the replica settings are invalid.
    """

    def __init__(
        self,
        data_source: Sized,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        even_divisible: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if len(data_source) == 0:
            raise ValueError("HardExampleSampler needs a non-empty data_source")
        self.data_source = data_source
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.even_divisible = even_divisible
        self.num_replicas, self.rank = resolve_replicas(num_replicas, rank)
        self.epoch = 0
        self._hard_examples: HardExampleSet | None = None
        self._epoch_indices: list[int] = list(range(len(data_source)))

    @property
    def hard_examples(self) -> HardExampleSet | None:
        """The hard examples B of stage two, ``None`` in stage one."""
        return self._hard_examples

    @property
    def stage(self) -> int:
        """1 while sampling A, 2 once hard examples are set."""
        return 1 if self._hard_examples is None else 2

    @property
    def epoch_indices(self) -> list[int]:
        """The list each epoch permutes: A, or A followed by B."""
        return list(self._epoch_indices)

    def set_hard_examples(self, hard_examples: HardExampleSet) -> None:
        """Switch to stage two: sample C = A + B from the next ``iter()`` on.

        Args:
            hard_examples: B, with dataset indices into A; an empty set makes C = A.

        Raises:
            ValueError: if an index of B lies outside A.
        """
        size = len(self.data_source)
        hard_indices = [int(index) for index in hard_examples.indices.tolist()]
        outside = [index for index in hard_indices if not 0 <= index < size]
        if outside:
            raise ValueError(f"hard example index {outside[0]} lies outside the training set of {size} samples")
        self._hard_examples = hard_examples
        self._epoch_indices = list(range(size)) + hard_indices

    def clear_hard_examples(self) -> None:
        """Go back to stage one (sample A only)."""
        self._hard_examples = None
        self._epoch_indices = list(range(len(self.data_source)))

    def state_dict(self) -> dict[str, Any]:
        """The hard examples (``None`` in stage one), so that a resumed run (Ignite ``Checkpoint``) keeps stage two."""
        hard_examples = self._hard_examples
        return {
            "hard_indices": None if hard_examples is None else hard_examples.indices,
            "hard_labels": None if hard_examples is None else hard_examples.hard_labels,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the stage saved by :meth:`state_dict`.

        Raises:
            ValueError: if a key is missing or an index lies outside the training set.
        """
        missing = [key for key in ("hard_indices", "hard_labels") if key not in state_dict]
        if missing:
            raise ValueError(f"HardExampleSampler state is missing {', '.join(missing)}")
        if state_dict["hard_indices"] is None:
            self.clear_hard_examples()
        else:
            self.set_hard_examples(
                HardExampleSet(
                    indices=torch.as_tensor(state_dict["hard_indices"], dtype=torch.int64),
                    hard_labels=torch.as_tensor(state_dict["hard_labels"], dtype=torch.bool),
                )
            )

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose permutation the next ``iter()`` draws."""
        self.epoch = epoch

    def _position_sampler(self) -> DistributedSampler:
        position_sampler = DistributedSampler(
            range(len(self._epoch_indices)),
            even_divisible=self.even_divisible,
            num_replicas=self.num_replicas,
            rank=self.rank,
            shuffle=self.shuffle,
            seed=self.seed,
            drop_last=self.drop_last,
        )
        position_sampler.set_epoch(self.epoch)
        return position_sampler

    def __iter__(self) -> Iterator[int]:
        epoch_indices = self._epoch_indices
        return iter([epoch_indices[position] for position in self._position_sampler()])

    def __len__(self) -> int:
        return len(self._position_sampler())
