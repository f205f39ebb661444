"""Any filter's canonical text parses back to the same filter (what the MLflow kind sends on)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core.search import (
    NUMERIC_ATTRIBUTES,
    STRING_ATTRIBUTES,
    Comparison,
    Filter,
    Key,
    OrderKey,
    order_text,
    parse_filter,
    parse_order_by,
    to_text,
)

# Names and values with the characters that need quoting or escaping.
_TEXT = st.text(alphabet=st.sampled_from("ab Z_.-/09'\"`\\%é\t"), max_size=8)
_NAME = _TEXT.filter(bool)
_NUMBER = st.floats(allow_nan=False)


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    kind = draw(st.sampled_from(["metrics", "params", "tags", "properties", "attributes"]))
    if kind == "attributes":
        name = draw(st.sampled_from(sorted(NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES)))
    else:
        name = draw(_NAME)
    key = Key(kind, name)  # type: ignore[arg-type]
    if key.numeric:
        return Comparison(key, draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="])), draw(_NUMBER))
    op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]))
    if op in ("IN", "NOT IN"):
        return Comparison(key, op, tuple(draw(st.lists(_TEXT, min_size=1, max_size=3))))
    return Comparison(key, op, draw(_TEXT))


@settings(max_examples=300, deadline=None)
@given(st.lists(comparisons(), max_size=4))
def test_canonical_text_parses_back_to_the_same_filter(items: list[Comparison]) -> None:
    query = Filter(tuple(items))
    text = to_text(query)
    assert "\n" not in text
    assert parse_filter(text) == query


@settings(max_examples=100, deadline=None)
@given(comparisons(), st.booleans())
def test_order_text_parses_back(comparison: Comparison, descending: bool) -> None:
    order = OrderKey(comparison.key, descending)
    assert parse_order_by(order_text(order)) == order
