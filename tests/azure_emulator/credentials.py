"""A static token credential for tests that do not exercise sign-in: hands out ``studio-test-…`` tokens."""

from __future__ import annotations

import threading
import time
from typing import Any


class StaticTokenCredential:
    """A ``TokenCredential`` (and ``SupportsTokenInfo``) that records the scopes it was asked for."""

    def __init__(self, token: str = "studio-test-static", lifetime_s: int = 3600) -> None:
        self._token = token
        self._lifetime_s = lifetime_s
        self._lock = threading.Lock()
        self.scopes: list[tuple[str, ...]] = []
        """The scopes of every request, oldest first."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """An ``AccessToken`` for any scope."""
        from azure.core.credentials import AccessToken

        with self._lock:
            self.scopes.append(scopes)
        return AccessToken(self._token, int(time.time()) + self._lifetime_s)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        """An ``AccessTokenInfo`` for any scope."""
        from azure.core.credentials import AccessTokenInfo

        with self._lock:
            self.scopes.append(scopes)
        return AccessTokenInfo(self._token, int(time.time()) + self._lifetime_s)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "StaticTokenCredential(<token hidden>)"
