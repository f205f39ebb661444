"""The Outputs + logs and Snapshot tabs: every preview kind, following, downloads.

Two backends. ``fake_env`` (a FakeBackend, fresh per test, holding the small files) serves the
previews fed by ``read_file_range`` alone: text, Python, JSON, Markdown, HTML, SVG/PNG, hex, CSV
edge cases, a growing or vanishing CSV, the name-collision question and a refresh that keeps the
selection. ``env`` (a real local workspace, built once per module) serves what is about real
storage: a 200 MB log read a window at a time, a 1,000,000-row CSV, a log that grows on disk while
followed, and downloads of a 64 MB file (cancelled ones must leave no temporary file of the local kind).
Both are wrapped in GuardedBackend: a call on the GUI thread fails the test.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QAbstractItemView
from pytestqt.qtbot import QtBot

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.sdk import Experiment, Workspace
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews import csv_index, csv_model
from studio.ui.previews.csv_model import LOADING
from studio.ui.previews.csv_preview import CsvPreview
from studio.ui.previews.hex_preview import HexPreview
from studio.ui.previews.image_preview import ImagePreview
from studio.ui.previews.json_preview import JsonPreview
from studio.ui.previews.rich_preview import RichPreview
from studio.ui.previews.text_preview import TextPreview
from studio.ui.runs.tabs.files_tab import FileTreeModel, OutputsTab, SnapshotTab
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.files_store import TEMP_MARK
from tests.fake_backend import FakeBackend
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until

BIG_LOG_MB = 200
CSV_ROWS = 1_000_000
LAST_LINE = "THE VERY LAST LINE of the big log"


class CountingBackend:
    """Counts the bytes previews read; can hold a download after its first block (to cancel it)."""

    def __init__(self, inner: WorkspaceBackend) -> None:
        self._inner = inner
        self.bytes_read = 0
        self.gate: threading.Event | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read_file_range(self, run_id: str, path: str, offset: int, length: int) -> bytes:
        data = self._inner.read_file_range(run_id, path, offset, length)
        self.bytes_read += len(data)
        return data

    def download_files(self, run_id: str, paths: list[str], destination: Path, **kwargs: Any) -> list[Path]:
        progress, gate = kwargs.pop("progress"), self.gate

        def gated(done: int, total: int) -> None:
            progress(done, total)
            if gate is not None and done > 0:
                assert gate.wait(10)

        return self._inner.download_files(run_id, paths, destination, progress=gated, **kwargs)


def _png() -> bytes:
    image = QImage(64, 32, QImage.Format.Format_RGB32)
    image.fill(QColor("#3366cc"))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data().data())


def _csv() -> bytes:
    out = io.StringIO()
    out.write("id,name,quote\n")
    for i in range(CSV_ROWS):
        if i % 997 == 0:
            out.write(f'{i},"line one\nline two of {i}","x"\n')
        else:
            out.write(f'{i},"item {i}, with comma","say ""hi"""\n')
    return out.getvalue().encode()


def _write_big_log(path: Path) -> None:
    block = "".join(f"2024-01-01 12:00:00 INFO step {i} loss {1 / (i + 1):.6f} lr 0.001\n" for i in range(10_000))
    data = block.encode()
    with path.open("wb") as f:
        f.write(b"FIRST LINE of the big log\n")
        for _ in range(BIG_LOG_MB * 1024 * 1024 // len(data) + 1):
            f.write(data)
        f.write(f"{LAST_LINE}\n".encode())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("files")
    src = root / "src"
    src.mkdir()
    ws = Workspace(root / "ws")
    run = Experiment(ws, "files").start_logging()
    files = {**_small_files(), "outputs/table.csv": _csv()}
    for name, data in files.items():
        path = src / name.replace("/", "__")
        path.write_bytes(data)
        run.upload_file(name, str(path))
    _write_big_log(src / "big.log")
    run.upload_file("logs/big.log", str(src / "big.log"))
    run.upload_file("outputs/big/large.bin", io.BytesIO(b"\x00" * (64 << 20)))
    (src / "big.log").unlink()
    yield {"ws": ws, "run": run, "files": files, "root": ws.backend.workspace.run_dir(run.id)}
    run.complete()
    ws.close()


def _small_files() -> dict[str, bytes]:
    """Files of every preview kind, each small (the big ones are only in the local workspace)."""
    return {
        "outputs/notes.txt": b"hello notes\nsecond line\n",
        "outputs/train.py": b"import os\n\ndef main():\n    return 'x'  # done\n",
        "outputs/config.json": json.dumps({"lr": 0.001, "layers": [64, 32], "name": "net"}).encode(),
        "outputs/README.md": b"# Results\n\nSee ![plot](http://127.0.0.1:PORT/plot.png) **bold**\n",
        "outputs/report.html": b"<html><body><h1>Report</h1><p>visible text</p>"
        b"<script>document.write('SCRIPT RAN'); fetch('http://127.0.0.1:PORT/x')</script>"
        b"<img src='http://127.0.0.1:PORT/i.png'></body></html>",
        "outputs/plot.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
        b'<rect width="40" height="20" fill="red"/><script>alert(1)</script></svg>',
        "outputs/image.png": _png(),
        "outputs/model.bin": bytes(range(256)) * 64,
        "outputs/latin1.txt": "café crème\n".encode("latin-1"),
        "logs/std_log.txt": b"starting\n",
        "snapshot/train.py": b"print('snapshot')\n",
        "snapshot/pkg/util.py": b"X = 1\n",
    }


@pytest.fixture
def env(workspace: dict[str, Any], qtbot: QtBot) -> Iterator[dict[str, Any]]:
    local = LocalBackend(workspace["ws"].path)
    counting = CountingBackend(local)
    backend = GuardedBackend(counting)
    runner = TaskRunner(max_threads=2)
    yield {
        **workspace,
        "run_id": workspace["run"].id,
        "backend": backend,
        "counting": counting,
        "runner": runner,
        "local": local,
    }
    assert runner.shutdown()
    assert backend.violations == []
    local.close()


@pytest.fixture
def fake_env(qtbot: QtBot) -> Iterator[dict[str, Any]]:
    """A FakeBackend with one running run holding the small files."""
    fake = FakeBackend()
    run_id = fake.add_run("files", "files")
    files = _small_files()
    for name, data in files.items():
        fake.add_file(run_id, name, data)
    counting = CountingBackend(fake)
    backend = GuardedBackend(counting)
    runner = TaskRunner(max_threads=2)
    yield {"fake": fake, "run_id": run_id, "files": files, "backend": backend, "counting": counting, "runner": runner}
    assert runner.shutdown()
    assert backend.violations == []


def _put(env: dict[str, Any], name: str, data: bytes) -> None:
    """Write (or rewrite) a file of the fake run."""
    env["fake"].add_file(env["run_id"], name, data)


@pytest.fixture
def web() -> Iterator[list[str]]:
    """A loopback HTTP server that records every request (previews must never make one)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hits.append(f"port:{server.server_address[1]}")
    yield hits
    server.shutdown()
    server.server_close()
    thread.join()


def _tab(env: dict[str, Any], qtbot: QtBot, cls: type = OutputsTab) -> Any:
    tab = cls(env["backend"], env["runner"], env["run_id"])
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    tab.ensure_loaded()
    wait_until(lambda: tab.model.files, "the run's files listed", qtbot=qtbot)
    return tab


def _open(tab: Any, qtbot: QtBot, path: str) -> Any:
    tab.select(path)
    wait_until(
        lambda: tab.preview.preview is not None and tab.preview.file.path == path,
        "the clicked file's preview",
        qtbot=qtbot,
    )
    preview = tab.preview.preview
    wait_until(lambda: preview.loaded, "the preview loaded", qtbot=qtbot)
    return preview


def test_tabs_list_their_files(env: dict[str, Any], qtbot: QtBot) -> None:
    outputs = _tab(env, qtbot)
    assert "outputs/notes.txt" in outputs.model.files and "logs/big.log" in outputs.model.files
    assert not [p for p in outputs.model.files if p.startswith("snapshot/")]
    assert outputs.findChild(object, "runFiles") is outputs.tree
    snapshot = _tab(env, qtbot, SnapshotTab)
    assert sorted(snapshot.model.files) == ["snapshot/pkg/util.py", "snapshot/train.py"]
    assert snapshot.model.index_of("snapshot/pkg/").isValid()


def test_text_and_python(fake_env: dict[str, Any], qtbot: QtBot) -> None:
    env = fake_env
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, "outputs/notes.txt")
    assert isinstance(preview, TextPreview)
    assert preview.editor.toPlainText() == "hello notes\nsecond line"
    preview = _open(tab, qtbot, "outputs/train.py")
    assert preview.highlighter.syntax == "python"
    assert "def main" in preview.editor.toPlainText()
    assert tab.findChild(object, "filePreview") is tab.preview


def test_clicking_through_files_shows_the_last_one_clicked(fake_env: dict[str, Any], qtbot: QtBot) -> None:
    env = fake_env
    tab = _tab(env, qtbot)
    for path in ("outputs/config.json", "outputs/train.py", "outputs/notes.txt"):
        tab.select(path)  # faster than their first bytes arrive
    preview = _open(tab, qtbot, "outputs/notes.txt")
    wait_until(lambda: not tab.preview._reading.busy, "no read in flight", qtbot=qtbot)
    assert tab.preview.preview is preview and "hello notes" in preview.editor.toPlainText()


def test_big_log_reads_only_what_is_shown(env: dict[str, Any], qtbot: QtBot) -> None:
    tab = _tab(env, qtbot)
    size = tab.model.files["logs/big.log"].size
    assert size >= BIG_LOG_MB * 1024 * 1024
    env["counting"].bytes_read = 0
    preview = _open(tab, qtbot, "logs/big.log")
    assert isinstance(preview, TextPreview)
    assert preview.editor.toPlainText().startswith("FIRST LINE of the big log\n2024-01-01 12:00:00 INFO step 0")
    assert env["counting"].bytes_read < 1024 * 1024
    with qtbot.waitSignal(preview.sig_loaded, timeout=10_000):
        preview.position.setValue(preview.position.maximum() // 2)  # drag to the middle
    assert abs(preview.top_offset() - size // 2) < 4096
    with qtbot.waitSignal(preview.sig_loaded, timeout=10_000):
        preview.scroll_to_end()
    assert preview.editor.toPlainText().endswith(LAST_LINE)
    bar = preview.editor.verticalScrollBar()
    assert bar.value() == bar.maximum()
    in_view = preview.editor.document().findBlockByNumber(bar.value() + 1)
    assert in_view.text().startswith("2024-01-01 12:00:00")
    assert in_view.layout().formats()  # the lines in view are coloured (the timestamp)
    assert env["counting"].bytes_read < 4 * 1024 * 1024
    preview.editor.verticalScrollBar().setValue(0)  # scrolling up to the window's top loads the previous window
    wait_until(
        lambda: preview.text_window is not None and preview.text_window.end < size,
        "the first window of the big log",
        qtbot=qtbot,
    )
    assert env["counting"].bytes_read < 5 * 1024 * 1024
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):  # a quick drag: the newest position is the one shown
        preview.position.setValue(int(preview.position.maximum() * fraction))
    target = int(preview.position.maximum() * 0.9) * preview._scale
    wait_until(
        lambda: abs(preview.top_offset() - target) < 4096, "the window around the scrolled-to offset", qtbot=qtbot
    )
    assert preview.editor.toPlainText().startswith("2024-01-01 12:00:00")


def test_a_log_moved_before_its_first_window_arrives(env: dict[str, Any], qtbot: QtBot) -> None:
    tab = _tab(env, qtbot)
    tab.select("logs/big.log")
    wait_until(lambda: tab.preview.preview is not None, "a preview", qtbot=qtbot)
    preview = tab.preview.preview
    preview.scroll_to_end()  # most likely while the first window is still being read
    wait_until(lambda: preview.editor.toPlainText().endswith(LAST_LINE), "the big log's last line shown", qtbot=qtbot)


def test_following_a_growing_log(env: dict[str, Any], qtbot: QtBot) -> None:
    tab = _tab(env, qtbot)
    run_info = env["local"].get_run(env["run"].id)
    assert run_info.status.is_active
    tab.run_changed(run_info)
    wait_until(lambda: not tab._listing.busy, "the listing done", qtbot=qtbot)
    preview = _open(tab, qtbot, "logs/std_log.txt")
    wait_until(
        lambda: preview.following and "starting" in preview.editor.toPlainText(),
        "the log followed from its start",
        qtbot=qtbot,
    )
    log = env["root"] / "logs" / "std_log.txt"
    with log.open("ab") as f:
        f.write(b"epoch 1 done\nWARNING: slow\nERROR half a li")
    wait_until(lambda: "WARNING: slow" in preview.editor.toPlainText(), "the appended warning shown", qtbot=qtbot)
    assert "half a li" not in preview.editor.toPlainText()  # a partial line waits for its end
    with log.open("ab") as f:
        f.write(b"ne\n" + b"".join(b"line %d\n" % i for i in range(20_000)))
    tab.run_changed(run_info)  # the file list refreshes; the followed log keeps following
    wait_until(lambda: preview.editor.toPlainText().endswith("line 19999"), "the log's newest line shown", qtbot=qtbot)
    assert "ERROR half a line" in preview.editor.toPlainText()
    assert tab.preview.preview is preview and preview.following
    bar = preview.editor.verticalScrollBar()
    assert bar.value() == bar.maximum()


def _row_values(model: Any, qtbot: QtBot, row: int) -> list[str]:
    """A row's cells as the table shows them (waits for its block)."""
    if model.row_values(row) is None:
        wait_until(lambda: model.row_values(row) is not None, "the row's values read", qtbot=qtbot)
    values = [model.data(model.index(row, c)) for c in range(model.columnCount())]
    assert LOADING not in values
    return values


def _expected_csv(i: int) -> list[str]:
    if i % 997 == 0:
        return [str(i), f"line one\nline two of {i}", "x"]
    return [str(i), f"item {i}, with comma", 'say "hi"']


def _jump(preview: Any, qtbot: QtBot, row: int) -> None:
    preview.table.scrollTo(preview.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    table, index = preview.table, preview.model.index(row, 0)
    wait_until(
        lambda: preview.model.row_loaded(row) and table.viewport().rect().contains(table.visualRect(index)),
        "the jumped-to row loaded and in view",
        qtbot=qtbot,
    )


def test_csv_is_a_lazy_table(env: dict[str, Any], qtbot: QtBot) -> None:
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, "outputs/table.csv")
    assert isinstance(preview, CsvPreview)
    model = preview.model
    assert model.header == ["id", "name", "quote"]
    assert [model.data(model.index(0, c)) for c in range(3)] == ["0", "line one\nline two of 0", "x"]
    assert [model.data(model.index(1, c)) for c in range(3)] == ["1", "item 1, with comma", 'say "hi"']
    wait_until(
        model.fully_indexed, "every CSV row counted", qtbot=qtbot, timeout=60
    )  # rows are counted in the background
    assert model.rowCount() == CSV_ROWS
    assert "1,000,000 rows" in preview.note.text() and "counting" not in preview.note.text()
    for row in (CSV_ROWS // 2 - 3, 997 * 600, CSV_ROWS - 1):  # the middle, a multi-line cell, the last row
        _jump(preview, qtbot, row)
        assert _row_values(model, qtbot, row) == _expected_csv(row)
    for row in range(0, CSV_ROWS, CSV_ROWS // 100):  # a hundred screens through the file
        _jump(preview, qtbot, row)
        assert _row_values(model, qtbot, row) == _expected_csv(row)
    assert model.cached_rows() <= csv_model.CACHE_BLOCKS * csv_index.BLOCK_ROWS  # memory stays flat


def _tricky_csv(rows: int, delimiter: str) -> bytes:
    """Quoted cells with newlines (LF and CRLF), doubled quotes, delimiters, empty cells, non-ASCII text."""
    rng = random.Random(5)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["id", "text", "more"])
    for i in range(rows):
        kind = rng.randrange(6)
        text = {
            0: f"plain {i}",
            1: "lines\n" * rng.randrange(1, 40) + f"end {i}",
            2: f'say "hi" {i},{delimiter} twice ""',
            3: f"crlf\r\ninside {i}",
            4: "",
            5: "é ü 漢字 " * rng.randrange(1, 60),
        }[kind]
        writer.writerow([str(i), text, "x" * rng.randrange(0, 200)])
    out.write(f'{rows}{delimiter}"no newline at the end\nof the file"')
    return out.getvalue().encode()


@pytest.mark.parametrize("ext", ["csv", "tsv"])
def test_every_row_is_exact_across_block_edges(
    fake_env: dict[str, Any], qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, ext: str
) -> None:
    env = fake_env
    # tiny blocks, pieces and cache: multi-line cells cross every kind of edge, blocks are re-read
    for name, value in (("BLOCK_ROWS", 13), ("BLOCK_BYTES", 700), ("FIRST_PIECE_BYTES", 300), ("PIECE_BYTES", 1000)):
        monkeypatch.setattr(csv_index, name, value)
    monkeypatch.setattr(csv_model, "CACHE_BLOCKS", 3)
    delimiter = "\t" if ext == "tsv" else ","
    data = _tricky_csv(1000, delimiter)
    expected = list(csv.reader(io.StringIO(data.decode(), newline=""), delimiter=delimiter))
    _put(env, f"outputs/tricky.{ext}", data)
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, f"outputs/tricky.{ext}")
    assert isinstance(preview, CsvPreview)
    model = preview.model
    wait_until(model.fully_indexed, "every CSV row counted", qtbot=qtbot)
    assert model.header == expected[0]
    assert model.rowCount() == len(expected) - 1
    for row in [*range(model.rowCount()), *range(model.rowCount() - 1, -1, -7)]:  # down, then back up
        want = expected[row + 1] + [""] * (3 - len(expected[row + 1]))  # a short row shows empty cells
        assert _row_values(model, qtbot, row) == want, row
    table = preview.table
    in_view = table.rowAt(table.viewport().height() - 1) - table.rowAt(0) + 1
    assert model.cached_rows() <= 13 * max(3, in_view // 13 + 3)  # the budget, or the blocks in view
    assert not model.problems


def test_a_growing_csv_gains_rows(fake_env: dict[str, Any], qtbot: QtBot) -> None:
    env = fake_env
    head = b"step,loss,note\n" + b"".join(b"%d,%f,ok\n" % (i, 1 / (i + 1)) for i in range(10))
    _put(env, "outputs/growing.csv", head)
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, "outputs/growing.csv")
    model = preview.model
    wait_until(lambda: model.fully_indexed() and model.rowCount() == 10, "10 rows counted", qtbot=qtbot)
    # a running run appends rows; the last one is half written
    grown = head + b"".join(b"%d,%f,ok\n" % (i, 1 / (i + 1)) for i in range(10, 15)) + b'15,0.06,"two\nli'
    _put(env, "outputs/growing.csv", grown)
    tab.refresh()
    wait_until(lambda: model.fully_indexed() and model.rowCount() == 16, "16 rows after the CSV grew", qtbot=qtbot)
    assert _row_values(model, qtbot, 14) == ["14", f"{1 / 15:f}", "ok"]
    assert _row_values(model, qtbot, 15) == ["15", "0.06", "two\nli"]  # as far as it is written
    _put(env, "outputs/growing.csv", grown + b'nes"\n16,0.05,ok\n')
    tab.refresh()
    wait_until(
        lambda: model.fully_indexed() and model.rowCount() == 17, "17 rows after the CSV grew again", qtbot=qtbot
    )
    assert _row_values(model, qtbot, 15) == ["15", "0.06", "two\nlines"]  # the half row, now whole
    assert [_row_values(model, qtbot, r)[0] for r in range(17)] == [str(i) for i in range(17)]
    assert "17 rows" in preview.note.text()
    _put(env, "outputs/growing.csv", b"step,loss,note\n0,1.0,new\n1,0.5,new\n")  # replaced by a shorter file
    tab.refresh()
    wait_until(
        lambda: model.fully_indexed() and model.rowCount() == 2, "2 rows after the CSV was rewritten", qtbot=qtbot
    )
    assert _row_values(model, qtbot, 1) == ["1", "0.5", "new"]


def test_a_corrupt_csv_says_so(fake_env: dict[str, Any], qtbot: QtBot) -> None:
    env = fake_env
    good = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(3000))
    bad = good + b"3000,caf\xe9 \xff\xfe broken\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(3001, 6000))
    lines = [b"%d,plain,ok" % i for i in range(20)]
    lines[10], lines[12] = b'10,12" pizza,ok', b'12,say "x,ok'  # quotes inside unquoted cells
    quotes = b"id,text,flag\n" + b"\n".join(lines) + b"\n"
    wide = b",".join(b"c%d" % i for i in range(3000)) + b"\n" + b",".join(b"%d" % i for i in range(3000)) + b"\n"
    for name, data in (("bad", bad), ("vanishing", good), ("quotes", quotes), ("wide", wide)):
        _put(env, f"outputs/{name}.csv", data)
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, "outputs/wide.csv")
    assert preview.model.columnCount() == csv_model.MAX_COLUMNS
    assert "Only the first 1,000 of 3,000 columns are shown" in preview.note.text()
    preview = _open(tab, qtbot, "outputs/quotes.csv")
    wait_until(preview.model.fully_indexed, "every CSV row counted", qtbot=qtbot)
    assert preview.model.rowCount() == 18  # lines 10 to 12 read as one record, as quote pairs say
    assert _row_values(preview.model, qtbot, 17)[:3] == ["19", "plain", "ok"]
    assert "Quotes that do not pair up (row 11)" in preview.note.text()
    preview = _open(tab, qtbot, "outputs/bad.csv")
    wait_until(preview.model.fully_indexed, "every CSV row counted", qtbot=qtbot)
    _jump(preview, qtbot, 3000)
    assert _row_values(preview.model, qtbot, 3000) == ["3000", "caf\ufffd \ufffd\ufffd broken"]
    assert "Not valid UTF-8 (row 3,001)" in preview.note.text()  # rows are numbered from 1 on screen
    assert _row_values(preview.model, qtbot, 5999) == ["5999", "name 5999"]
    preview = _open(tab, qtbot, "outputs/vanishing.csv")
    wait_until(preview.model.fully_indexed, "every CSV row counted", qtbot=qtbot)
    env["fake"].remove_file(env["run_id"], "outputs/vanishing.csv")  # deleted while shown
    preview.table.scrollToBottom()
    wait_until(lambda: preview.error, "the preview's error", qtbot=qtbot)
    assert "Could not read outputs/vanishing.csv" in preview.note.text()


def test_json_tree(fake_env: dict[str, Any], qtbot: QtBot) -> None:
    env = fake_env
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, "outputs/config.json")
    assert isinstance(preview, JsonPreview)
    tree = preview.tree
    top = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert top["lr"].text(1) == "0.001" and top["layers"].text(1) == "[2 items]"
    top["layers"].setExpanded(True)
    assert [top["layers"].child(i).text(1) for i in range(top["layers"].childCount())] == ["64", "32"]


def _rewrite_port(env: dict[str, Any], name: str, port: str) -> None:
    _put(env, name, env["files"][name].replace(b"PORT", port.encode()))


def test_markdown_fetches_nothing(fake_env: dict[str, Any], qtbot: QtBot, web: list[str]) -> None:
    env = fake_env
    _rewrite_port(env, "outputs/README.md", web[0].split(":")[1])
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, "outputs/README.md")
    assert isinstance(preview, RichPreview)
    assert "Results" in preview.browser.toPlainText()
    qtbot.waitExposed(preview.browser)
    preview.browser.viewport().repaint()
    assert any("plot.png" in url for url in preview.browser.refused)
    assert web == [web[0]]  # the server saw no request


def test_html_runs_no_script(fake_env: dict[str, Any], qtbot: QtBot, web: list[str]) -> None:
    env = fake_env
    _rewrite_port(env, "outputs/report.html", web[0].split(":")[1])
    tab = _tab(env, qtbot)
    preview = _open(tab, qtbot, "outputs/report.html")
    text = preview.browser.toPlainText()
    assert "Report" in text and "visible text" in text
    assert "SCRIPT RAN" not in text and "fetch(" not in text
    preview.browser.viewport().repaint()
    assert web == [web[0]]
    preview.source_box.setChecked(True)
    assert "<script>" in preview.source.toPlainText()  # the source view shows it, as text


def test_svg_and_png(fake_env: dict[str, Any], qtbot: QtBot) -> None:
    env = fake_env
    tab = _tab(env, qtbot)
    svg = _open(tab, qtbot, "outputs/plot.svg")
    assert isinstance(svg, ImagePreview) and svg.svg
    assert (svg.image.width(), svg.image.height()) == (40, 20)
    assert QColor(svg.image.pixel(5, 5)).red() == 255
    png = _open(tab, qtbot, "outputs/image.png")
    assert isinstance(png, ImagePreview) and (png.image.width(), png.image.height()) == (64, 32)
    png.set_zoom(0)
    assert png.picture.pixmap().width() == 64
    png.set_zoom(1.25)
    assert png.picture.pixmap().width() == 80


def test_binary_and_bad_utf8_show_hex(fake_env: dict[str, Any], qtbot: QtBot) -> None:
    env = fake_env
    tab = _tab(env, qtbot)
    binary = _open(tab, qtbot, "outputs/model.bin")
    assert isinstance(binary, HexPreview)
    assert binary.view.toPlainText().startswith("00000000  00 01 02 03")
    assert "16.0 KB" in binary.note.text() and "first 4,096 bytes" in binary.note.text()
    latin = _open(tab, qtbot, "outputs/latin1.txt")
    assert isinstance(latin, HexPreview)
    assert "not UTF-8 text; showing hex" in latin.note.text()


def _download(tab: Any, qtbot: QtBot, paths: list[str], folder: Path) -> tuple[Any, list[tuple[int, int]], list[bool]]:
    """Start a download; returns the task, the progress seen at its end and a flag list set when it ended."""
    progress: list[tuple[int, int]] = []
    ended: list[bool] = []

    def on_end(task: Any) -> None:
        progress.append(task.progress)
        ended.append(True)

    tab.runner.sig_task_ended.connect(on_end)  # before the task starts: it may end at once
    task = tab.download_to(paths, folder)
    assert task is not None and task.label == f"Downloading {len(paths)} file{'s' if len(paths) > 1 else ''}"
    assert task.cancellable
    return task, progress, ended


def test_download_selected_and_all(env: dict[str, Any], qtbot: QtBot, tmp_path: Path) -> None:
    tab = _tab(env, qtbot)
    tab.select("outputs/notes.txt")
    assert tab.selected_paths() == ["outputs/notes.txt"]
    tab.select("outputs/big/")
    assert tab.selected_paths() == ["outputs/big/large.bin"]
    _, progress, ended = _download(tab, qtbot, tab.selected_paths(), tmp_path / "sel")
    wait_until(lambda: ended, "the download ended", qtbot=qtbot)
    assert (tmp_path / "sel" / "outputs/big/large.bin").stat().st_size == 64 << 20
    assert progress[-1] == (64 << 20, 64 << 20)
    _, progress, ended = _download(tab, qtbot, sorted(tab.model.files), tmp_path / "all")
    wait_until(lambda: ended, "the download ended", qtbot=qtbot, timeout=60)
    assert progress[-1][0] == progress[-1][1] == sum(f.size for f in tab.model.files.values())
    assert (tmp_path / "all" / "outputs/notes.txt").read_bytes() == env["files"]["outputs/notes.txt"]
    assert not (tmp_path / "all" / "snapshot").exists()
    snapshot = _tab(env, qtbot, SnapshotTab)
    _, _, ended = _download(snapshot, qtbot, sorted(snapshot.model.files), tmp_path / "snap")
    wait_until(lambda: ended, "the download ended", qtbot=qtbot)
    assert (tmp_path / "snap" / "pkg" / "util.py").read_bytes() == b"X = 1\n"  # snapshot/ is dropped


def test_cancelled_download_leaves_nothing_that_looks_complete(
    env: dict[str, Any], qtbot: QtBot, tmp_path: Path
) -> None:
    tab = _tab(env, qtbot)
    env["counting"].gate = gate = threading.Event()
    task, _, ended = _download(tab, qtbot, ["outputs/big/large.bin"], tmp_path)
    wait_until(lambda: task.progress[0] > 0, "the download's first block", qtbot=qtbot)  # held after its first block
    task.cancel()
    gate.set()
    wait_until(lambda: ended, "the download ended", qtbot=qtbot)
    assert not (tmp_path / "outputs/big/large.bin").exists()
    assert not [p for p in tmp_path.rglob("*") if TEMP_MARK in p.name]


def test_name_collision_asks(
    fake_env: dict[str, Any], qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = fake_env
    tab = _tab(env, qtbot)
    target = tmp_path / "outputs" / "notes.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"mine")
    asked: list[str] = []
    monkeypatch.setattr(tab, "confirm", lambda title, text: asked.append(text) or False)
    tab.download_to(["outputs/notes.txt", "outputs/train.py"], tmp_path)
    wait_until(
        lambda: tab.status.text() == "Download cancelled: nothing was replaced.",
        "the 'nothing was replaced' status",
        qtbot=qtbot,
    )
    assert target.read_bytes() == b"mine" and not (tmp_path / "outputs/train.py").exists()  # nothing written
    assert len(asked) == 1 and "notes.txt" in asked[0] and "already exists" in asked[0]
    monkeypatch.setattr(tab, "confirm", lambda title, text: asked.append(text) or True)
    tab.download_to(["outputs/notes.txt", "outputs/train.py"], tmp_path)
    wait_until(
        lambda: tab.status.text().startswith("Downloaded 2 files"), "the 'Downloaded 2 files' status", qtbot=qtbot
    )
    assert len(asked) == 2  # asked once more, then downloaded with replacing
    assert target.read_bytes() == env["files"]["outputs/notes.txt"]
    assert (tmp_path / "outputs/train.py").exists()


def test_selection_survives_a_refresh_with_new_files(fake_env: dict[str, Any], qtbot: QtBot, tmp_path: Path) -> None:
    env = fake_env
    tab = _tab(env, qtbot)
    tab.select("outputs/notes.txt")
    _put(env, "outputs/new_file.txt", b"new\n")
    tab.refresh()
    wait_until(lambda: "outputs/new_file.txt" in tab.model.files, "the new file listed", qtbot=qtbot)
    assert tab.selected_paths() == ["outputs/notes.txt"]
    assert tab.tree.currentIndex() == tab.model.index_of("outputs/notes.txt")


def test_file_tree_follows_the_listing(qtbot: QtBot) -> None:
    model = FileTreeModel()

    def shown(parent: Any = None) -> list[str]:
        parent = parent or model.invisibleRootItem()
        out = []
        for row in range(parent.rowCount()):
            item = parent.child(row, 0)
            out += [item.data(Qt.ItemDataRole.UserRole), *shown(item)]
        return out

    many = [FileInfo(f"outputs/many/d{i % 10}/f{i:04d}.bin", 1, 0.0) for i in range(1000)]
    model.update([FileInfo("b.txt", 1, 0.0), FileInfo("A.txt", 1, 0.0), FileInfo("logs/x/y.log", 1, 0.0), *many])
    paths = shown()
    assert paths[:5] == ["logs/", "logs/x/", "logs/x/y.log", "outputs/", "outputs/many/"]  # folders first
    assert paths[-2:] == ["A.txt", "b.txt"]  # then files, by name whatever the case
    assert paths.index("outputs/many/d0/f0000.bin") < paths.index("outputs/many/d0/f0010.bin")
    model.update([FileInfo("A.txt", 1, 0.0), FileInfo("outputs/many/d3/f0003.bin", 1, 0.0)])
    assert shown() == ["outputs/", "outputs/many/", "outputs/many/d3/", "outputs/many/d3/f0003.bin", "A.txt"]
    model.update([])  # empty folders go with their last file
    assert shown() == [] and model.rowCount() == 0
