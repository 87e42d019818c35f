"""``weakloc data synth``: placeholder until the synthetic generators land."""

from __future__ import annotations

import click


@click.command()
def synth() -> None:
    """Write a synthetic dataset in an official layout."""
    raise click.ClickException("not implemented yet")
