"""The filter box's little language: words match names and ids, ``status:X`` and ``tag:k=v`` narrow."""

from __future__ import annotations

from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunQuery

_STATUS_BY_NAME = {s.value.lower(): s for s in RunStatus}


def parse_filter(text: str) -> RunQuery:
    """``resnet status:failed tag:lr=0.01`` -> RunQuery(text="resnet", status=FAILED, tag="lr=0.01").

    An unknown status name raises ValueError (shown under the box).
    """
    words, status, tag = [], None, ""
    for token in text.split():
        low = token.lower()
        if low.startswith("status:"):
            name = low[len("status:") :]
            if name not in _STATUS_BY_NAME:
                known = ", ".join(s.value for s in RunStatus)
                raise ValueError(f"unknown status {name!r}; use one of {known}")
            status = _STATUS_BY_NAME[name]
        elif low.startswith("tag:"):
            tag = token[len("tag:") :]
        else:
            words.append(token)
    return RunQuery(text=" ".join(words), status=status, tag=tag)


def matches(run: RunInfo, query: RunQuery) -> bool:
    """Whether a run (that arrived through live refresh) passes the same filter the backend applies."""
    if query.status is not None and run.status != query.status:
        return False
    text = query.text.lower()
    if text and text not in run.display_name.lower() and text not in run.id.lower():
        return False
    tag = query.tag.lower()
    return not tag or any(tag in f"{k}={v}".lower() for k, v in run.tags.items())
