"""The desktop window on the large workspace: cold start to a painted window, and GUI-thread stalls.

    python benchmarks/bench_gui.py [--workspace PATH] [--starts 5] [--regenerate]

Cold start: ``python -m studio --workspace WS`` in a fresh process, with a probe installed from
outside (``-c`` code that wraps ``studio.ui.shell.app.MainWindow``) that notes when the window is shown,
painted and has listed the experiments, closes it and prints the times. Stalls: the window in this
process on a 5 ms timer, driven through open, expand, scroll to the last of 100,000 runs, idle,
filter, clear, compute start/stop; the longest gap between ticks minus 5 ms is the longest stall.
Uses ``QT_QPA_PLATFORM`` if set; without it, ``offscreen`` unless there is a display (xvfb-run -a ...).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import Row, print_table
from bench_read import DEFAULT_WORKSPACE, ensure_workspace
from generate_workspace import EXPERIMENT, RARE_TEXT

START_S, STALL_MS, EXPAND_MS = 1.5, 50.0, 200.0
MARKS = ("start", "imported", "shown", "painted", "listed")
PROBE = """
import sys, time
marks = {"start": time.time()}
import json, studio.cli, studio.workspaces.local.opener, studio.ui.shell.app as app
from PySide6.QtCore import QEvent, QObject, QTimer
marks["imported"] = time.time()

class Probe(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show:
            marks.setdefault("shown", time.time())
        elif event.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time()  # the frame is done when the event loop is back
            QTimer.singleShot(0, lambda: done("painted"))
        return False

def done(mark):
    marks.setdefault(mark, time.time())
    if "painted" in marks and "listed" in marks:
        QTimer.singleShot(0, window.close)

def make_window(*args, **kwargs):
    global window
    window = real_window(*args, **kwargs)
    window.installEventFilter(probe)
    window.experiment_pane.model.sig_loaded.connect(lambda: done("listed"))
    return window

probe, real_window, app.MainWindow = Probe(), app.MainWindow, make_window
code = studio.cli.main(sys.argv[1:])
marks["azure"] = sorted(m for m in sys.modules if m.startswith("azure"))
print("PROBE " + json.dumps(marks), flush=True)
sys.exit(code)
"""


def cold_start(workspace: Path, starts: int) -> list[Row]:
    """Start the window ``starts`` times; medians from just before Popen to each of the child's marks."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="studio-bench-gui-") as config:
        env = dict(os.environ, XDG_CONFIG_HOME=config)  # the window's settings go here, not to the user's
        for _ in range(starts):
            t0 = time.time()
            out = subprocess.run(
                [sys.executable, "-c", PROBE, "--workspace", str(workspace)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
            marks = json.loads(next(line for line in out.splitlines() if line.startswith("PROBE "))[6:])
            runs.append(marks | {m: marks[m] - t0 for m in MARKS})
    azure = sorted({m for r in runs for m in r["azure"]})
    print(f"azure modules imported by the window: {azure or 'none'}")
    painted = [r["painted"] for r in runs]
    rows = [
        Row(
            f"cold start -> window painted, median of {starts}",
            statistics.median(painted),
            START_S,
            "s",
            f"min {min(painted):.2f}, max {max(painted):.2f} s; first {painted[0]:.2f} s",
        )
    ]
    labels = {
        "start": "python running (interpreter + site)",
        "imported": "studio.cli + studio.ui.shell.app imported",
        "shown": "window shown",
        "painted": "first paint done",
        "listed": "experiments listed",
    }
    rows += [Row(f"  process start -> {labels[m]}", statistics.median(r[m] for r in runs), None, "s") for m in MARKS]
    return rows


def stalls(workspace: Path) -> list[Row]:
    """Drive the window in this process and measure the longest gap of a 5 ms timer in each phase."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtTest import QTest

    from studio.core.compute import ComputeState
    from studio.core.types import RunQuery
    from studio.ui.shell.app import create_app
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces.local.backend import LocalBackend
    from studio.workspaces.local.opener import LocalWorkspaceOpener

    backend = LocalBackend(workspace)
    total, hits = backend.count_runs(EXPERIMENT), backend.count_runs(EXPERIMENT, RunQuery(text=RARE_TEXT))
    backend.close()

    from bench_meter import PhaseMeter

    class Meter(PhaseMeter):
        """The phase meter, also noting when the run tree last painted."""

        def __init__(self) -> None:
            super().__init__()
            self.painted = self.inserted = 0.0  # the run tree's last paint / rows inserted

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.painted = time.perf_counter()
            return False

    app = create_app([sys.argv[0]])
    tmp = tempfile.TemporaryDirectory(prefix="studio-bench-gui-")
    window = MainWindow([LocalWorkspaceOpener()], WindowSettings(str(Path(tmp.name) / "studio.ini")))
    window.show()
    meter = Meter()
    tree, view = window.experiment_pane.model, window.experiment_pane.view
    view.viewport().installEventFilter(meter)
    tree.rowsInserted.connect(lambda *_: setattr(meter, "inserted", time.perf_counter()))
    meter.wait(lambda: meter.painted > 0)
    rows = [meter.phase("window shown")]

    window.open_workspace(str(workspace))
    opened = meter.wait(lambda: tree.index_of_experiment(EXPERIMENT).isValid())
    rows += [Row("open workspace -> experiments listed", opened * 1000, None), meter.phase("open workspace")]

    t0 = time.perf_counter()
    view.expand(tree.index_of_experiment(EXPERIMENT))
    meter.wait(lambda: tree.loaded_run_count(EXPERIMENT) > 0 and meter.painted > meter.inserted)
    rows += [Row(f"expand {EXPERIMENT!r} -> first rows painted", (meter.painted - t0) * 1000, EXPAND_MS)]
    rows += [meter.phase("expand")]
    meter.idle(3)
    loaded = tree.loaded_run_count(EXPERIMENT)
    rows += [Row("runs loaded 3 s after expand, no scrolling", loaded, None, "runs", "a page is 200")]
    rows += [meter.phase("3 s after expand, no scrolling")]

    bar = view.verticalScrollBar()

    def at_end(upto: int) -> bool:
        if bar.value() != bar.maximum():
            bar.setValue(bar.maximum())  # the view asks for the next page when it reaches the end
        return tree.loaded_run_count(EXPERIMENT) >= upto

    t0, quarter = time.perf_counter(), total // 4
    for upto in range(quarter, total + 1, quarter):  # stalls grow with the rows loaded: report by quarter
        meter.wait(functools.partial(at_end, upto), 1800)
        rows += [meter.phase(f"scroll, runs {upto - quarter + 1:,}-{upto:,} loaded")]
    scrolled = time.perf_counter() - t0
    rows += [Row(f"scroll to the end: {total:,} runs loaded", scrolled, None, "s", f"from {loaded:,}")]
    meter.idle(3)
    rows += [meter.phase(f"idle 3 s, {total:,} runs loaded")]

    QTest.keyClicks(window.experiment_pane.filter_box, RARE_TEXT)
    typed = time.perf_counter()
    meter.wait(lambda: tree.query.text == RARE_TEXT and tree.loaded_run_count(EXPERIMENT) == hits)
    waited = (time.perf_counter() - typed) * 1000
    rows += [Row(f"filter {RARE_TEXT!r} typed -> {hits} runs listed", waited, None, note="incl. 300 ms debounce")]
    rows += [meter.phase(f"filter {RARE_TEXT!r}")]
    window.experiment_pane.filter_box.clear()
    meter.wait(lambda: not tree.query.text and tree.loaded_run_count(EXPERIMENT) > hits)
    rows += [meter.phase("clear the filter")]

    view.collapse(tree.index_of_experiment(EXPERIMENT))  # so that no pages load during the compute phases
    meter.idle(1)
    meter.phase("collapse")
    pane = window.compute_pane
    pane.confirm = lambda *_: True  # type: ignore[method-assign]

    def shows(state: ComputeState) -> bool:
        info = pane.selected()
        return info is not None and info.state == state

    for action, state in ((pane.start_action, ComputeState.RUNNING), (pane.stop_action, ComputeState.STOPPED)):
        meter.wait(action.isEnabled)
        t0 = time.perf_counter()
        action.trigger()
        meter.wait(functools.partial(shows, state), 60)
        verb = action.text().lower()
        rows += [Row(f"compute {verb} -> {state.value} shown", time.perf_counter() - t0, None, "s", "1 s polling")]
        rows += [meter.phase(f"compute {verb} ({pane.selected().name})")]

    rows += [Row(f"longest GUI stall overall ({meter.worst[0]})", meter.worst[1], STALL_MS)]
    meter.close()
    window.close()
    tmp.cleanup()
    del app
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    """Measure the cold start and the stalls and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE)
    p.add_argument("--regenerate", action="store_true", help="delete and rebuild the workspace first")
    p.add_argument("--starts", type=int, default=5, help="cold starts for the median")
    args = p.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    platform = os.environ.get("QT_QPA_PLATFORM") or f"default, DISPLAY={os.environ.get('DISPLAY')}"
    ensure_workspace(args.workspace, args.regenerate)
    rows = cold_start(args.workspace.resolve(), args.starts) + stalls(args.workspace.resolve())
    print_table(f"desktop window on {args.workspace} (Qt platform: {platform})", rows)
    return rows


if __name__ == "__main__":
    main()
