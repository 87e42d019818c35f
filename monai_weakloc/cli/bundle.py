"""``weakloc bundle``: placeholder."""
from __future__ import annotations
import click
@click.group()
def bundle() -> None:
    """Find and describe the bundles."""
