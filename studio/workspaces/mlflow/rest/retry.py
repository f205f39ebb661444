"""When a call to the server is tried again, and how long it waits: exponential backoff under a deadline.

Which failures are retried depends on what repeating the request could do (``Repeat``):

| kind of call | connect failure | dropped / read timeout | 429 | 500 502 503 504 |
|---|---|---|---|---|
| reads (GETs, MLflow's search POSTs) | retry | retry | retry | retry |
| writes whose repetition ends in the same state (set-tag, update run name) | retry | retry | retry | retry |
| other writes (delete-tag: a repeat after a lost answer fails with 404) | retry | no | retry | 503 only |

A connect failure means the request never left, so it is always safe. ``Retry-After`` (seconds or an HTTP date)
is honoured but capped, and every wait is cut to what is left of the call's deadline, so a flapping server
cannot hold a call for minutes.
"""

from __future__ import annotations

import enum
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


class Repeat(enum.Enum):
    """How safe it is to send a request again."""

    SAFE = "safe"
    """Reads, and writes whose repetition ends in the same state."""
    ONLY_IF_UNSENT = "only-if-unsent"
    """Writes that must not run twice: retried only when the server surely did not act on them."""


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
UNPROCESSED_STATUSES = frozenset({429, 503})
"""Statuses that say the server did not act on the request (rate limit, not available)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a call is retried. ``attempts`` counts the first try."""

    attempts: int = 4
    backoff_s: float = 0.25
    """The first wait; each next one doubles, up to ``backoff_max_s``."""
    backoff_max_s: float = 4.0
    retry_after_max_s: float = 15.0
    """A longer ``Retry-After`` is cut to this (and always to the deadline)."""
    deadline_s: float = 60.0
    """A call, its retries and their waits included, ends by then (its last try's read timeout is shortened)."""
    jitter: float = 0.1
    """Each wait is stretched by up to this fraction at random, so parallel calls do not retry in lockstep."""

    def status_is_retried(self, status: int, repeat: Repeat) -> bool:
        """Whether an answer with ``status`` is worth another try."""
        if repeat is Repeat.SAFE:
            return status in RETRY_STATUSES
        return status in UNPROCESSED_STATUSES

    def wait_s(self, retry_number: int, retry_after: float | None) -> float:
        """The wait before retry ``retry_number`` (1 for the first retry)."""
        backoff = min(self.backoff_max_s, self.backoff_s * (2 ** (retry_number - 1)))
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.retry_after_max_s))
        return backoff * (1 + random.uniform(0, self.jitter))


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
