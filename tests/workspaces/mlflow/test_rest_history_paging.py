"""Paging rules of metric histories that a real OSS server does not exercise: opaque tokens, a page-size cap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from studio.workspaces.mlflow.rest.errors import MlflowRequestError
from studio.workspaces.mlflow.rest.history import HistoryFetcher, offset_token, token_offset

POINTS = [
    {"key": "m", "value": v, "timestamp": 1000 + i, "step": i}
    for i, v in enumerate([0.5, "NaN", 2, 3, "Infinity", 5, 6])
]


class OpaqueTokens:
    """Pages like Azure's: tokens that are not offsets; refuses pages over ``cap`` like Azure did."""

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap
        self.asked: list[tuple[int, str | None]] = []

    def get_json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        size, token = int(params["max_results"]), params.get("page_token")
        self.asked.append((size, token))
        if self.cap is not None and size > self.cap:
            raise MlflowRequestError(f"MaxResults = {size} is invalid: MaxResults must be less than 1000.", status=400)
        start = int(token.removeprefix("opaque-")) if token else 0
        page: dict[str, Any] = {"metrics": POINTS[start : start + size]}
        if start + size < len(POINTS):
            page["next_page_token"] = f"opaque-{start + size}"
        return page


def test_opaque_tokens_are_followed_one_page_after_another() -> None:
    transport = OpaqueTokens()
    with ThreadPoolExecutor(4) as pool:
        history = HistoryFetcher(transport, pool, page_size=3).fetch("run", ["m"])["m"]  # type: ignore[arg-type]
    assert transport.asked == [(3, None), (3, "opaque-3"), (3, "opaque-6")]
    np.testing.assert_array_equal(history.steps, np.arange(7))
    np.testing.assert_array_equal(history.values, [0.5, np.nan, 2, 3, np.inf, 5, 6])
    np.testing.assert_array_equal(history.timestamps_ms, 1000 + np.arange(7))


def test_a_refused_page_size_falls_back_to_1000_and_is_remembered() -> None:
    transport = OpaqueTokens(cap=1000)
    with ThreadPoolExecutor(2) as pool:
        fetcher = HistoryFetcher(transport, pool)  # type: ignore[arg-type]
        assert len(fetcher.fetch("run", ["m"])["m"]) == 7
        fetcher.fetch("run", ["m"])
    assert [size for size, _ in transport.asked] == [25_000, 1000, 1000]


def test_offset_tokens_round_trip_and_others_are_not_offsets() -> None:
    assert token_offset(offset_token(25_000)) == 25_000
    assert offset_token(25_000) == "eyJvZmZzZXQiOiAyNTAwMH0="  # what MLflow 3.17's server sent
    assert token_offset("opaque-3") is None and token_offset("e30=") is None
