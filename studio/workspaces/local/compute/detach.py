"""The short-lived launcher: ``detach LOG COMMAND…`` starts COMMAND in a session of its own, prints its pid, exits.

Run by ``launcher.spawn_daemon`` as a process of its own (``python -m`` or, in a bundle, ``studio --run-module``),
so the daemon it starts is nobody's child. Kept free of the studio's imports: it starts in a few milliseconds.
"""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str] | None = None) -> int:
    """Start the command with its output appended to LOG; print its pid."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: detach LOG COMMAND [ARGS…]", file=sys.stderr)
        return 2
    with open(args[0], "ab") as log:
        process = subprocess.Popen(
            args[1:], start_new_session=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True
        )
    print(process.pid, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
