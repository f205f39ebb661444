"""A hand-written recursive-descent parser of MLflow's run filter and order grammar, and its canonical text.

Grammar (keywords case-insensitive)::

    filter     := [comparison ("AND" comparison)*]
    comparison := key op value
    key        := prefix "." name | attribute          (a bare name is an attribute, as in MLflow)
    name       := bare | `back ticked` | "double quoted"   (bare: letters, digits, _ . - /)
    op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | LIKE | ILIKE | IN | NOT IN
    value      := number | 'text' | "text" | "(" text ("," text)* ")"
    order      := key [ASC | DESC]

Inside quotes a doubled quote (``'it''s'``, as in SQL) or a backslash before a quote, backtick or backslash
(``'it\\'s'``) stands for that character; any other backslash is kept (``'C:\\data'``). Metrics and numeric
attributes compare with numbers and ``= != < <= > >=``; everything else with quoted text and
``= != LIKE ILIKE IN NOT IN``. Every error is a ``QueryError`` naming the column and what was expected.
"""

from __future__ import annotations

import math
import re

from studio.core.errors import QueryError
from studio.core.search.syntax import (
    ATTRIBUTE_ALIASES,
    ATTRIBUTES,
    NUMBER_OPS,
    PREFIXES,
    TEXT_OPS,
    Comparison,
    Filter,
    Key,
    Op,
    OrderKey,
    Value,
    key_text,
)

_WORD = re.compile(r"[A-Za-z_]\w*")
_BARE_NAME = re.compile(r"[\w.\-/]+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_SYMBOL_OPS: tuple[Op, ...] = ("!=", "<=", ">=", "=", "<", ">")
_ESCAPABLE = "\\'\"`"
_OPS_TEXT = "a comparator (= != < <= > >= LIKE ILIKE IN NOT IN)"
_KEY_TEXT = "a key such as metrics.acc, params.lr, tags.model, properties.x or attributes.status"


def parse_filter(text: str) -> Filter:
    """Parse ``metrics.acc > 0.9 AND params.lr = '0.01'``; empty or blank text is the empty filter."""
    parser = _Parser(text)
    comparisons = []
    if not parser.at_end():
        comparisons.append(parser.comparison())
        while not parser.at_end():
            word_at = parser.pos
            word = parser.word()
            if word != "AND":
                parser.pos = word_at
                why = "MLflow's search grammar has no OR; " if word == "OR" else ""
                raise parser.error('"AND" or the end of the filter', why)
            comparisons.append(parser.comparison())
    return Filter(tuple(comparisons))


def parse_order_by(text: str) -> OrderKey:
    """Parse ``metrics.acc DESC`` (ASC when no direction is given)."""
    parser = _Parser(text)
    key = parser.key()
    descending = False
    if not parser.at_end():
        word_at = parser.pos
        word = parser.word()
        if word not in ("ASC", "DESC"):
            parser.pos = word_at
            raise parser.error('"ASC", "DESC" or the end')
        descending = word == "DESC"
        if not parser.at_end():
            raise parser.error("the end after " + word)
    return OrderKey(key, descending)


def parse_key(text: str) -> Key:
    """Parse one key such as ``metrics.acc`` or ``tags.`team name``` (a column to show, say)."""
    parser = _Parser(text)
    key = parser.key()
    if not parser.at_end():
        raise parser.error("the end of the key")
    return key


def parse_keys(text: str) -> tuple[Key, ...]:
    """Parse comma-separated keys, ``metrics.acc,params.lr,tags.`a, b```; commas inside quotes don't split."""
    keys = []
    start, quote, i = 0, "", 0
    while i <= len(text):
        char = text[i] if i < len(text) else ","
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "`\"'":
            quote = char
        elif char == ",":
            item = text[start:i]
            if item.strip():
                try:
                    keys.append(parse_key(item))
                except QueryError as error:
                    raise QueryError(
                        f"In the key {item.strip()!r}: {error}",
                        position=start + error.position,
                        expected=error.expected,
                    ) from None
            start = i + 1
        i += 1
    return tuple(keys)


def to_text(query: Filter) -> str:
    """Canonical text of a filter: parses back to an equal Filter, and MLflow's own parser accepts it."""
    return " AND ".join(f"{key_text(c.key)} {c.op} {_value_text(c.value)}" for c in query.comparisons)


def order_text(order: OrderKey) -> str:
    """Canonical text of one order key, e.g. ``metrics.acc DESC``."""
    return f"{key_text(order.key)} {'DESC' if order.descending else 'ASC'}"


def _value_text(value: Value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_quote(v) for v in value) + ")"
    if isinstance(value, str):
        return _quote(value)
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(float(value))


def _quote(text: str) -> str:
    quote = '"' if "'" in text and '"' not in text else "'"
    return quote + _escape(text, quote) + quote


def _escape(text: str, quote: str) -> str:
    out = []
    for i, char in enumerate(text):
        if char == "\\" and (i + 1 == len(text) or text[i + 1] in _ESCAPABLE):
            out.append("\\\\")  # only where it would otherwise start an escape: 'C:\data' stays readable
        elif char == quote:
            out.append(quote * 2)
        else:
            out.append(char)
    return "".join(out)


class _Parser:
    """A cursor over the text; each method consumes one grammar element or raises QueryError."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def error(self, expected: str, why: str = "", at: int | None = None) -> QueryError:
        pos = self.pos if at is None else at
        rest = self.text[pos:]
        found = "the end" if not rest.strip() else repr(rest.split(None, 1)[0][:20])
        message = f"at column {pos + 1}: {why}expected {expected}, found {found}"
        return QueryError(message, position=pos, expected=expected)

    def word(self) -> str:
        """An upper-cased keyword, or "" when no word starts here."""
        self.skip_space()
        match = _WORD.match(self.text, self.pos)
        if not match:
            return ""
        self.pos = match.end()
        return match.group().upper()

    def comparison(self) -> Comparison:
        key = self.key()
        self.skip_space()
        op_at = self.pos
        op = self.op()
        allowed = NUMBER_OPS if key.numeric else TEXT_OPS
        if op not in allowed:
            kind = "numbers" if key.numeric else "quoted text"
            why = f"{key_text(key)} compares with {kind}, so {op} does not apply; "
            raise self.error("one of " + " ".join(allowed), why, at=op_at)
        return Comparison(key, op, self.value(key, op))

    def key(self) -> Key:
        self.skip_space()
        start = self.pos
        match = _WORD.match(self.text, self.pos)
        quoted = self.text[self.pos : self.pos + 1] in ("`", '"')
        if not match and not quoted:
            raise self.error(_KEY_TEXT)
        first = self.quoted() if quoted else match.group() if match else ""
        if not quoted:
            self.pos = match.end() if match else self.pos
        if self.text[self.pos : self.pos + 1] != ".":
            return Key("attributes", self._attribute(first, start))
        kind = PREFIXES.get(first.lower())
        if kind is None:
            raise self.error(_KEY_TEXT, at=start)
        self.pos += 1
        name = self.name()
        if kind == "attributes":
            name = self._attribute(name, start)
        return Key(kind, name)

    def _attribute(self, name: str, start: int) -> str:
        name = ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
        if name not in ATTRIBUTES:
            raise self.error(_KEY_TEXT + " (attributes: " + ", ".join(sorted(ATTRIBUTES)) + ")", at=start)
        return name

    def name(self) -> str:
        if self.text[self.pos : self.pos + 1] in ("`", '"'):
            return self.quoted()
        match = _BARE_NAME.match(self.text, self.pos)
        if not match:
            raise self.error("a name after the dot (quote names with spaces in `backticks`)")
        self.pos = match.end()
        return match.group()

    def quoted(self) -> str:
        """The text between the quote at pos and its closing twin, with escapes resolved."""
        start, quote = self.pos, self.text[self.pos]
        out, i = [], start + 1
        while i < len(self.text):
            char = self.text[i]
            if char == "\\" and i + 1 < len(self.text) and self.text[i + 1] in _ESCAPABLE:
                out.append(self.text[i + 1])
                i += 2
            elif char == quote and self.text[i + 1 : i + 2] == quote:
                out.append(quote)
                i += 2
            elif char == quote:
                self.pos = i + 1
                return "".join(out)
            else:
                out.append(char)
                i += 1
        raise self.error(f"a closing {quote} for the one here", at=start)

    def op(self) -> Op:
        for symbol in _SYMBOL_OPS:
            if self.text.startswith(symbol, self.pos):
                self.pos += len(symbol)
                return symbol
        word_at = self.pos
        word = self.word()
        if word in ("LIKE", "ILIKE", "IN"):
            return word  # type: ignore[return-value]  # narrowed by the test above
        if word == "NOT":
            if self.word() == "IN":
                return "NOT IN"
            raise self.error('"IN" after "NOT"')
        self.pos = word_at
        raise self.error(_OPS_TEXT)

    def value(self, key: Key, op: Op) -> Value:
        self.skip_space()
        if op in ("IN", "NOT IN"):
            return self.text_list(op)
        if key.numeric:
            match = _NUMBER.match(self.text, self.pos)
            if not match:
                raise self.error(f'a number after "{op}"', f"{key_text(key)} compares with numbers; ")
            self.pos = match.end()
            return float(match.group())
        return self.text_value(key, op)

    def text_value(self, key: Key | None, op: str) -> str:
        if self.text[self.pos : self.pos + 1] not in ("'", '"'):
            why = f"{key_text(key)} compares with quoted text; " if key else ""
            raise self.error(f"a quoted string after \"{op}\" (e.g. '0.01')", why)
        return self.quoted()

    def text_list(self, op: Op) -> tuple[str, ...]:
        if self.text[self.pos : self.pos + 1] != "(":
            raise self.error(f'"(" after "{op}"')
        self.pos += 1
        items: list[str] = []
        while True:
            self.skip_space()
            items.append(self.text_value(None, op if not items else ","))
            self.skip_space()
            char = self.text[self.pos : self.pos + 1]
            self.pos += 1
            if char == ")":
                return tuple(items)
            if char != ",":
                self.pos -= 1
                raise self.error('"," or ")" in the list')
