"""A fake Azure CLI (``az``) for ``AzureCliCredential``: a script on PATH that answers from a state file.

Answers ``az account get-access-token --output json --resource R [--tenant T] [--subscription S]``
(``accessToken`` = ``studio-test-az-…``, a token the emulator accepts), ``az account show`` and
``az --version``; with the CLI "signed out" (``FakeAz.sign_out``) it fails like the real one ("Please run
'az login' …"). Every call is appended (its argv, never a token) to a JSON-lines file ``FakeAz.calls`` reads.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SCRIPT = r'''#!{python}
"""The fake az of the Studio tests (tests/azure_emulator/fake_az.py)."""
import json, sys, time, uuid
from datetime import datetime
from pathlib import Path

HERE = Path({folder!r})
args = sys.argv[1:]
with open(HERE / "calls.jsonl", "a") as log:
    log.write(json.dumps(args) + "\n")
state = json.loads((HERE / "state.json").read_text())

def option(name):
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None

if args[:1] == ["--version"]:
    print("azure-cli                         2.79.0\n\ncore                              2.79.0")
    sys.exit(0)
if not state["signed_in"]:
    sys.stderr.write("ERROR: Please run 'az login' to setup account.\n")
    sys.exit(1)
if args[:2] == ["account", "get-access-token"]:
    expires = int(time.time()) + int(state["lifetime_s"])
    print(json.dumps({{
        "accessToken": "studio-test-az-" + uuid.uuid4().hex,
        "expiresOn": datetime.fromtimestamp(expires).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "expires_on": expires,
        "subscription": option("--subscription") or state["subscription"],
        "tenant": option("--tenant") or state["tenant"],
        "tokenType": "Bearer",
    }}, indent=2))
    sys.exit(0)
if args[:2] == ["account", "show"]:
    print(json.dumps({{
        "environmentName": "AzureCloud", "homeTenantId": state["tenant"], "id": state["subscription"],
        "isDefault": True, "name": "Studio test subscription", "state": "Enabled", "tenantId": state["tenant"],
        "user": {{"name": state["user"], "type": "user"}},
    }}, indent=2))
    sys.exit(0)
sys.stderr.write("ERROR: fake az does not know: " + " ".join(args) + "\n")
sys.exit(2)
'''


class FakeAz:
    """The fake ``az`` in ``bin_dir`` (put that folder first on PATH) and its controls."""

    def __init__(self, bin_dir: Path, folder: Path, state: dict[str, object]) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self._state = state

    @classmethod
    def install(cls, folder: Path, *, tenant: str, subscription: str, user: str = "ada@studio-test.example") -> FakeAz:
        """Write the script and a signed-in state under ``folder``."""
        bin_dir = folder / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        script = bin_dir / "az"
        script.write_text(SCRIPT.format(python=sys.executable, folder=str(folder)))
        script.chmod(0o755)
        state: dict[str, object] = {"tenant": tenant, "subscription": subscription, "user": user}
        fake = cls(bin_dir, folder, state)
        fake.reset()
        return fake

    def reset(self) -> None:
        """Signed in, no calls recorded."""
        self._write(signed_in=True, lifetime_s=3600)
        (self.folder / "calls.jsonl").write_text("")

    def sign_out(self) -> None:
        """``az`` now fails as when nobody ran ``az login``."""
        self._write(signed_in=False)

    def sign_in(self) -> None:
        """``az`` hands out tokens again."""
        self._write(signed_in=True)

    def set_token_lifetime(self, seconds: int) -> None:
        """Tokens expire this many seconds after they are handed out."""
        self._write(lifetime_s=seconds)

    def calls(self) -> list[list[str]]:
        """The argv of every call so far, oldest first."""
        path = self.folder / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def resources(self) -> list[str]:
        """The ``--resource`` of every token request so far."""
        return [argv[argv.index("--resource") + 1] for argv in self.calls() if "--resource" in argv]

    def path_with_az(self, path: str | None = None) -> str:
        """``PATH`` with the fake first."""
        return os.pathsep.join([str(self.bin_dir), path if path is not None else os.environ.get("PATH", "")])

    def _write(self, **changes: object) -> None:
        self._state.update(changes)
        (self.folder / "state.json").write_text(json.dumps(self._state))
