"""``weakloc data``: synthetic datasets in the official layouts, and checks of datasets on disk."""

from __future__ import annotations

import click

from monai_weakloc.cli.data_check import check
from monai_weakloc.cli.data_synth import synth


@click.group()
def data() -> None:
    """Generate synthetic datasets and check datasets in their official layouts."""


data.add_command(synth)
data.add_command(check)
