"""Silence the notices MONAI prints at every run that say nothing to a user of this toolkit.

- ``nvImageCodec is not available; skipping pydicom decoder plugin registration.`` (a log warning of
  ``monai.data.nvimgcodec_pydicom_plugin``) and ``NvImgCodecPydicomReader: nvImageCodec decoder plugin did not
  register successfully...`` (a ``UserWarning``): MONAI's ``LoadImage`` builds every default reader, the optional
  GPU DICOM decoder among them, each time it is made; the toolkit reads DICOM with ``PydicomReader``
  (:class:`~monai_weakloc.transforms.LoadImage2D`), so the decoder's absence changes nothing.
- ``Detected deprecated name 'optional_packages_version' in configuration file...`` (a ``UserWarning`` of
  ``monai.bundle``): the bundle metadata schema still requires that name (``verify_metadata`` fails without it),
  so the bundles keep it.

:func:`silence_monai_notices` is called when ``monai_weakloc`` is imported: every bundle config imports it, so
the DICOM notices go from ``python -m monai.bundle run`` too. MONAI reads the metadata before a config's imports
run, so there the deprecation notice still shows, once; ``weakloc bundle run`` starts MONAI with
:func:`quiet_environment`, whose ``PYTHONWARNINGS`` silences it from the start.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping

__all__ = ["PYTHON_WARNINGS_ENV", "quiet_environment", "silence_monai_notices"]

PYTHON_WARNINGS_ENV = "PYTHONWARNINGS"

DICOM_DECODER_LOGGER = "monai.data.nvimgcodec_pydicom_plugin"
DICOM_DECODER_LOG_MESSAGE = "nvImageCodec is not available"
DICOM_DECODER_WARNING = "NvImgCodecPydicomReader: nvImageCodec decoder plugin did not register"
DEPRECATED_METADATA_WARNING = "Detected deprecated name 'optional_packages_version'"


class _DropMessagesStartingWith(logging.Filter):
    """A logging filter that drops the records whose message starts with a given text."""

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.start)


def silence_monai_notices() -> None:
    """Install the warning filters and the logging filter that drop the notices (once: later calls add nothing)."""
    for message in (DICOM_DECODER_WARNING, DEPRECATED_METADATA_WARNING):
        warnings.filterwarnings("ignore", message=re.escape(message), category=UserWarning)
    logger = logging.getLogger(DICOM_DECODER_LOGGER)
    if not any(isinstance(existing, _DropMessagesStartingWith) for existing in logger.filters):
        logger.addFilter(_DropMessagesStartingWith(DICOM_DECODER_LOG_MESSAGE))


def quiet_environment(environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``python -m monai.bundle`` process: ``PYTHONWARNINGS`` also ignores the metadata
    deprecation notice, which MONAI gives before a config imports this package.

    Args:
        environment: the environment to extend; ``None``: this process's.

    Returns:
        a copy with the ``ignore`` entry added to ``PYTHONWARNINGS`` (entries already there are kept, and win).
    """
    quiet = dict(os.environ if environment is None else environment)
    entry = f"ignore:{DEPRECATED_METADATA_WARNING}:UserWarning"
    quiet[PYTHON_WARNINGS_ENV] = ",".join(part for part in (entry, quiet.get(PYTHON_WARNINGS_ENV, "")) if part)
    return quiet
