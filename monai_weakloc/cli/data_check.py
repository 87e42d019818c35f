"""``weakloc data check``: placeholder until the checketic generators land."""

from __future__ import annotations

import click


@click.command()
def check() -> None:
    """Write a checketic dataset in an official layout."""
    raise click.ClickException("not implemented yet")
