"""What the runs table remembers per experiment (and per workspace): its chosen columns and its sort.

Stored as a small JSON text through WindowSettings, so a hand-edited or older settings file
cannot break the table: anything that does not parse is dropped, never raised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from studio.core.search import parse_order_by
from studio.ui.runs_table.columns import parse_key
from studio.ui.shell.settings import WindowSettings


@dataclass(frozen=True)
class TableState:
    """Chosen column keys (``"metrics.acc"``) and the ``order_by`` items; empty: the defaults."""

    columns: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()

    def to_json(self) -> str:
        """The state as stored."""
        return json.dumps({"columns": list(self.columns), "order_by": list(self.order_by)})

    @classmethod
    def from_json(cls, text: str) -> TableState:
        """The stored state; what does not parse is left out."""
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        columns = [c for c in _strings(data.get("columns")) if parse_key(c) is not None]
        order = [o for o in _strings(data.get("order_by")) if _parses(o)]
        return cls(tuple(dict.fromkeys(columns)), tuple(order))


class TableMemory:
    """The states of one workspace's runs tables, kept in the window's settings."""

    def __init__(self, settings: WindowSettings, location: str) -> None:
        self.settings, self.location = settings, location

    def load(self, experiment: str) -> TableState:
        """The experiment's saved state (the defaults if none)."""
        return TableState.from_json(self.settings.runs_table_state(self.location, experiment))

    def has(self, experiment: str) -> bool:
        """Whether a state was ever saved for the experiment (else the table may suggest columns)."""
        return bool(self.settings.runs_table_state(self.location, experiment))

    def save(self, experiment: str, state: TableState) -> None:
        """Remember the experiment's state."""
        self.settings.save_runs_table_state(self.location, experiment, state.to_json())


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _parses(item: str) -> bool:
    try:
        parse_order_by(item)
    except ValueError:
        return False
    return True
