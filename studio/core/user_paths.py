"""The user's folders Studio writes to, named in one place (no Qt): the window, the CLI and diagnostics agree.

All come from ``platformdirs`` with the application name ``studio`` (no author folder), so they follow the
platform's rules: on Linux ``$XDG_CONFIG_HOME/studio``, ``$XDG_DATA_HOME/studio``, ``$XDG_CACHE_HOME/studio``
and the log folder ``$XDG_STATE_HOME/studio/log``. ``platformdirs`` is imported when a folder is first asked for.
"""

from __future__ import annotations

from pathlib import Path

APP = "studio"
LOG_FILE = "studio.log"
"""The rotating log file, in ``log_dir()``."""
CRASH_FILE = "crash.log"
"""Where ``faulthandler`` writes native crashes, in ``log_dir()``."""


def config_dir() -> Path:
    """Settings files (``azure.json``; the window's QSettings file sits here too on Linux)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    """Data the user keeps (the default local workspace is ``workspaces/default`` in it)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Caches that may be deleted (the Azure kind's offline cache)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def log_dir() -> Path:
    """The log folder: ``studio.log`` (rotated) and ``crash.log``. Help → "Open log folder" opens it."""
    import platformdirs

    return Path(platformdirs.user_log_dir(APP, appauthor=False))
