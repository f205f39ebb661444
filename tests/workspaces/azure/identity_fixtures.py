"""Fixtures of the sign-in tests (test_identity_*.py, test_directory_*.py): the emulator's environment with a
home folder of the test's own (MSAL's plain-file token cache is ``~/.IdentityService/studio.nocae``) and, so the
tests mean the same on every machine, no encrypted store for the token cache (as on this Linux machine)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.core.accounts import DeviceCodePrompt
from studio.workspaces.azure import identity
from tests.azure_fixtures import AzureService

USER = "alice@studiotest.onmicrosoft.com"


@pytest.fixture
def signin_env(azure_env: AzureService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AzureService:
    """``azure_env`` plus HOME in tmp_path and no encrypted token-cache store."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(identity, "_encryption_available", False)
    return azure_env


def cache_file() -> Path:
    """MSAL's plain-file token cache under the test's HOME."""
    return Path.home() / ".IdentityService" / "studio.nocae"


def approving_prompt(
    service: AzureService, seen: list[DeviceCodePrompt], user: str = USER
) -> Callable[[DeviceCodePrompt], None]:
    """A device-code prompt that records what it is shown and "enters the code" as ``user``."""

    def prompt(shown: DeviceCodePrompt) -> None:
        seen.append(shown)
        service.emulator.aad.approve(shown.user_code, user)  # type: ignore[attr-defined]

    return prompt


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until true (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
