"""Record which samples each process saw in each epoch.

Used to check data-parallel training: across ranks, every sample must be seen once per epoch.
Ignite and MONAI have no handler for this.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import torch.distributed as dist
from ignite.engine import Engine, Events

__all__ = ["SeenSamplesRecorder"]


class SeenSamplesRecorder:
    """Write ``<output_dir>/seen_samples_rank<r>.json``: ``{"<epoch>": [ids of the samples seen]}``.

    Args:
        output_dir: where to write.
        id_key: key of the batch dict holding the sample ids (a list of str after collation).
    """

    def __init__(self, output_dir: str | Path, id_key: str = "id") -> None:
        self.output_dir = Path(output_dir)
        self.id_key = id_key
        self.seen: dict[int, list[str]] = defaultdict(list)

    def attach(self, engine: Engine) -> None:
        """Attach to a trainer."""
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.record)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)

    def record(self, engine: Engine) -> None:
        batch = engine.state.batch
        if not isinstance(batch, dict) or self.id_key not in batch:
            raise ValueError(f"SeenSamplesRecorder: the batch has no {self.id_key!r} key")
        self.seen[engine.state.epoch].extend(str(i) for i in batch[self.id_key])

    def write(self, engine: Engine) -> None:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"seen_samples_rank{rank}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({str(k): v for k, v in sorted(self.seen.items())}))
        os.replace(tmp, path)
