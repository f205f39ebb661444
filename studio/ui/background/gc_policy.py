"""Keep full garbage collections short once the application has started.

A full collection visits every object the collector tracks: after start-up (Qt bindings,
the studio and pyqtgraph's modules, the window) that is tens of thousands of objects, every
time one runs. Those objects live as long as the process, so they are
moved out of the collector's sight once (``gc.freeze``), after the chart library has been
imported in the background. Anything alive at that moment is never collected, so it is not
done while a run or comparison tab is open: closing one later would leak it.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_start_up_objects(tabs_open: int) -> bool:
    """Freeze what is alive now, once per process and only if no tab is open; True if it did."""
    global _frozen
    if _frozen or tabs_open:
        return False
    # No gc.collect() first: on the GUI thread it would be the very stall this avoids.
    gc.freeze()
    _frozen = True
    return True
