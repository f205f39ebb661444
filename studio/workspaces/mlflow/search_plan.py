"""What to send to MLflow's ``runs/search`` for a ``RunQuery``: a filter whose answer holds every matching run.

The backend re-checks every run the server sends with the whole query (``studio.core.search.query_matches``), so
a clause goes to the server only where MLflow's SQL store (3.x, on SQLite, PostgreSQL, MySQL or SQL Server) keeps
at least the runs Studio's reference semantics keep; anything else is a client part, named in the runs table's
note. Where a clause cannot be sent as written, a looser one that can is sent instead:

- LIKE / ILIKE patterns (and ``=`` values holding a quote or backslash) go with ``_`` in place of each character
  that MLflow cannot quote (``'``), that a dialect reads as an escape or a class (``\\`` ``[``), and, for ILIKE,
  each character SQL's ASCII-only ``lower()`` folds differently from Python: non-ASCII ones, and ``i k s``, which
  Python also matches with dotted I, dotless i, the Kelvin sign and long s. ``_`` matches any one character, so
  nothing is dropped. A LIKE's own ``_`` goes as ``%``: MySQL's LIKE compares bytes, and ``_`` is one byte;
- times: Studio's are seconds, MLflow's milliseconds, so bounds are rounded outwards by a millisecond;
- status: MLflow knows five statuses and no list comparison for them, so any status comparison becomes ``=`` one
  status or ``!=`` each status it excludes (a single quick status likewise).

A ``SearchDialect`` says what one kind of server answers. ``MLFLOW`` is an MLflow 3 server. Azure ML's endpoint
(``AZURE``) orders by attributes only (not by metrics, params or tags: the runs are then read and sorted here, and
the note says so) and knows only MLflow's five coarse statuses for Azure's fourteen, so a status comparison goes
to it as the coarse statuses that can hold the wanted ones, and the exact status is checked here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from studio.core.search import Comparison, Filter, OrderKey, RunValues, compile_query, key_text, matches, to_text
from studio.core.status import RunStatus
from studio.core.types import RunQuery
from studio.workspaces.mlflow.mapping import HIDDEN_TAGS, STATUS_FROM_MLFLOW
from studio.workspaces.mlflow.rest.types import PARENT_RUN_TAG

PARENT_TAG = PARENT_RUN_TAG
# Tags the backend maps elsewhere or hides (mapping.HIDDEN_TAGS), so Studio's runs never have them: ordering on one
# is a tie.
MLFLOW_STATUS: dict[RunStatus, str] = {status: name for name, status in STATUS_FROM_MLFLOW.items()}
_ACTIVE_MLFLOW = ("RUNNING", "SCHEDULED")
_TIME_ATTRIBUTES = {"start_time": "start_time", "created": "start_time", "end_time": "end_time"}
_ORDERABLE_ATTRIBUTES = {**_TIME_ATTRIBUTES, "run_name": "run_name"}
_BOUND_OPS = ("<", "<=", ">", ">=", "=")
_UNQUOTABLE = "'\\"  # MLflow keeps a string's text as written (no escapes), and its IN lists go through literal_eval
_PATTERN_UNSAFE = "'\\["  # ' cannot be written; \ escapes in PostgreSQL and MySQL; [ starts a class in SQL Server
_FOLDS_BEYOND_ASCII = "iIkKsS"  # Python's IGNORECASE also matches these with U+0130, U+0131, U+212A, U+017F
_MAX_MS = 2**50  # beyond this float rounding could move a bound by a millisecond; no real run is that far out


@dataclass(frozen=True)
class ServerPlan:
    """What to send to ``runs/search`` for one query, and what Studio then does itself.

    ``filter`` and ``order_by`` are MLflow's syntax. With ``client_order`` the server cannot order as asked: the
    backend fetches every matching run and sorts them with ``apply_query``. With ``nothing`` no run can match.
    ``client_parts`` are short texts of what only the client checks or sorts (an order part comes last).
    """

    filter: str
    order_by: tuple[str, ...]
    client_order: bool
    nothing: bool
    client_parts: tuple[str, ...]

    @property
    def note(self) -> str:
        """A sentence for the runs table saying what Studio answers itself, or "" when the server answers all."""
        if not self.client_parts:
            return ""
        checks = len(self.client_parts) - int(self.client_order)
        if not checks:
            does = "Studio sorts the runs the server sends."
        elif self.client_order:
            does = "Studio checks and sorts the runs the server sends."
        else:
            does = f"Studio checks {'it' if checks == 1 else 'them'} on the runs the server sends."
        return f"The server cannot answer {_listing(self.client_parts)}; {does}"


NOTHING = ServerPlan(filter="", order_by=(), client_order=False, nothing=True, client_parts=())


@dataclass(frozen=True)
class SearchDialect:
    """What one kind of server's ``runs/search`` can answer."""

    name: str = "MLflow"
    orders_by_values: bool = True
    """Whether ``order_by`` may name metrics, params and tags (else only attributes)."""
    statuses: Mapping[RunStatus, tuple[str, ...]] = field(
        default_factory=lambda: {status: (name,) for status, name in MLFLOW_STATUS.items()}
    )
    """The server's statuses a run of each Studio status may have (a status missing here: no run has it)."""
    exact_statuses: bool = True
    """Whether a server status names one Studio status (else a status comparison is also checked here)."""


MLFLOW = SearchDialect()
AZURE = SearchDialect(
    name="Azure ML",
    orders_by_values=False,
    statuses={
        **{status: _ACTIVE_MLFLOW for status in RunStatus if status.is_active},
        RunStatus.COMPLETED: ("FINISHED",),
        RunStatus.FAILED: ("FAILED",),
        RunStatus.CANCELED: ("KILLED",),
    },
    exact_statuses=False,
)
"""Azure ML's MLflow endpoint: attributes-only order; its MLflow status of an active job is Scheduled or Running
whatever Azure's own status is (Queued, Preparing, Finalizing, NotResponding…), which the backend reads from the
job and this computer checks."""


class _NoRun(Exception):
    """A clause no MLflow run can pass."""


def plan_query(query: RunQuery, *, top_level_is_null: bool = True, dialect: SearchDialect = MLFLOW) -> ServerPlan:
    """The server part of ``query``: its answer always holds every run ``query`` matches.

    ``top_level_is_null=False`` is for servers before MLflow 3, which reject ``IS NULL``: the top-level check
    becomes a client part. ``dialect``: what the server can answer (``MLFLOW``, ``AZURE``). Raises
    studio.core.errors.QueryError for a malformed filter or order.
    """
    compiled = compile_query(query)
    pushed: list[str] = []
    parts: list[str] = []
    if query.parent_id is None:
        if top_level_is_null:
            pushed.append(f"tags.`{PARENT_TAG}` IS NULL")
        else:
            parts.append("which runs are top-level")
    elif _quotable(query.parent_id):
        pushed.append(f"tags.`{PARENT_TAG}` = '{query.parent_id}'")
    else:
        parts.append(f"which runs are children of {query.parent_id!r}")
    if query.status is not None:
        names = dialect.statuses.get(query.status, ())
        if not names:
            return NOTHING
        pushed.extend(_status_names_clauses(set(names), dialect))
        if not dialect.exact_statuses and not _exact(query.status, dialect):
            parts.append(f"the status {query.status.value}")
    if query.text:
        parts.append(f"the words {query.text!r}")
    if query.tag:
        parts.append(f"tags containing {query.tag!r}")
    try:
        for comparison in compiled.filter.comparisons:
            clauses = _clauses(comparison, dialect)
            if clauses is None:
                parts.append(to_text(Filter((comparison,))))
            else:
                pushed.extend(clauses)
                if _is_status(comparison) and not dialect.exact_statuses and not _status_exact(comparison, dialect):
                    parts.append(to_text(Filter((comparison,))))
    except _NoRun:
        return NOTHING
    order_by, unordered = _order(compiled.order, query.newest_first, dialect)
    if unordered:
        parts.append("order by " + ", ".join(unordered))
    return ServerPlan(" AND ".join(pushed), () if unordered else order_by, bool(unordered), False, tuple(parts))


def _clauses(comparison: Comparison, dialect: SearchDialect = MLFLOW) -> list[str] | None:
    """MLflow clauses that together keep every run the comparison keeps ([] = all), or None if there are none."""
    key, op, value = comparison.key, comparison.op, comparison.value
    if key.kind == "properties":
        raise _NoRun  # MLflow runs have no properties, and a run lacking the key never matches
    if key.kind == "attributes":
        if key.name == "status":
            return _status_clauses(comparison, dialect)
        if key.name in _TIME_ATTRIBUTES:
            return _time_clauses(f"attributes.{_TIME_ATTRIBUTES[key.name]}", op, value)
        if key.name == "run_id":
            if op == "=" and isinstance(value, str) and _quotable(value):
                return [f"attributes.run_id = '{value}'"]
            if op == "IN" and isinstance(value, tuple) and all(_quotable(v) for v in value):
                return ["attributes.run_id IN (" + ", ".join(f"'{v}'" for v in value) + ")"]
            return None
        if key.name != "run_name":
            return None  # duration: MLflow has no such attribute
        name = "attributes.run_name"
    elif "`" in key.name or not key.name:
        return None
    else:
        name = f"{key.kind}.`{key.name}`"
    if key.kind == "metrics":
        if op in _BOUND_OPS and isinstance(value, float) and math.isfinite(value):
            return [f"{name} {op} {_number(value)}"]  # not !=: older servers store NaN as 0 and drop it
        return None
    if op == "IN" and isinstance(value, tuple) and len(value) == 1:
        op, value = "=", value[0]
    if not isinstance(value, str):
        return None
    if op == "=":
        if _quotable(value):
            return [f"{name} = '{value}'"]
        return [f"{name} LIKE '{_pattern(value, wildcards=False, fold=False)}'"]
    if op in ("LIKE", "ILIKE"):
        return [f"{name} {op} '{_pattern(value, wildcards=True, fold=op == 'ILIKE')}'"]
    return None  # !=, IN, NOT IN on params and tags


def _passing(comparison: Comparison) -> list[RunStatus]:
    """The Studio statuses that pass the comparison (by the reference semantics)."""
    return [s for s in RunStatus if matches(Filter((comparison,)), RunValues(attributes={"status": s.value}))]


def _status_clauses(comparison: Comparison, dialect: SearchDialect = MLFLOW) -> list[str]:
    """The server statuses a run passing the comparison may have, as clauses."""
    kept = {name for status in _passing(comparison) for name in dialect.statuses.get(status, ())}
    if not kept:
        raise _NoRun
    return _status_names_clauses(kept, dialect)


def _status_names_clauses(kept: set[str], dialect: SearchDialect) -> list[str]:
    everything = sorted({name for names in dialect.statuses.values() for name in names})
    if len(kept) == 1:
        return [f"attributes.status = '{next(iter(kept))}'"]
    # MLflow compares no list with status: exclude the others one by one (none when every status passes).
    return [f"attributes.status != '{s}'" for s in _ordered(everything) if s not in kept]


def _ordered(names: list[str]) -> list[str]:
    """Server statuses in MLflow's order (as MLFLOW_STATUS lists them), others after."""
    order = list(MLFLOW_STATUS.values())
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def _is_status(comparison: Comparison) -> bool:
    return comparison.key.kind == "attributes" and comparison.key.name == "status"


def _exact(status: RunStatus, dialect: SearchDialect) -> bool:
    """Whether a run with one of ``status``'s server statuses surely has ``status`` (no other status shares them)."""
    names = set(dialect.statuses.get(status, ()))
    return not any(other is not status and names & set(n) for other, n in dialect.statuses.items())


def _status_exact(comparison: Comparison, dialect: SearchDialect) -> bool:
    """Whether the server's answer to the comparison's clauses holds only runs that pass it."""
    passing = set(_passing(comparison))
    kept = {name for status in passing for name in dialect.statuses.get(status, ())}
    return all(status in passing for status, names in dialect.statuses.items() if set(names) & kept)


def _time_clauses(name: str, op: str, seconds: object) -> list[str] | None:
    """Bounds in milliseconds, rounded outwards, that every run passing ``op seconds`` passes too."""
    if op not in _BOUND_OPS or not isinstance(seconds, float) or not math.isfinite(seconds):
        return None
    ms = seconds * 1000.0
    if abs(ms) >= _MAX_MS:
        return None
    clauses = []
    if op in (">", ">=", "="):
        clauses.append(f"{name} >= {math.floor(ms) - 1}")
    if op in ("<", "<=", "="):
        clauses.append(f"{name} <= {math.ceil(ms) + 1}")
    return clauses


def _order(
    order: tuple[OrderKey, ...], newest_first: bool, dialect: SearchDialect = MLFLOW
) -> tuple[tuple[str, ...], list[str]]:
    """MLflow order_by items, and the keys the server cannot order by (then the client sorts)."""
    if not order:
        return (f"attributes.start_time {'DESC' if newest_first else 'ASC'}",), []
    items: list[str] = []
    seen: set[str] = set()
    unordered: list[str] = []
    for item in order:
        key = item.key
        if key.kind == "properties" or (key.kind == "tags" and key.name in HIDDEN_TAGS):
            continue  # no run has it: every run ties
        if key.kind == "attributes":
            if key.name not in _ORDERABLE_ATTRIBUTES:
                unordered.append(key_text(key))  # status (MLflow's names sort differently), duration, run_id
                continue
            name = f"attributes.{_ORDERABLE_ATTRIBUTES[key.name]}"
        elif not dialect.orders_by_values:
            unordered.append(key_text(key))  # Azure ML orders by attributes only
            continue
        elif not key.name or any(c in key.name for c in "`'\"\\"):
            unordered.append(key_text(key))  # MLflow splits order items with shlex: quotes would break it
            continue
        else:
            name = f"{key.kind}.`{key.name}`"
        if name not in seen:  # MLflow refuses a repeated key; a repeat never changes the order
            seen.add(name)
            items.append(f"{name} {'DESC' if item.descending else 'ASC'}")
    # Studio breaks ties newest first, then by id: MLflow's own tie order, said explicitly.
    return tuple(items) or ("attributes.start_time DESC",), unordered


def _quotable(text: str) -> bool:
    return not any(c in text for c in _UNQUOTABLE)


def _pattern(text: str, *, wildcards: bool, fold: bool) -> str:
    """A LIKE pattern matching at least what ``text`` matches (``wildcards``: its % and _ are LIKE's)."""
    out = []
    for char in text:
        if char in "%_" and wildcards:
            # MySQL's case-sensitive LIKE compares bytes, where _ is one byte of a character: % covers it.
            out.append("%" if char == "_" and not fold else char)
        elif char in "%_" or char in _PATTERN_UNSAFE or (fold and (not char.isascii() or char in _FOLDS_BEYOND_ASCII)):
            out.append("_")
        else:
            out.append(char)
    return "".join(out)


def _number(value: float) -> str:
    # repr round-trips; MLflow's tokenizer takes 1e20 but not 1e+20.
    return repr(value).replace("e+", "e")


def _listing(parts: tuple[str, ...]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
