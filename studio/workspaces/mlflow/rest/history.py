"""Metric histories into numpy, with every page and every metric of a call in flight at once (bounded).

The server does most of the work of a history (an OSS server spends ~40 µs per point building JSON), so the
client's speed comes from keeping the server's workers busy, not from parsing alone:

- One request per metric for histories up to ``page_size`` points (MLflow's client asks 25,000 too), so
  fetching 20 metrics is 20 requests, all sent at once through the client's thread pool.
- Longer histories page. An OSS server's page token is ``base64({"offset": N})`` (MLflow's
  ``SearchUtils.create_page_token``); when the first page's token is exactly that, the next pages are asked
  for *speculatively* and concurrently, ``window`` at a time, with tokens built the same way. MLflow calls
  that format unstable, so it is only used after the server showed it, every page's own token is checked
  against it, and any other token (Azure's, a future MLflow's) pages one after another as the server says.
  The cost of speculation: up to ``window - 1`` requests past the end that come back empty.
- A server refusing the page size (Azure said "MaxResults must be less than 1000") is asked again with
  1,000 and remembered.

Only the calling thread waits; the pool threads each send one request and parse one page, so calls from
several threads share the pool without deadlock.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field

import numpy as np

from studio.core.tasks import CancelToken
from studio.workspaces.mlflow.rest.errors import MlflowRequestError
from studio.workspaces.mlflow.rest.parse import history_columns, join_history
from studio.workspaces.mlflow.rest.transport import Transport
from studio.workspaces.mlflow.rest.types import MetricHistory

GET_HISTORY = "/api/2.0/mlflow/metrics/get-history"
DEFAULT_PAGE_SIZE = 25_000
SMALL_PAGE_SIZE = 1_000

Columns = tuple[np.ndarray, np.ndarray, np.ndarray]


def offset_token(offset: int) -> str:
    """An OSS MLflow page token for ``offset`` (the format ``SearchUtils.create_page_token`` writes)."""
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def token_offset(token: str) -> int | None:
    """The offset of an OSS page token; None for any other kind of token."""
    try:
        decoded = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if isinstance(decoded, dict) and set(decoded) == {"offset"} and isinstance(decoded["offset"], int):
        return int(decoded["offset"])
    return None


@dataclass
class _Metric:
    """The fetch state of one metric: pages by offset (points before them), the end once seen."""

    key: str
    speculate: bool = False
    pages: dict[int, Columns] = field(default_factory=dict)
    end: int | None = None
    """Offset of the page that came without a next token (the last page)."""
    next_offset: int = 0
    generation: int = 0
    """Bumped when speculation stops: pages asked for before are ignored when they arrive."""
    result: MetricHistory | None = None


class HistoryFetcher:
    """Fetches histories through one transport and one executor (the client's)."""

    def __init__(
        self, transport: Transport, executor: Executor, *, page_size: int = DEFAULT_PAGE_SIZE, window: int = 4
    ) -> None:
        self.transport = transport
        self.executor = executor
        self.page_size = page_size
        self.window = max(1, window)

    def fetch(
        self, run_id: str, keys: list[str], *, speculate: bool = True, cancel: CancelToken | None = None
    ) -> dict[str, MetricHistory]:
        """Every point of each metric in ``keys`` of run ``run_id``; raises the first error any request met."""
        states = {key: _Metric(key) for key in dict.fromkeys(keys)}
        page_size = self.page_size
        in_flight: dict[Future[tuple[Columns, str | None]], tuple[_Metric, int, int, int]] = {}

        def ask(state: _Metric, offset: int, token: str | None, size: int) -> None:
            future = self.executor.submit(self._page, run_id, state.key, token, size)
            in_flight[future] = (state, offset, size, state.generation)

        for state in states.values():
            ask(state, 0, None, page_size)
        try:
            while in_flight:
                done, _ = wait(list(in_flight), timeout=0.1, return_when=FIRST_COMPLETED)
                if cancel is not None:
                    cancel.raise_if_cancelled()
                for future in done:
                    state, offset, size, generation = in_flight.pop(future)
                    try:
                        columns, token = future.result()
                    except MlflowRequestError as exc:
                        if offset == 0 and size > SMALL_PAGE_SIZE and _page_size_refused(exc):
                            page_size = self.page_size = SMALL_PAGE_SIZE
                            ask(state, 0, None, page_size)
                            continue
                        raise
                    if state.result is None and generation == state.generation:
                        self._take_page(state, offset, size, columns, token, speculate, ask)
        finally:
            for future in in_flight:
                future.cancel()
        return {key: state.result for key, state in states.items() if state.result is not None}

    def _take_page(
        self,
        state: _Metric,
        offset: int,
        size: int,
        columns: Columns,
        token: str | None,
        speculate: bool,
        ask: Callable[[_Metric, int, str | None, int], None],
    ) -> None:
        """Keep a page, ask for what comes next, and finish the metric once its pages are contiguous to the end."""
        count = len(columns[0])
        state.pages[offset] = columns
        if token is None:
            state.end = offset if state.end is None else min(state.end, offset)
        elif offset == 0 and speculate and count == size and token_offset(token) == count:
            state.speculate = True
            state.next_offset = count
            for _ in range(self.window):
                ask(state, state.next_offset, offset_token(state.next_offset), size)
                state.next_offset += size
        elif state.speculate and token_offset(token) == offset + count and count == size:
            if state.end is None:
                ask(state, state.next_offset, offset_token(state.next_offset), size)
                state.next_offset += size
        else:
            # A token of another kind (or not where expected): follow it, one page after another, and forget
            # speculative pages past this one.
            if state.speculate:
                state.speculate = False
                state.generation += 1
                for later in [o for o in state.pages if o > offset]:
                    del state.pages[later]
                state.end = None
            state.next_offset = offset + count
            ask(state, offset + count, token, size)
        self._finish_if_complete(state)

    @staticmethod
    def _finish_if_complete(state: _Metric) -> None:
        if state.end is None:
            return
        position, ordered = 0, []
        while position <= state.end:
            page = state.pages.get(position)
            if page is None:
                return  # a page before the end is still on its way
            ordered.append(page)
            if position == state.end:
                break
            if len(page[0]) == 0:
                return  # never from a consistent server; wait for the sequential path
            position += len(page[0])
        state.result = join_history(state.key, ordered)

    def fetch_after(self, run_id: str, key: str, offset: int) -> MetricHistory | None:
        """The points of ``key`` from index ``offset`` on, asked with an OSS page token built for that offset.

        None when the server does not take such a token (it refused it, or answered with a token of another
        kind): the caller then fetches the whole history. Used for a running run's new points, so a live chart of
        a long run costs its new points, not all of them again.
        """
        token: str | None = offset_token(offset)
        pages: list[Columns] = []
        position = offset
        while token is not None:
            try:
                columns, token = self._page(run_id, key, token, self.page_size)
            except MlflowRequestError:
                return None
            pages.append(columns)
            position += len(columns[0])
            if token is not None and token_offset(token) != position:
                return None  # not an offset token: the server pages some other way
        return join_history(key, pages)

    def _page(self, run_id: str, key: str, token: str | None, size: int) -> tuple[Columns, str | None]:
        """One request: a page of ``key``'s points and the next token (None on the last page)."""
        params: dict[str, str | int] = {"run_id": run_id, "metric_key": key, "max_results": size}
        if token:
            params["page_token"] = token
        document = self.transport.get_json(GET_HISTORY, params)
        return history_columns(document.get("metrics") or []), document.get("next_page_token") or None


def _page_size_refused(error: MlflowRequestError) -> bool:
    text = str(error).lower()
    return "maxresults" in text.replace("_", "").replace(" ", "")
