"""MLflow's run search grammar for every workspace kind: parse once, then SQL, pass-through or Python (no Qt).

``parse_filter`` / ``parse_order_by`` build frozen ``Filter`` / ``OrderKey`` values (errors are ``QueryError``),
``to_text`` gives their canonical text, ``matches`` / ``sort_key`` evaluate them on a ``RunView``, and
``split_box`` separates the filter box's quick words from its MLflow part. ``compile_query`` / ``apply_query`` /
``query_matches`` do the same for a whole ``RunQuery`` (quick words too), ``query_from_box`` reads the box.
"""

from studio.core.search.box import split_box
from studio.core.search.evaluate import RunValues, RunView, like_pattern, lookup, matches, run_values, sort_key
from studio.core.search.parser import order_text, parse_filter, parse_key, parse_keys, parse_order_by, to_text
from studio.core.search.query import (
    CompiledQuery,
    apply_query,
    compile_query,
    query_from_box,
    query_matches,
    quick_matches,
    run_keys_of,
)
from studio.core.search.syntax import (
    ATTRIBUTES,
    NUMERIC_ATTRIBUTES,
    STRING_ATTRIBUTES,
    Comparison,
    Filter,
    Key,
    KeyKind,
    Op,
    OrderKey,
    Value,
    key_text,
)

__all__ = [
    "ATTRIBUTES",
    "NUMERIC_ATTRIBUTES",
    "STRING_ATTRIBUTES",
    "Comparison",
    "CompiledQuery",
    "Filter",
    "Key",
    "KeyKind",
    "Op",
    "OrderKey",
    "RunValues",
    "RunView",
    "Value",
    "apply_query",
    "compile_query",
    "key_text",
    "like_pattern",
    "lookup",
    "matches",
    "order_text",
    "parse_filter",
    "parse_key",
    "parse_keys",
    "parse_order_by",
    "query_from_box",
    "query_matches",
    "quick_matches",
    "run_keys_of",
    "run_values",
    "sort_key",
    "split_box",
    "to_text",
]
