"""Help → "Open log folder": the folder of ``studio.log`` and ``crash.log`` in the file manager."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from studio.core.user_paths import log_dir
from studio.ui.background.notifier import Notifier

open_url = QDesktopServices.openUrl
"""Opens a URL with the desktop's application for it (tests replace it: no file manager starts)."""


def open_log_folder(notifier: Notifier, folder: Path | None = None) -> bool:
    """Open the log folder (created if missing); when it cannot be opened, the status bar says where it is."""
    where = folder if folder is not None else log_dir()
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        notifier.info(f"The log folder {where} cannot be created ({exc.strerror or exc}).", 20_000)
        return False
    if open_url(QUrl.fromLocalFile(str(where))):
        return True
    notifier.info(f"No file manager opened the log folder: it is {where}", 20_000)
    return False
