"""MLflow's filter grammar: what parses to what, and what each malformed filter says."""

from __future__ import annotations

import pytest

from studio.core.errors import QueryError, StudioError
from studio.core.search import Comparison, Filter, Key, OrderKey, parse_filter, parse_order_by, to_text

M, P, T, PR, A = "metrics", "params", "tags", "properties", "attributes"


def one(kind: str, name: str, op: str, value: object) -> Filter:
    return Filter((Comparison(Key(kind, name), op, value),))  # type: ignore[arg-type]


PARSES = [
    ("", Filter()),
    ("   ", Filter()),
    ("metrics.acc = 1", one(M, "acc", "=", 1.0)),
    ("metrics.acc != 1", one(M, "acc", "!=", 1.0)),
    ("metrics.acc < 1", one(M, "acc", "<", 1.0)),
    ("metrics.acc <= 1", one(M, "acc", "<=", 1.0)),
    ("metrics.acc > 1", one(M, "acc", ">", 1.0)),
    ("metrics.acc >= 1", one(M, "acc", ">=", 1.0)),
    ("metrics.acc>=0.5", one(M, "acc", ">=", 0.5)),
    ("metrics.loss < -2.5", one(M, "loss", "<", -2.5)),
    ("metrics.loss < 1e-3", one(M, "loss", "<", 0.001)),
    ("metrics.loss < -1.5E+2", one(M, "loss", "<", -150.0)),
    ("metrics.loss < .5", one(M, "loss", "<", 0.5)),
    ("metrics.loss < +3", one(M, "loss", "<", 3.0)),
    ("params.lr = '0.01'", one(P, "lr", "=", "0.01")),
    ('params.lr != "0.01"', one(P, "lr", "!=", "0.01")),
    ("params.model LIKE 'res%'", one(P, "model", "LIKE", "res%")),
    ("params.model ILIKE '%NET_'", one(P, "model", "ILIKE", "%NET_")),
    ("tags.model IN ('a', 'b')", one(T, "model", "IN", ("a", "b"))),
    ("tags.model NOT IN ('a')", one(T, "model", "NOT IN", ("a",))),
    ("tags.model not   in('a','b' )", one(T, "model", "NOT IN", ("a", "b"))),
    ("properties.gpu = 'A100'", one(PR, "gpu", "=", "A100")),
    ("attributes.status = 'FAILED'", one(A, "status", "=", "FAILED")),
    ("attributes.run_id IN ('x', 'y')", one(A, "run_id", "IN", ("x", "y"))),
    ("attributes.start_time > 1700000000", one(A, "start_time", ">", 1.7e9)),
    ("attributes.duration >= 60", one(A, "duration", ">=", 60.0)),
    ("attributes.created < 5", one(A, "created", "<", 5.0)),
    ("attributes.end_time <= 5", one(A, "end_time", "<=", 5.0)),
    # MLflow's prefix spellings, case-insensitive keywords and attribute aliases
    ("metric.acc > 1", one(M, "acc", ">", 1.0)),
    ("param.lr = 'x'", one(P, "lr", "=", "x")),
    ("parameters.lr = 'x'", one(P, "lr", "=", "x")),
    ("tag.lr = 'x'", one(T, "lr", "=", "x")),
    ("attribute.status = 'x'", one(A, "status", "=", "x")),
    ("attr.status = 'x'", one(A, "status", "=", "x")),
    ("run.status = 'x'", one(A, "status", "=", "x")),
    ("status = 'x'", one(A, "status", "=", "x")),
    ("`Run name` = 'x'", one(A, "run_name", "=", "x")),
    ("attributes.`run name` = 'x'", one(A, "run_name", "=", "x")),
    ("Created > 3", one(A, "created", ">", 3.0)),
    ("METRICS.acc > 1", one(M, "acc", ">", 1.0)),
    ("params.m like 'x'", one(P, "m", "LIKE", "x")),
    ("params.m iLike 'x'", one(P, "m", "ILIKE", "x")),
    # names: dots, backticks, double quotes
    ("tags.mlflow.runName = 'r'", one(T, "mlflow.runName", "=", "r")),
    ("metrics.`val loss` < 0.3", one(M, "val loss", "<", 0.3)),
    ('metrics."val loss" < 0.3', one(M, "val loss", "<", 0.3)),
    ("metrics.`a.b c` < 0.3", one(M, "a.b c", "<", 0.3)),
    ("metrics.train/loss < 1", one(M, "train/loss", "<", 1.0)),
    ("metrics.`tick\\`s` < 1", one(M, "tick`s", "<", 1.0)),
    # escapes in values
    ("params.a = 'it''s'", one(P, "a", "=", "it's")),
    ("params.a = 'it\\'s'", one(P, "a", "=", "it's")),
    ('params.a = "say ""hi"""', one(P, "a", "=", 'say "hi"')),
    ("params.a = 'C:\\data'", one(P, "a", "=", "C:\\data")),
    ("params.a = 'back\\\\slash'", one(P, "a", "=", "back\\slash")),
    ("params.a = ''", one(P, "a", "=", "")),
]


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[t for t, _ in PARSES])
def test_filters_parse_to_their_comparisons(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected
    assert parse_filter(to_text(expected)) == expected


def test_comparisons_join_with_and_in_any_case() -> None:
    parsed = parse_filter("metrics.acc > 0.9 AND params.lr = '0.01' and tags.m LIKE 'r%'")
    assert [c.key for c in parsed.comparisons] == [Key(M, "acc"), Key(P, "lr"), Key(T, "m")]
    assert to_text(parsed) == "metrics.acc > 0.9 AND params.lr = '0.01' AND tags.m LIKE 'r%'"


def test_canonical_text_quotes_names_mlflow_cannot_read_bare() -> None:
    text = to_text(one(M, "val loss", "<", 0.3))
    assert text == "metrics.`val loss` < 0.3"
    assert to_text(one(P, "a", "=", "it's")) == 'params.a = "it\'s"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc", OrderKey(Key(M, "acc"))),
        ("metrics.acc DESC", OrderKey(Key(M, "acc"), True)),
        ("metrics.acc asc", OrderKey(Key(M, "acc"), False)),
        ("params.`learning rate` desc", OrderKey(Key(P, "learning rate"), True)),
        ("attributes.start_time DESC", OrderKey(Key(A, "start_time"), True)),
        ("  tags.mlflow.runName  ", OrderKey(Key(T, "mlflow.runName"))),
    ],
)
def test_order_by_parses_key_and_direction(text: str, expected: OrderKey) -> None:
    assert parse_order_by(text) == expected


ERRORS = [
    # (text, 1-based column, words the expected-what contains)
    ("metrics.acc >> 0.3", 14, 'a number after ">"'),
    ("metrics.acc", 12, "a comparator"),
    ("metrics.acc == 1", 14, 'a number after "="'),
    ("metrics.acc > 'x'", 15, "a number"),
    ("metrics.acc LIKE '%'", 13, "one of = != < <= > >="),
    ("metrics.acc IN ('a')", 13, "one of = != < <= > >="),
    ("params.lr < '1'", 11, "one of = != LIKE ILIKE IN NOT IN"),
    ("params.lr = 0.01", 13, "a quoted string"),
    ("params.lr = 'open", 13, "a closing '"),
    ("metrics.`val loss < 1", 9, "a closing `"),
    ("metrics. > 1", 9, "a name after the dot"),
    ("foo.bar = 'x'", 1, "a key such as"),
    ("attributes.colour = 'x'", 1, "attributes: created, duration"),
    ("colour = 'x'", 1, "a key such as"),
    ("metrics.a > 1 OR metrics.b > 2", 15, '"AND" or the end'),
    ("metrics.a > 1 metrics.b > 2", 15, '"AND" or the end'),
    ("metrics.a > 1 AND", 18, "a key such as"),
    ("metrics.a > 1 AND AND metrics.b > 1", 19, "a key such as"),
    ("tags.m IN 'a'", 11, '"(" after "IN"'),
    ("tags.m IN ()", 12, "a quoted string"),
    ("tags.m IN ('a' 'b')", 16, '"," or ")"'),
    ("tags.m IN ('a',", 16, "a quoted string"),
    ("tags.m NOT LIKE 'a'", 16, '"IN" after "NOT"'),
    ("metrics.a > 1abc", 13, "a number"),
    ("(metrics.a > 1)", 1, "a key such as"),
    ("metrics.a ~ 1", 11, "a comparator"),
    ("metrics.a > 1\nAND\nmetrics.b", 28, "a comparator"),
]


@pytest.mark.parametrize(("text", "column", "expected"), ERRORS, ids=[t for t, _, _ in ERRORS])
def test_malformed_filters_name_the_column_and_what_was_expected(text: str, column: int, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_filter(text)
    error = caught.value
    assert isinstance(error, StudioError)
    assert isinstance(error, ValueError)
    assert error.position == column - 1
    assert expected in error.expected
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"at column {column}: ")


def test_type_errors_name_the_key() -> None:
    with pytest.raises(QueryError, match=r"metrics\.`val loss` compares with numbers, so LIKE"):
        parse_filter("metrics.`val loss` LIKE 'x'")
    with pytest.raises(QueryError, match=r"params\.lr compares with quoted text; expected a quoted string"):
        parse_filter("params.lr = 3")


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("metrics.acc DOWN", 13, '"ASC", "DESC" or the end'),
        ("metrics.acc DESC ASC", 18, "the end after DESC"),
        ("", 1, "a key such as"),
        ("nope.acc", 1, "a key such as"),
    ],
)
def test_malformed_orders_raise_query_error(text: str, column: int, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_order_by(text)
    assert caught.value.position == column - 1
    assert expected in caught.value.expected


def test_keys_print_as_their_canonical_text() -> None:
    assert str(Key(M, "acc")) == "metrics.acc"
    assert str(Key(T, "mlflow.runName")) == "tags.mlflow.runName"
    assert str(Key(M, "val loss")) == "metrics.`val loss`"
    assert str(Key(M, "a`b\\c")) == "metrics.`a\\`b\\\\c`"
