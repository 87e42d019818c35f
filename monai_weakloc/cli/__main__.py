"""``python -m monai_weakloc.cli`` runs the ``weakloc`` command line."""

from __future__ import annotations

from monai_weakloc.cli.main import cli

cli()
