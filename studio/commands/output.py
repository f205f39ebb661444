"""Printing command results as aligned tables or JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    output: str,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
) -> None:
    """Print ``rows`` as JSON (all keys) or as a table of ``columns`` (``formats`` overrides a column's cells)."""
    if output == "json":
        print(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    formats = formats or {}
    cells = [[formats.get(c, _cell)(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def print_record(record: dict[str, Any], output: str) -> None:
    """Print one record as JSON or as ``key: value`` lines."""
    if output == "json":
        print(json.dumps(record, indent=2, default=str))
        return
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else _cell(value)
        print(f"{key.ljust(width)}  {text}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value > 1e9:  # a timestamp
        return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        """Print ``studio: error: ...`` and exit with status 2."""
        self.exit(2, f"studio: error: {message} (see '{self.prog} --help')\n")


def common_options() -> OneLineErrorParser:
    """--workspace and --output, accepted after any subcommand too (parents= of each leaf parser)."""
    common = OneLineErrorParser(add_help=False)
    common.add_argument(
        "--workspace", metavar="LOCATION", default=argparse.SUPPRESS, help="workspace folder or server location"
    )
    common.add_argument("--output", choices=("table", "json"), default=argparse.SUPPRESS, help="output format")
    return common
