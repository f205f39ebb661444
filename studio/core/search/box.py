"""One filter box, two languages: quick words first, then MLflow's grammar (no Qt).

The rule: the MLflow part starts at the first whitespace-separated word that is a dotted key with a known prefix
(``metrics.acc``, ``params.`learning rate```, ``tags.model``, ``attr.status``, any of MLflow's prefix spellings,
case-insensitive) directly followed, spaces allowed, by a comparator (``= != < <= > >= LIKE ILIKE IN NOT IN``).
Everything before it is quick words (``resnet status:Failed tag:lr=0.01``), everything from it on is the filter.
So ``resnet metrics.acc > 0.9 and params.lr = '0.01'`` is the words ``resnet`` and a two-comparison filter, while
``tag:lr=0.01`` or a bare ``metrics.acc`` stay quick words. Bare MLflow attributes (``status = 'FAILED'``) start the
filter only after a dotted key (``attributes.status = 'FAILED'`` starts it), since ``status`` alone is a fine word.
"""

from __future__ import annotations

import re

from studio.core.search.syntax import PREFIXES

_PREFIX = "|".join(sorted(PREFIXES, key=len, reverse=True))
_FILTER_START = re.compile(
    rf"(?:^|(?<=\s))(?:{_PREFIX})\.(?:`(?:[^`\\]|\\.)*`|\"(?:[^\"\\]|\\.)*\"|[\w.\-/]+)"
    r"\s*(?:!=|<=|>=|=|<|>|(?:not\s+in|in|i?like)(?![\w.]))",
    re.IGNORECASE,
)


def split_box(text: str) -> tuple[str, str]:
    """``"resnet status:Failed metrics.acc > 0.9"`` -> ``("resnet status:Failed", "metrics.acc > 0.9")``.

    Both parts are stripped; either may be empty. The filter part is for ``parse_filter``, the words part for
    the quick-word parser the box had before.
    """
    match = _FILTER_START.search(text)
    if match is None:
        return text.strip(), ""
    return text[: match.start()].strip(), text[match.start() :].strip()
