"""Root of the ``weakloc`` command line; each command group lives in its own module."""

from __future__ import annotations

import logging

import click

from monai_weakloc import __version__
from monai_weakloc.cli.bundle import bundle
from monai_weakloc.cli.data import data
from monai_weakloc.cli.evaluate import evaluate
from monai_weakloc.cli.plugins import plugins
from monai_weakloc.cli.predict import predict
from monai_weakloc.cli.report import report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="weakloc")
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level to stderr.")
def cli(verbose: bool) -> None:
    """Weakly supervised lesion localization: bundles, plugins, datasets and evaluation."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(bundle)
cli.add_command(plugins)
cli.add_command(data)
cli.add_command(evaluate)
cli.add_command(predict)
cli.add_command(report)
