"""Reading a CSV/TSV file chunk by chunk: cut at record ends (outside quotes), then parse (no Qt)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

CHUNK_BYTES = 256 * 1024
MAX_RECORD_BYTES = 64 * 1024 * 1024
"""A single record longer than this is cut anyway (the file is not really CSV)."""

Reader = Callable[[int, int], bytes]


def record_cut(data: bytes, at_eof: bool) -> int:
    """Length of the longest prefix of ``data`` that ends with a record (a newline outside quotes).

    ``data`` must start at a record boundary. At the end of the file everything counts.
    Returns 0 when no record ends inside ``data``.
    """
    if at_eof:
        return len(data)
    quotes_before = data.count(b'"')
    pos = len(data)
    while True:
        nl = data.rfind(b"\n", 0, pos)
        if nl < 0:
            return 0
        quotes_before -= data.count(b'"', nl, pos)
        if quotes_before % 2 == 0:
            return nl + 1
        pos = nl


def parse_rows(body: bytes, delimiter: str) -> list[list[str]]:
    """The records of ``body`` (whole records, UTF-8; bad bytes are replaced)."""
    text = body.decode("utf-8", errors="replace")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def read_chunk(read: Reader, start: int, size: int, delimiter: str) -> tuple[int, int, list[list[str]]]:
    """The whole records from byte ``start``: ``(start, end, rows)``; reads more if one record is long."""
    length = CHUNK_BYTES
    while True:
        data = read(start, length)
        at_eof = start + len(data) >= size or len(data) < length
        cut = record_cut(data, at_eof)
        if cut == 0 and length < MAX_RECORD_BYTES:
            length *= 4
            continue
        cut = cut or len(data)
        return start, start + cut, parse_rows(data[:cut], delimiter)
