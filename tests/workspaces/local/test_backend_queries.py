"""The WorkspaceBackend read side: paging, filters, children, change tokens."""

from __future__ import annotations

from typing import Any

import pytest

from studio.core.backend import WorkspaceBackend
from studio.core.errors import NotFoundError
from studio.core.status import RunStatus
from studio.core.types import RunQuery
from studio.workspaces.local.backend import LocalBackend


def test_local_backend_implements_the_protocol(ws: Any) -> None:
    assert isinstance(ws.backend, WorkspaceBackend)
    info = ws.backend.info()
    assert info.kind == "local" and info.location == str(ws.path) and not info.read_only


def test_pages_newest_first_with_tokens(exp: Any, ws: Any) -> None:
    ids = [exp.start_logging().id for _ in range(25)]
    backend = ws.backend
    seen: list[str] = []
    token = None
    while True:
        page = backend.list_runs("exp", page_token=token, page_size=10)
        seen += [r.id for r in page.runs]
        if page.next_token is None:
            break
        token = page.next_token
    assert seen == ids[::-1]
    oldest = backend.list_runs("exp", RunQuery(newest_first=False), page_size=3).runs
    assert [r.id for r in oldest] == ids[:3]
    assert [r.number for r in oldest] == [1, 2, 3]
    assert backend.count_runs("exp") == 25


def test_filters_by_name_status_and_tag(exp: Any, ws: Any) -> None:
    # Run ids are "exp_<seconds>_<8 random hex digits>" and the text matches ids too, so every text below holds a
    # character no id can hold: "_50" alone matched an id whose random part began with "50" (1 time in 256).
    a = exp.start_logging(display_name="ResNet baseline")
    b = exp.start_logging(display_name="resnet_50% wider")
    c = exp.start_logging(display_name="transformer")
    d = exp.start_logging(display_name="net150")  # what "t_50" would match if "_" were a wildcard
    a.tag("lr", "0.01")
    c.tag("lr", "0.001")
    b.complete()
    backend = ws.backend

    def ids(query: RunQuery) -> set[str]:
        return {r.id for r in backend.list_runs("exp", query).runs}

    assert ids(RunQuery(text="resnet")) == {a.id, b.id}
    assert ids(RunQuery(text="50%")) == {b.id}  # LIKE wildcards are taken literally
    assert ids(RunQuery(text="t_50")) == {b.id}
    assert ids(RunQuery(text="t150")) == {d.id}
    assert ids(RunQuery(status=RunStatus.COMPLETED)) == {b.id}
    assert ids(RunQuery(tag="lr=0.0")) == {a.id, c.id}  # substring of "key=value"
    assert ids(RunQuery(tag="lr=0.01")) == {a.id}
    assert ids(RunQuery(tag="LR=0.001")) == {c.id}
    assert ids(RunQuery(text=c.id.rsplit("_", 1)[1])) == {c.id}  # the id matches too (its random part)
    assert backend.count_runs("exp", RunQuery(text="resnet")) == 2
    page = backend.list_runs("exp", RunQuery(tag="lr"))
    assert {r.id: r.tags for r in page.runs} == {a.id: {"lr": "0.01"}, c.id: {"lr": "0.001"}}


def test_experiment_summaries_and_unknown_names(exp: Any, ws: Any) -> None:
    exp.start_logging().child_run()
    exp.start_logging()
    [info] = ws.backend.list_experiments()
    assert info.name == "exp" and info.run_count == 2 and info.last_run_at is not None
    with pytest.raises(NotFoundError, match="no experiment"):
        ws.backend.list_runs("missing")
    with pytest.raises(NotFoundError, match="no run"):
        ws.backend.get_run("exp_1_unknown")
    with pytest.raises(NotFoundError, match="no metric"):
        ws.backend.get_series(exp.start_logging().id, "nothing")


def test_children_are_listed_and_counted(exp: Any, ws: Any) -> None:
    parent = exp.start_logging()
    kids = [parent.child_run(name=f"k{i}") for i in range(3)]
    backend = ws.backend
    assert backend.get_run(parent.id).child_count == 3
    assert [r.id for r in backend.list_children(parent.id)] == [k.id for k in kids]
    assert all(r.parent_id == parent.id for r in backend.list_children(parent.id))
    page = backend.list_runs("exp", RunQuery(parent_id=parent.id))
    assert [r.id for r in page.runs] == [k.id for k in kids][::-1]


def test_change_token_moves_on_every_kind_of_change(exp: Any, ws: Any, ws_path: Any) -> None:
    reader = LocalBackend(ws_path)  # a separate reader, as the GUI would have
    token = reader.change_token()
    run = exp.start_logging()
    assert reader.change_token() > token
    token = reader.change_token()
    run.log("x", 1.0)
    run.flush()
    assert reader.change_token() > token
    token = reader.change_token()
    run.tag("a", "b")
    assert reader.change_token() > token
    token = reader.change_token()
    run.complete()
    assert reader.change_token() > token
    token = reader.change_token()
    assert reader.change_token() == token  # nothing changed: same token
    reader.close()


def test_bad_page_token(exp: Any, ws: Any) -> None:
    with pytest.raises(NotFoundError, match="page token"):
        ws.backend.list_runs("exp", page_token="nonsense")


def test_changed_runs_since_a_token(exp: Any, ws: Any) -> None:
    backend = ws.backend
    start = backend.change_token()
    a = exp.start_logging()
    b = exp.start_logging()
    changed, token = backend.list_changed_runs(start)
    assert [r.id for r in changed] == [a.id, b.id] and token >= start
    assert backend.list_changed_runs(token) == ([], token)
    a.complete()
    changed, token2 = backend.list_changed_runs(token)
    assert [(r.id, r.status.value) for r in changed] == [(a.id, "Completed")]
    many = [exp.start_logging() for _ in range(5)]
    seen: list[str] = []
    token3 = token2
    while True:
        page, nxt = backend.list_changed_runs(token3, limit=2)
        if not page:
            break
        seen += [r.id for r in page]
        token3 = nxt
    assert seen == [r.id for r in many]


def test_set_run_metadata_edits_name_description_and_tags(exp: Any, ws: Any) -> None:
    run = exp.start_logging()
    run.tag("old", "1")
    info = ws.backend.set_run_metadata(run.id, display_name="renamed", description="why", tags={"new": "2"})
    assert (info.display_name, info.description, info.tags) == ("renamed", "why", {"new": "2"})
    with pytest.raises(ValueError):
        ws.backend.set_run_metadata(run.id, tags={"": "x"})
    assert ws.backend.get_run(run.id).tags == {"new": "2"}
