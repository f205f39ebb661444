"""DeferredRelease frees what it is given, a slice at a time, from the event loop."""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

import studio.ui.background.deferred_release as deferred_release
from studio.ui.background.deferred_release import DeferredRelease


class Thing:
    pass


def test_containers_are_freed_in_slices(qtbot: QtBot, monkeypatch: Any) -> None:
    monkeypatch.setattr(deferred_release, "SLICE", 7)
    things = [Thing() for _ in range(50)]
    refs = [weakref.ref(t) for t in things]
    by_name = {f"t{i}": t for i, t in enumerate(things[:20])}
    release = DeferredRelease()
    release.drop(things, by_name, [], {})
    del things, by_name
    assert release.pending == 70  # nothing is freed inside drop(): the caller's event turn stays short
    seen = [release.pending]
    for _ in range(1000):  # one event-loop turn at a time
        QCoreApplication.processEvents()
        seen.append(release.pending)
        if not seen[-1]:
            break
    assert all(r() is None for r in refs)
    assert 0 < max(a - b for a, b in itertools.pairwise(seen)) <= 7  # never more than a slice per turn
