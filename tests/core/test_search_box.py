"""The filter box: quick words first, MLflow's grammar from the first dotted key with a comparator."""

from __future__ import annotations

import pytest

from studio.core.search import parse_filter, split_box


@pytest.mark.parametrize(
    ("text", "words", "query"),
    [
        ("", "", ""),
        ("resnet status:Failed tag:lr=0.01", "resnet status:Failed tag:lr=0.01", ""),
        ("metrics.acc > 0.9", "", "metrics.acc > 0.9"),
        ("resnet metrics.acc>0.9", "resnet", "metrics.acc>0.9"),
        (
            "resnet status:Failed metrics.acc > 0.9 and params.lr = '0.01'",
            "resnet status:Failed",
            "metrics.acc > 0.9 and params.lr = '0.01'",
        ),
        ("resnet params.`learning rate` LIKE '0.0%'", "resnet", "params.`learning rate` LIKE '0.0%'"),
        ("x TAGS.model in ('a')", "x", "TAGS.model in ('a')"),
        ("x tags.model not in ('a')", "x", "tags.model not in ('a')"),
        ("x attr.status ilike 'f%'", "x", "attr.status ilike 'f%'"),
        # not a filter start: no comparator, an unknown prefix, a word that only begins like a keyword
        ("metrics.acc", "metrics.acc", ""),
        ("resnet.v2 = 3", "resnet.v2 = 3", ""),
        ("params.lr inside", "params.lr inside", ""),
        ("xmetrics.acc > 1", "xmetrics.acc > 1", ""),
    ],
)
def test_box_splits_into_quick_words_and_a_filter(text: str, words: str, query: str) -> None:
    assert split_box(text) == (words, query)


def test_the_filter_part_parses() -> None:
    _, query = split_box("resnet status:Failed metrics.acc > 0.9 AND tags.m = 'x'")
    assert len(parse_filter(query).comparisons) == 2
