"""Which preview fits a file: by its extension, then by sniffing its first bytes (no Qt)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from enum import Enum

HEAD_BYTES = 4096
"""How much of a file the chooser looks at (and the hex view shows)."""


class PreviewKind(Enum):
    """The kinds of preview."""

    TEXT = "text"
    CSV = "csv"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    SVG = "svg"
    IMAGE = "image"
    HEX = "hex"


@dataclass(frozen=True)
class Choice:
    """The chosen preview, the syntax to colour text with, and a note to show (e.g. why hex)."""

    kind: PreviewKind
    syntax: str = "plain"
    note: str = ""
    delimiter: str = ","


_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
)
_SYNTAX = {
    "py": "python", "pyi": "python", "json": "json", "jsonl": "json", "ipynb": "json",
    "yaml": "yaml", "yml": "yaml", "log": "log", "out": "log", "err": "log", "txt": "log",
}  # fmt: skip
_BY_EXTENSION = {
    "csv": PreviewKind.CSV, "tsv": PreviewKind.CSV, "json": PreviewKind.JSON, "ipynb": PreviewKind.JSON,
    "md": PreviewKind.MARKDOWN, "markdown": PreviewKind.MARKDOWN, "html": PreviewKind.HTML,
    "htm": PreviewKind.HTML, "svg": PreviewKind.SVG,
}  # fmt: skip
_LOG_FOLDERS = ("logs/", "user_logs/", "azureml-logs/")


def extension(path: str) -> str:
    """The lower-case extension of a path, without the dot ("" if none)."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""


def is_image(head: bytes) -> bool:
    """True for PNG, JPEG, GIF, BMP and WebP signatures."""
    return head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def is_utf8_text(head: bytes, complete: bool) -> bool:
    """True if ``head`` decodes as UTF-8 without NUL bytes (a cut multi-byte character at its end is fine)."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def syntax_for(path: str) -> str:
    """The colouring to use for a text file: python, json, yaml, log or plain."""
    syntax = _SYNTAX.get(extension(path))
    if syntax is not None:
        return syntax
    return "log" if path.startswith(_LOG_FOLDERS) else "plain"


def choose(path: str, head: bytes, size: int) -> Choice:
    """Pick the preview for a file from its path, its first bytes and its size."""
    ext = extension(path)
    if is_image(head):
        return Choice(PreviewKind.IMAGE)
    if not is_utf8_text(head, complete=len(head) >= size):
        if b"\x00" in head or not head:
            return Choice(PreviewKind.HEX, note="binary file; showing hex")
        return Choice(PreviewKind.HEX, note="not UTF-8 text; showing hex")
    if not head:
        return Choice(PreviewKind.TEXT, note="empty file")
    kind = _BY_EXTENSION.get(ext)
    if kind is None:
        kind = _sniff_text(head)
    syntax = syntax_for(path)
    if kind is PreviewKind.JSON and ext == "jsonl":
        kind = PreviewKind.TEXT
    return Choice(kind, syntax=syntax, delimiter="\t" if ext == "tsv" else ",")


def _sniff_text(head: bytes) -> PreviewKind:
    start = head.lstrip()[:256].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return PreviewKind.HTML
    if start.startswith(b"<svg") or (start.startswith(b"<?xml") and b"<svg" in head.lower()):
        return PreviewKind.SVG
    if start.startswith((b"{", b"[")):
        return PreviewKind.JSON
    return PreviewKind.TEXT
