"""plan_query: what goes to MLflow's runs/search, and a real server's answer holding every run Studio matches."""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.core.errors import QueryError
from studio.core.search import Comparison, Filter, Key, Op, apply_query, like_pattern, query_matches, to_text
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunQuery
from studio.workspaces.mlflow.rest import MlflowRestClient, Run
from studio.workspaces.mlflow.search_plan import HIDDEN_TAGS, MLFLOW_STATUS, ServerPlan, plan_query
from tests.mlflow_fixtures import MlflowFixture

TOP = "tags.`mlflow.parentRunId` IS NULL"


def pushed(filter_text: str) -> str:
    """The server filter for a top-level query with this filter, without the top-level clause."""
    plan = plan_query(RunQuery(filter=filter_text))
    assert not plan.nothing and plan.filter.startswith(TOP)
    return plan.filter[len(TOP) :].removeprefix(" AND ")


# parent and quick fields


def test_top_level_runs_are_asked_with_is_null_or_checked_on_the_client() -> None:
    assert plan_query(RunQuery()) == ServerPlan(TOP, ("attributes.start_time DESC",), False, False, ())
    old_server = plan_query(RunQuery(), top_level_is_null=False)
    assert old_server.filter == "" and old_server.client_parts == ("which runs are top-level",)
    assert old_server.note == (
        "The server cannot answer which runs are top-level; Studio checks it on the runs the server sends."
    )


def test_children_are_asked_by_their_parent_tag() -> None:
    assert plan_query(RunQuery(parent_id="abc123")).filter == "tags.`mlflow.parentRunId` = 'abc123'"
    odd = plan_query(RunQuery(parent_id="it's"))
    assert odd.filter == "" and odd.client_parts == ('which runs are children of "it\'s"',)


@pytest.mark.parametrize(("status", "name"), [(s, n) for s, n in MLFLOW_STATUS.items()])
def test_a_quick_status_goes_to_the_server_by_its_mlflow_name(status: RunStatus, name: str) -> None:
    plan = plan_query(RunQuery(status=status, parent_id="p"))
    assert plan.filter == f"tags.`mlflow.parentRunId` = 'p' AND attributes.status = '{name}'"
    assert plan.client_parts == () and plan.note == ""


def test_a_quick_status_mlflow_lacks_matches_nothing() -> None:
    assert plan_query(RunQuery(status=RunStatus.PREPARING)).nothing


def test_quick_words_and_tag_text_are_checked_on_the_client() -> None:
    plan = plan_query(RunQuery(text="resnet", tag="lr=0.01"))
    assert plan.filter == TOP
    assert plan.client_parts == ("the words 'resnet'", "tags containing 'lr=0.01'")
    assert plan.note == (
        "The server cannot answer the words 'resnet' and tags containing 'lr=0.01'; "
        "Studio checks them on the runs the server sends."
    )


# filter comparisons


PUSHED = [
    ("metrics.acc > 0.9", "metrics.`acc` > 0.9"),
    ("metrics.`val loss` <= 1e20 AND metrics.x >= -1.5", "metrics.`val loss` <= 1e20 AND metrics.`x` >= -1.5"),
    ("metrics.acc = 3", "metrics.`acc` = 3.0"),
    ("metrics.acc < 1e-05", "metrics.`acc` < 1e-05"),
    ("params.lr = '0.01'", "params.`lr` = '0.01'"),
    ("tags.`a.b` LIKE 'res%'", "tags.`a.b` LIKE 'res%'"),
    ("tags.model IN ('resnet')", "tags.`model` = 'resnet'"),
    ("tags.model ILIKE '%net'", "tags.`model` ILIKE '%net'"),
    # ILIKE: characters SQL's lower() folds unlike Python's IGNORECASE become "_" (any one character)
    ("tags.model ILIKE 'Kelvin'", "tags.`model` ILIKE '_elv_n'"),
    ("params.opt ILIKE 'café%'", "params.`opt` ILIKE 'caf_%'"),
    # LIKE: _ goes as % (MySQL's LIKE compares bytes); quote, backslash and [ become _
    ("params.p LIKE 'a_b'", "params.`p` LIKE 'a%b'"),
    (r"params.p LIKE '[x]\%'", "params.`p` LIKE '_x]_%'"),
    # = with a value MLflow cannot quote: a LIKE whose _ stand for those characters and for % and _
    ("params.q = 'it''s 50%_'", "params.`q` LIKE 'it_s 50__'"),
    ("attributes.run_name = 'alpha'", "attributes.run_name = 'alpha'"),
    (
        "run_name LIKE 'beta%' AND `Run name` ILIKE 'x'",
        "attributes.run_name LIKE 'beta%' AND attributes.run_name ILIKE 'x'",
    ),
    ("attributes.run_id = 'abc'", "attributes.run_id = 'abc'"),
    ("attributes.run_id IN ('a', 'b')", "attributes.run_id IN ('a', 'b')"),
    ("attributes.status = 'Completed'", "attributes.status = 'FINISHED'"),
    ("attributes.status IN ('Queued', 'Preparing')", "attributes.status = 'SCHEDULED'"),
    (
        "attributes.status IN ('Running', 'Completed')",
        "attributes.status != 'SCHEDULED' AND attributes.status != 'FAILED' AND attributes.status != 'KILLED'",
    ),
    ("attributes.status != 'Failed'", "attributes.status != 'FAILED'"),
    (
        "attributes.status LIKE 'C%'",
        "attributes.status != 'RUNNING' AND attributes.status != 'SCHEDULED' AND attributes.status != 'FAILED'",
    ),
    ("attributes.status NOT IN ('Preparing')", ""),
    # seconds to milliseconds, bounds rounded outwards
    ("attributes.start_time > 1700000000.5", "attributes.start_time >= 1700000000499"),
    ("attributes.created <= 1700000000.0004", "attributes.start_time <= 1700000000002"),
    (
        "attributes.end_time = 1700000000",
        "attributes.end_time >= 1699999999999 AND attributes.end_time <= 1700000000001",
    ),
]


@pytest.mark.parametrize(("studio", "mlflow"), PUSHED)
def test_superset_safe_comparisons_go_to_the_server(studio: str, mlflow: str) -> None:
    assert pushed(studio) == mlflow
    assert plan_query(RunQuery(filter=studio)).client_parts == ()


@pytest.mark.parametrize(
    ("studio", "part"),
    [
        ("metrics.acc != 0.5", "metrics.acc != 0.5"),
        ("metrics.acc < 1e999", "metrics.acc < 1e999"),
        ("params.lr != '0.01'", "params.lr != '0.01'"),
        ("tags.model IN ('a', 'b')", "tags.model IN ('a', 'b')"),
        ("tags.model NOT IN ('a')", "tags.model NOT IN ('a')"),
        ("attributes.run_name != 'x'", "attributes.run_name != 'x'"),
        ("attributes.run_id LIKE 'ab%'", "attributes.run_id LIKE 'ab%'"),
        ("attributes.run_id IN ('a', 'it''s')", "attributes.run_id IN ('a', \"it's\")"),
        ("attributes.duration > 5", "attributes.duration > 5.0"),
        ("attributes.start_time != 5", "attributes.start_time != 5.0"),
        ("attributes.start_time > 1e15", "attributes.start_time > 1000000000000000.0"),
        ("tags.`a\\`b` = 'x'", "tags.`a\\`b` = 'x'"),
    ],
)
def test_what_the_server_cannot_answer_is_a_client_part(studio: str, part: str) -> None:
    plan = plan_query(RunQuery(filter=studio))
    assert plan.filter == TOP and plan.client_parts == (part,)
    assert plan.note == f"The server cannot answer {part}; Studio checks it on the runs the server sends."


def test_client_parts_and_pushed_clauses_mix() -> None:
    plan = plan_query(RunQuery(filter="metrics.acc > 0.9 AND tags.model IN ('a', 'b') AND params.lr = '0.1'"))
    assert plan.filter == f"{TOP} AND metrics.`acc` > 0.9 AND params.`lr` = '0.1'"
    assert plan.client_parts == ("tags.model IN ('a', 'b')",)


@pytest.mark.parametrize(
    "studio",
    [
        "properties.x = 'a'",
        "properties.x != 'a'",
        "properties.x NOT IN ('a')",
        "metrics.acc > 0 AND properties.`any key` LIKE '%'",
        "attributes.status = 'Preparing'",
        "attributes.status = 'completed'",  # = is case-sensitive: no run's status is spelled so
        "attributes.status IN ('NotStarted', 'Finalizing')",
    ],
)
def test_a_comparison_no_mlflow_run_can_pass_means_nothing(studio: str) -> None:
    assert plan_query(RunQuery(filter=studio, text="x", order_by=("attributes.status",))).nothing


def test_a_malformed_filter_or_order_raises_query_error() -> None:
    with pytest.raises(QueryError, match="column"):
        plan_query(RunQuery(filter="metrics.acc >"))
    with pytest.raises(QueryError, match="In the order"):
        plan_query(RunQuery(order_by=("metrics.acc UP",)))


# order


ORDERS = [
    ((), ("attributes.start_time DESC",)),
    (("metrics.`val loss` DESC",), ("metrics.`val loss` DESC",)),
    (("params.lr", "tags.`a.b` DESC"), ("params.`lr` ASC", "tags.`a.b` DESC")),
    (("attributes.created ASC", "attributes.start_time DESC"), ("attributes.start_time ASC",)),
    (("run_name DESC", "attributes.end_time"), ("attributes.run_name DESC", "attributes.end_time ASC")),
    (("properties.x", "metrics.acc ASC", "metrics.acc DESC"), ("metrics.`acc` ASC",)),
    (("properties.x DESC",), ("attributes.start_time DESC",)),
    (("tags.`mlflow.runName` ASC", "metrics.acc DESC"), ("metrics.`acc` DESC",)),
]


@pytest.mark.parametrize(("order", "mlflow"), ORDERS)
def test_orders_the_server_can_follow_go_to_it(order: tuple[str, ...], mlflow: tuple[str, ...]) -> None:
    plan = plan_query(RunQuery(order_by=order))
    assert (plan.order_by, plan.client_order, plan.client_parts) == (mlflow, False, ())


def test_oldest_first_without_an_order_is_start_time_ascending() -> None:
    assert plan_query(RunQuery(newest_first=False)).order_by == ("attributes.start_time ASC",)


@pytest.mark.parametrize(
    ("order", "part"),
    [
        (("attributes.status",), "order by attributes.status"),
        (("metrics.acc DESC", "attributes.duration"), "order by attributes.duration"),
        (("attributes.run_id DESC", "attributes.status"), "order by attributes.run_id, attributes.status"),
        (("params.`it's`",), "order by params.`it's`"),
    ],
)
def test_orders_the_server_cannot_follow_are_sorted_on_the_client(order: tuple[str, ...], part: str) -> None:
    plan = plan_query(RunQuery(order_by=order, filter="metrics.acc > 1"))
    assert plan.client_order and plan.order_by == () and plan.client_parts == (part,)
    assert plan.filter == f"{TOP} AND metrics.`acc` > 1.0"
    assert plan.note == f"The server cannot answer {part}; Studio sorts the runs the server sends."


def test_the_note_names_checks_and_the_order_together() -> None:
    plan = plan_query(RunQuery(text="a", filter="params.p != 'x'", order_by=("attributes.status",)))
    assert plan.note == (
        "The server cannot answer the words 'a', params.p != 'x' and order by attributes.status; "
        "Studio checks and sorts the runs the server sends."
    )


def test_mlflows_own_parser_reads_every_filter_and_order_sent() -> None:
    search_utils = pytest.importorskip("mlflow.utils.search_utils").SearchUtils
    for _, mlflow in PUSHED:
        parsed = search_utils.parse_search_filter(f"{TOP} AND {mlflow}" if mlflow else TOP)
        assert len(parsed) == 1 + (mlflow.count(" AND ") + 1 if mlflow else 0)
    for _, items in ORDERS:
        for item in items:
            search_utils.parse_order_by_for_search_runs(item)


# the loosened clauses keep every run, checked directly


@given(seconds=st.floats(-1e12, 1e12), delta_ms=st.integers(-3, 3), op=st.sampled_from(["<", "<=", ">", ">=", "="]))
def test_time_bounds_keep_every_run_studio_keeps(seconds: float, delta_ms: int, op: str) -> None:
    query = RunQuery(filter=f"attributes.start_time {op} {seconds!r}")
    bounds = re.findall(r"attributes\.start_time (>=|<=) (-?\d+)", plan_query(query).filter)
    assert bounds
    for ms in (math.floor(seconds * 1000) + delta_ms, math.ceil(seconds * 1000) + delta_ms):
        run = RunInfo("r", "e", 0, "r", RunStatus.COMPLETED, created_at=ms / 1000, started_at=ms / 1000)
        if query_matches(query, run):
            assert all(ms >= int(b) if o == ">=" else ms <= int(b) for o, b in bounds), (ms, bounds)


# Non-ASCII letters Python's IGNORECASE matches with ASCII ones (Kelvin sign, long s, dotless i, dotted I), and é.
_TWINS = "\u212a\u017f\u0131\u0130é"


@st.composite
def _like_cases(draw: st.DrawFn) -> tuple[str, str, Op]:
    """(pattern, value, op): a value, and a pattern made from it that Studio usually matches against it."""
    value = draw(st.text(alphabet="akKsSiI_%'\\[] " + _TWINS, max_size=6))
    choices = [st.sampled_from([c, c.swapcase(), "_", "%", "%" + c]) for c in value]
    pattern = "".join(draw(st.tuples(*choices))) if choices else draw(st.sampled_from(["", "%"]))
    return pattern, value, draw(st.sampled_from(["LIKE", "ILIKE", "="]))


@given(case=_like_cases())
def test_patterns_sent_to_sqlite_keep_every_value_studio_keeps(case: tuple[str, str, Op]) -> None:
    """SQLite as MLflow sets it up (case-sensitive LIKE; ILIKE as lower() LIKE lower())."""
    pattern, value, op = case
    studio = value == pattern if op == "=" else like_pattern(pattern, op == "ILIKE").fullmatch(value) is not None
    if not studio:
        return
    clause = pushed(to_text(Filter((Comparison(Key("params", "p"), op, pattern),)))).removeprefix("params.`p` ")
    sent_op, sent = clause.split(" ", 1)
    sent = sent[1:-1]
    with sqlite3.connect(":memory:") as db:
        db.execute("PRAGMA case_sensitive_like = true")
        if sent_op == "=":
            kept = db.execute("SELECT ? = ?", (value, sent)).fetchone()[0]
        elif sent_op == "LIKE":
            kept = db.execute("SELECT ? LIKE ?", (value, sent)).fetchone()[0]
        else:
            kept = db.execute("SELECT lower(?) LIKE lower(?)", (value, sent)).fetchone()[0]
    assert kept, (pattern, value, clause)


# against a real server


T0_MS = 1_700_000_000_000
STUDIO_STATUS = {name: status for status, name in MLFLOW_STATUS.items()}
NAN, INF = float("nan"), float("inf")


@dataclass(frozen=True)
class Planned:
    """The plan-test experiment on the shared server: its id, run ids by name, times by name."""

    experiment_id: str
    ids: dict[str, str]
    start_s: dict[str, float]
    end_s: dict[str, float]


# name: (MLflow status, params, tags, metrics, parent name); runs start 1.5 s apart, in this order
RUNS: dict[str, tuple[str, dict[str, str], dict[str, str], dict[str, float], str]] = {
    "alpha": (
        "FINISHED",
        {"lr": "0.01", "opt": "adam"},
        {"model": "resnet", "a.b": "x"},
        {"acc": 0.9, "val loss": 0.3},
        "",
    ),
    "Alpha": ("FAILED", {"lr": "0.1", "opt": "it's"}, {"model": "ResNet"}, {"acc": NAN}, ""),
    "beta_1": ("KILLED", {"opt": "a\\b"}, {"model": "vit", "note x": "50%_off"}, {"acc": INF}, ""),
    "gamma%": ("RUNNING", {"opt": "[x]"}, {"model": "\u212aelvin"}, {"acc": -INF}, ""),
    "\u017fun": ("SCHEDULED", {"opt": "Café"}, {"é": "ünï"}, {"acc": 0.0}, ""),
    "it's": ("FINISHED", {"opt": "MiXeD"}, {}, {"acc": -1.5, "val loss": 0.3}, ""),
    "delta": ("FINISHED", {"lr": "0.01"}, {"model": "resnet"}, {"acc": 0.9}, ""),
    "child": ("FINISHED", {"lr": "0.01"}, {"model": "resnet"}, {"acc": 0.95}, "alpha"),
    "child2": ("FAILED", {}, {"model": "vit"}, {"acc": 0.1}, "alpha"),
    "eps": ("FINISHED", {"opt": "50%_off"}, {"model": "res_net"}, {"val loss": 1e20}, ""),
    "zeta": ("FINISHED", {}, {}, {}, ""),
    "\u0131ota": ("FINISHED", {"opt": "\u0131ota"}, {"model": "\u0130nception"}, {"acc": 0.5}, ""),
}


@pytest.fixture(scope="module")
def planned(mlflow_server: MlflowFixture) -> Iterator[Planned]:
    """An experiment of varied runs (NaN and infinite metrics, odd characters, every status, children).

    It is deleted at the end of the module, so tests that list the shared server's experiments do not see it.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(mlflow_server.url)
    experiment = client.create_experiment("search-plan")
    ids: dict[str, str] = {}
    start_s: dict[str, float] = {}
    end_s: dict[str, float] = {}
    for i, (name, (status, params, tags, metrics, parent)) in enumerate(RUNS.items()):
        start = T0_MS + 1500 * i
        all_tags = {**tags, "mlflow.parentRunId": ids[parent]} if parent else tags
        run = client.create_run(experiment, start_time=start, run_name=name, tags=all_tags).info.run_id
        ids[name], start_s[name] = run, start / 1000
        client.log_batch(
            run,
            metrics=[Metric(k, v, start, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        if status == "SCHEDULED":
            client.update_run(run, status=status)
        elif status != "RUNNING":
            client.set_terminated(run, status, end_time=start + 700)
            end_s[name] = (start + 700) / 1000
    yield Planned(experiment, ids, start_s, end_s)
    client.delete_experiment(experiment)


def queries(planned: Planned) -> list[RunQuery]:
    """Varied queries over the plan-test experiment: each rule of plan_query, its edges, and orders."""
    t, ids = planned.start_s, planned.ids
    filters = [
        "",
        "metrics.acc > 0.5",
        "metrics.acc >= 0.9 AND metrics.acc <= 0.9",
        "metrics.acc = 0.9",
        "metrics.acc < 0",
        "metrics.acc <= -1.5",
        "metrics.acc != 0.9",
        "metrics.acc > 1e300",
        "metrics.acc < 1e999",
        "metrics.`val loss` > 1e19",
        "params.lr = '0.01'",
        "params.opt = 'it''s'",
        r"params.opt = 'a\\b'",
        "params.opt LIKE '[%'",
        r"params.opt LIKE '%\%'",
        "params.opt LIKE '50%_off'",
        "params.opt ILIKE 'cafÉ'",
        "params.opt ILIKE 'mixed'",
        "params.opt ILIKE 'IOTA'",
        "params.opt != 'adam'",
        "tags.model ILIKE 'kelvin'",
        "tags.model ILIKE 'inception'",
        "tags.model LIKE 'res_net'",
        "tags.model IN ('resnet')",
        "tags.model IN ('resnet', 'vit')",
        "tags.model NOT IN ('resnet')",
        "tags.`a.b` = 'x'",
        "tags.`note x` LIKE '50%'",
        "tags.`é` = 'ünï'",
        "tags.`mlflow.runName` = 'alpha'",
        "attributes.run_name ILIKE 'SUN'",
        "attributes.run_name LIKE 'beta_%'",
        "attributes.run_name = 'it''s'",
        "attributes.run_name LIKE '%a'",
        "attributes.run_name != 'alpha'",
        "attributes.status = 'Completed'",
        "attributes.status IN ('Running', 'Queued')",
        "attributes.status != 'Failed'",
        "attributes.status NOT IN ('Completed', 'Failed')",
        "attributes.status LIKE '%e%'",
        "attributes.status = 'Preparing'",
        f"attributes.run_id = '{ids['delta']}'",
        f"attributes.run_id IN ('{ids['delta']}', '{ids['eps']}', '{ids['child']}')",
        f"attributes.start_time >= {t['beta_1']!r}",
        f"attributes.created > {t['beta_1']!r}",
        f"attributes.start_time = {t['gamma%']!r}",
        f"attributes.start_time < {t['gamma%'] + 0.0005!r}",
        f"attributes.end_time <= {planned.end_s['alpha']!r}",
        "attributes.end_time > 0",
        "attributes.duration >= 0.7",
        "properties.x != 'a'",
        "metrics.acc > 0 AND params.lr = '0.01' AND tags.model LIKE 'res%'",
    ]
    orders = [
        ("metrics.acc DESC",),
        ("metrics.acc ASC",),
        ("metrics.`val loss` ASC", "attributes.run_name DESC"),
        ("params.opt ASC",),
        ("params.opt DESC",),
        ("tags.model DESC", "metrics.acc ASC"),
        ("attributes.end_time ASC",),
        ("attributes.end_time DESC",),
        ("attributes.created ASC",),
        ("attributes.start_time DESC", "attributes.created ASC"),
        ("properties.x ASC", "metrics.acc DESC"),
        ("attributes.status ASC",),
        ("attributes.run_name ASC",),
        ("tags.`mlflow.runName` DESC",),
        ("metrics.acc DESC", "metrics.acc ASC"),
    ]
    found = [RunQuery(filter=f) for f in filters]
    found += [RunQuery(order_by=o) for o in orders]
    found += [RunQuery(filter="metrics.acc > -1e300", order_by=o) for o in orders[:6]]
    found += [
        RunQuery(newest_first=False),
        RunQuery(text="alp"),
        RunQuery(tag="model=res"),
        RunQuery(status=RunStatus.FAILED),
        RunQuery(status=RunStatus.PREPARING),
        RunQuery(parent_id=ids["alpha"]),
        RunQuery(parent_id=ids["alpha"], order_by=("metrics.acc DESC",), filter="tags.model != 'x'"),
    ]
    return found


def run_info(run: Run) -> RunInfo:
    """An MLflow run as the backend maps it (see the brief of issue 11)."""
    start = None if run.start_time_ms is None else run.start_time_ms / 1000
    return RunInfo(
        id=run.run_id,
        experiment="search-plan",
        number=0,
        display_name=run.run_name,
        status=STUDIO_STATUS[run.status],
        created_at=start or 0.0,
        started_at=start,
        ended_at=None if run.end_time_ms is None else run.end_time_ms / 1000,
        parent_id=run.parent_run_id,
        description=run.description,
        tags={k: v for k, v in run.tags.items() if k not in HIDDEN_TAGS},
        params=dict(run.params),
        metrics={k: m.value for k, m in run.metrics.items()},
    )


def search_all(client: MlflowRestClient, experiment_id: str, plan_filter: str, order_by: tuple[str, ...]) -> list[Run]:
    """Every run the server answers, in pages of 5 (so paging keeps the order too)."""
    found: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], filter=plan_filter, order_by=order_by, max_results=5, page_token=token
        )
        found.extend(page.items)
        token = page.next_page_token
        if not token:
            return found


def test_the_servers_answer_holds_every_run_studio_matches_in_studios_order(
    mlflow_server: MlflowFixture, planned: Planned
) -> None:
    """Each plan's filter and order are accepted (a refusal raises), and, re-checked as the backend re-checks,
    the answer is exactly what apply_query finds among all runs, in the same order unless the client sorts."""
    failures: list[tuple[object, ...]] = []
    matched = narrowed = 0
    answers: dict[tuple[str, tuple[str, ...]], list[RunInfo]] = {}
    all_queries = queries(planned)
    with MlflowRestClient(mlflow_server.url) as client:
        everything = search_all(client, planned.experiment_id, "", ("attributes.start_time ASC",))
        runs = [run_info(r) for r in everything]
        assert len(runs) == len(RUNS)
        for query in all_queries:
            expected = [r.id for r in apply_query(query, runs) if r.parent_id == query.parent_id]
            matched += bool(expected)
            for top_level_is_null in (True, False):
                plan = plan_query(query, top_level_is_null=top_level_is_null)
                if plan.nothing:
                    if expected:
                        failures.append((query, "nothing", expected))
                    continue
                order = () if plan.client_order else plan.order_by
                if (plan.filter, order) not in answers:
                    answers[plan.filter, order] = [
                        run_info(r) for r in search_all(client, planned.experiment_id, plan.filter, order)
                    ]
                answer = answers[plan.filter, order]
                narrowed += len(answer) < len(runs)
                kept = [r.id for r in answer if query_matches(query, r) and r.parent_id == query.parent_id]
                if set(kept) != set(expected) or (not plan.client_order and kept != expected):
                    failures.append((query, plan, kept, expected))
    assert failures == []
    assert matched >= len(all_queries) * 2 // 3  # the queries mostly match something: the check is not empty
    assert narrowed >= len(all_queries)  # and the server's filters do narrow the answer
