"""Simple syntax colouring for text previews: Python, JSON, YAML and logs (ERROR / WARNING lines)."""

from __future__ import annotations

import re

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextBlock, QTextCharFormat, QTextDocument

_LIGHT = {
    "keyword": "#0033b3", "string": "#067d17", "comment": "#8c8c8c", "number": "#1750eb",
    "key": "#871094", "error": "#c62828", "warning": "#a65e00", "time": "#6d6d6d",
}  # fmt: skip
_DARK = {
    "keyword": "#cf8e6d", "string": "#6aab73", "comment": "#7a7e85", "number": "#2aacb8",
    "key": "#c77dbb", "error": "#ff6b68", "warning": "#e0b040", "time": "#8a8f98",
}  # fmt: skip

_PY_KEYWORDS = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
    "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
]  # fmt: skip
_STRING = r"\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?"
_NUMBER = r"\b-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b"
_RULES: dict[str, list[tuple[str, str]]] = {
    "python": [
        (r"\b(?:" + "|".join(_PY_KEYWORDS) + r")\b", "keyword"),
        (_NUMBER, "number"),
        (_STRING, "string"),
        (r"#.*$", "comment"),
    ],
    "json": [
        (_NUMBER, "number"),
        (r"\b(?:true|false|null)\b", "keyword"),
        (r"\"(?:[^\"\\]|\\.)*\"", "string"),
        (r"\"(?:[^\"\\]|\\.)*\"(?=\s*:)", "key"),
    ],
    "yaml": [
        (_NUMBER, "number"),
        (r"\b(?:true|false|null|yes|no)\b", "keyword"),
        (_STRING, "string"),
        (r"^\s*-?\s*[\w.\-/]+(?=\s*:)", "key"),
        (r"(?:^|\s)#.*$", "comment"),
    ],
    "log": [
        (r"^\[?\d{4}-\d{2}-\d{2}[T ][\d:.,]+\S*\]?", "time"),
    ],
}
_LOG_ERROR = re.compile(r"\b(?:ERROR|CRITICAL|FATAL|Traceback|Exception)\b|\w+Error\b")
_LOG_WARNING = re.compile(r"\b(?:WARNING|WARN)\b")


class SyntaxHighlighter(QSyntaxHighlighter):
    """Colours a text document by regular-expression rules for one syntax (see ``syntax_for``).

    With ``lazy`` only the lines passed to :meth:`show_lines` are coloured (a window of a big
    file holds thousands of lines; colouring them all in Python would stall the GUI thread).
    """

    def __init__(self, document: QTextDocument, syntax: str, dark: bool, lazy: bool = False) -> None:
        super().__init__(document)
        self.syntax = syntax
        self.lazy = lazy
        self._shown = (0, -1)
        self._coloured: set[int] = set()
        colours = _DARK if dark else _LIGHT
        self._formats: dict[str, QTextCharFormat] = {}
        for name, colour in colours.items():
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(colour))
            if name in ("error", "key"):
                fmt.setFontWeight(QFont.Weight.Bold if name == "error" else QFont.Weight.Normal)
            self._formats[name] = fmt
        self._rules = [(re.compile(rx, re.MULTILINE), self._formats[name]) for rx, name in _RULES.get(syntax, [])]
        self._log = syntax in ("log", "plain")

    def forget(self) -> None:
        """The lines were replaced or renumbered: colour them again when shown."""
        self._coloured.clear()
        self._shown = (0, -1)

    def show_lines(self, first: int, last: int) -> None:
        """Colour lines ``first``..``last`` (block numbers) if not done yet (lazy mode)."""
        if not self.lazy:
            return
        self._shown = (first, last)
        block: QTextBlock = self.document().findBlockByNumber(first)
        number = first
        while block.isValid() and number <= last:
            if number not in self._coloured:
                self.rehighlightBlock(block)
            block, number = block.next(), number + 1

    def highlightBlock(self, text: str) -> None:
        """Colour one line."""
        if self.lazy:
            if self._shown[1] < 0:
                # Nothing in view yet (a new window is being set): the common case, keep it cheap.
                return
            number = self.currentBlock().blockNumber()
            if not self._shown[0] <= number <= self._shown[1]:
                # Changed out of view (a followed log grew): colour it when shown.
                self._coloured.discard(number)
                return
            self._coloured.add(number)
        if self._log:
            if _LOG_ERROR.search(text):
                self.setFormat(0, len(text), self._formats["error"])
                return
            if _LOG_WARNING.search(text):
                self.setFormat(0, len(text), self._formats["warning"])
                return
        for rx, fmt in self._rules:
            for m in rx.finditer(text):
                self.setFormat(m.start(), m.end() - m.start(), fmt)
