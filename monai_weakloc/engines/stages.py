"""Several training stages in one command: each its own trainer, run in order.

A method such as the microaneurysm segmentation trains separate networks one after the other (a segmentation
network at two scales, then a patch classifier). Each stage is a complete Ignite trainer with its own
checkpoint folder and resume handler, so a resumed command continues the stage that was interrupted: a stage
that had finished loads its last checkpoint, which is at its final epoch, and ends at once; the one that was
interrupted continues from its last checkpoint; later ones start. A bundle names the stages to run in a
config id, so one stage can be trained alone. Ignite and MONAI run one engine at a time and have no such
sequencing, hence this module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from ignite.engine import Engine

__all__ = ["run_stages"]

logger = logging.getLogger(__name__)


def run_stages(trainers: Mapping[str, Engine], stages: Sequence[str]) -> list[str]:
    """Run the trainers of ``stages``, in the order given.

    Args:
        trainers: stage name -> its trainer (built, not yet run).
        stages: the names of the stages to run (a subset of ``trainers``, each once).

    Returns:
        the stages run.

    Raises:
        ValueError: for no stage, a repeated stage, or a name that is not a stage (naming the known ones).
    """
    names = list(stages)
    unknown = [name for name in names if name not in trainers]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(
            f"stages must be distinct names of {', '.join(trainers)}; got {names}"
            + (f" ({', '.join(unknown)} unknown)" if unknown else "")
        )
    for number, name in enumerate(names, start=1):
        logger.info("training stage %d of %d: %s", number, len(names), name)
        trainers[name].run()
    return names
