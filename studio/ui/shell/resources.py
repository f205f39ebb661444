"""Files shipped in ``studio.resources``: the application icon and the sample experiment."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from PySide6.QtGui import QIcon


def resource_path(*parts: str) -> Path:
    """The path of a file in the resources folder."""
    return Path(str(files("studio.resources").joinpath(*parts)))


@cache
def app_icon() -> QIcon:
    """Studio's window and application icon."""
    return QIcon(str(resource_path("icons", "studio.svg")))


def sample_experiment_dir() -> Path:
    """The folder of the bundled sample experiment (``train.py``)."""
    return resource_path("sample")
