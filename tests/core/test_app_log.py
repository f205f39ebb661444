"""The log file (rotating, INFO, secrets redacted after formatting) and the crash file faulthandler writes."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core import app_log
from studio.core.user_paths import CRASH_FILE, LOG_FILE, log_dir

SECRET = "Zx8Q~s3cr3t.v4lue"


@pytest.fixture
def started(tmp_path: Path) -> Iterator[app_log.AppLog]:
    log = app_log.start("9.9.9", tmp_path / "logs")
    assert log is not None
    try:
        yield log
    finally:
        log.close()


def _text(log: app_log.AppLog) -> str:
    assert log.handler is not None
    log.handler.flush()
    return log.log_file.read_text(encoding="utf-8")


def test_the_log_folder_is_the_users_state_folder() -> None:
    assert log_dir() == Path(os.environ["XDG_STATE_HOME"]) / "studio" / "log"


def test_info_lines_carry_time_level_logger_and_message(started: app_log.AppLog) -> None:
    logging.getLogger("studio.ui.shell.app").info("Studio %s started on %s", "9.9.9", "/home/u/ws")
    logging.getLogger("studio.x").debug("not written")
    line = _text(started).splitlines()[-1]
    assert line.endswith("INFO studio.ui.shell.app: Studio 9.9.9 started on /home/u/ws")
    assert line[:4].isdigit()  # 2026-12-04 23:10:00,123
    assert "not written" not in _text(started)


def test_a_second_start_is_the_same_log(started: app_log.AppLog) -> None:
    assert app_log.start("9.9.9") is started
    assert app_log.active() is started


def test_secrets_in_arguments_and_exception_text_are_redacted(started: app_log.AppLog) -> None:
    log = logging.getLogger("studio.workspaces.azure.identity")
    log.warning("token request failed: %s", {"client_secret": SECRET, "Authorization": f"Bearer {SECRET}"})
    try:
        raise RuntimeError(f"POST /token body=grant_type=client_credentials&client_secret={SECRET}")
    except RuntimeError:
        log.exception("sign-in failed for %s", f"https://u:{SECRET}@host")
    text = _text(started)
    assert SECRET not in text
    assert "client_secret" in text  # the name stays: the reader knows what was hidden
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: POST /token" in text


def test_the_file_rotates_at_one_megabyte_keeping_five(started: app_log.AppLog) -> None:
    handler = started.handler
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (1_000_000, 5)
    line = "x" * 1000
    for _ in range(1100):
        logging.getLogger("studio.test").info(line)
    assert (started.folder / f"{LOG_FILE}.1").is_file()
    assert started.log_file.stat().st_size < 1_000_000


def test_a_read_only_folder_costs_the_log_not_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_log, "_warned", False)
    blocker = tmp_path / "home"
    blocker.write_text("a file where the folder should be")
    err = io.StringIO()
    assert app_log.start("9.9.9", blocker / "log", stderr=err) is None
    assert app_log.start("9.9.9", blocker / "log", stderr=err) is None
    lines = err.getvalue().splitlines()
    assert len(lines) == 1  # said once
    assert lines[0].startswith("studio: warning: no log file,") and str(blocker / "log") in lines[0]


CRASH = """
import faulthandler, sys
from pathlib import Path
from studio.core import app_log
app_log.start("9.9.9", Path(sys.argv[1]))
def inner():
    faulthandler._sigsegv()
inner()
"""


def test_a_native_crash_is_written_to_the_crash_file(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    done = subprocess.run([sys.executable, "-c", CRASH, str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    text = (folder / CRASH_FILE).read_text(encoding="utf-8")
    header, _, crash = text.partition("\n")
    assert header.startswith("--- ") and "Studio 9.9.9 started" in header
    assert "Fatal Python error: Segmentation fault" in crash
    assert "line 7 in inner" in crash  # the Python traceback of the crashing thread
    assert "Fatal Python error" not in done.stderr  # the file got it, not a terminal nobody reads


def test_each_start_appends_a_header(tmp_path: Path) -> None:
    for _ in range(2):
        log = app_log.start("9.9.9", tmp_path)
        assert log is not None
        log.close()
    headers = [ln for ln in (tmp_path / CRASH_FILE).read_text().splitlines() if ln.startswith("--- ")]
    assert len(headers) == 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_exception_in_a_plain_thread_is_logged_with_its_traceback(started: app_log.AppLog) -> None:
    import threading

    def fail() -> None:
        raise ValueError(f"bad input with token={SECRET}")

    worker = threading.Thread(target=fail, name="reader")
    worker.start()
    worker.join()
    text = _text(started)
    assert "ERROR studio.threads: Uncaught exception in thread reader" in text
    assert "ValueError: bad input with token=" in text and "in fail" in text and SECRET not in text
    before = started._thread_hook_before
    started.close()
    assert threading.excepthook is before  # put back
