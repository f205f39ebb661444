"""MemoryKeyring: a keyring backend in a dict, so tests never touch the system keyring.

tests/conftest.py points ``PYTHON_KEYRING_BACKEND`` at keyring's fail backend (no keyring at
all, as on many CI machines); the ``memory_keyring`` fixture installs a fresh MemoryKeyring for
one test with ``keyring.set_keyring``.
"""

from __future__ import annotations

import threading

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """Passwords in a dict keyed by (service, user name); ``locked`` makes every call raise like a locked keyring.

    ``gui_thread_calls`` counts the calls made on the main thread: GUI tests check it stays 0.
    """

    priority = 1  # type: ignore[assignment]  # a class attribute is enough for keyring

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.locked = False
        self.gui_thread_calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self._check()
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check()
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._check()
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("No such password")

    def _check(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.gui_thread_calls += 1
        if self.locked:
            raise KeyringLocked("The collection is locked")
