"""`studio://` links: the SDK writes them, `--open-run` and `studio <link>` read them, old links still open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.cli import main
from studio.commands.run_location import link_as_open_run, split_run_location
from studio.core.studio_links import StudioLink, experiment_link, parse_link, run_link
from studio.sdk import Experiment, Workspace
from studio.workspaces import resolve_location

LOCATIONS = [
    "/home/me/work/ws",
    "/home/me/my experiments/ws #2 & more+100%?",
    "/home/me/données/ws",
    r"C:\Users\Me\My Workspaces\ws",
    "mlflow+https://tracking.example.test:5000/prefix",
    "mlflow+http://127.0.0.1:5000",
    "azureml://subscriptions/5f2c9a41-0000-4000-8000-00000000a0b1/resourcegroups/studio-rg/workspaces/studio-ws",
]


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_run_link_names_its_workspace_and_run_whatever_the_location(location: str) -> None:
    link = run_link(location, "exp_1700000000_ab12")
    assert link.startswith("studio://run/exp_1700000000_ab12?workspace=")
    assert " " not in link and "\\" not in link and "+" not in link.partition("?")[2]
    assert split_run_location(link) == (location, "exp_1700000000_ab12")
    with_file = run_link(location, "r1", file="logs/std out.txt")
    assert parse_link(with_file) == StudioLink(location, run_id="r1", file="logs/std out.txt")
    assert parse_link(experiment_link(location, "alpha")) == StudioLink(location, experiment="alpha")


@given(
    location=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1).filter(lambda s: s.strip() == s),
    run_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_\-.]{0,40}", fullmatch=True),
)
def test_any_location_and_run_id_survive_the_round_trip(location: str, run_id: str) -> None:
    assert split_run_location(run_link(location, run_id)) == (location, run_id)


def test_links_written_by_hand_or_by_other_tools_are_read() -> None:
    assert split_run_location("  studio://run/abc?workspace=/home/me/my ws  ") == ("/home/me/my ws", "abc")
    assert split_run_location(r"studio://run/abc?workspace=C:\Users\me\ws") == (r"C:\Users\me\ws", "abc")
    assert split_run_location("studio://run/abc?workspace=C%3A%5CUsers%5Cme%5Cmy%20ws") == (r"C:\Users\me\my ws", "abc")
    assert split_run_location("studio://run/abc?workspace=C:/Users/me/ws") == ("C:/Users/me/ws", "abc")
    assert split_run_location("STUDIO://Run/abc/?Workspace=mlflow+http://h:5000") == ("mlflow+http://h:5000", "abc")
    assert split_run_location("studio://run/a%62c?workspace=%2Fws&extra=1") == ("/ws", "abc")


def test_the_links_written_before_still_open_their_run() -> None:
    old = "studio://open?workspace=/home/me/my%20ws&experiment=alpha&run=alpha_1700000000_ab12"
    assert split_run_location(old) == ("/home/me/my ws", "alpha_1700000000_ab12")
    assert parse_link(old + "&file=logs/std_log.txt") == StudioLink(
        "/home/me/my ws", run_id="alpha_1700000000_ab12", experiment="alpha", file="logs/std_log.txt"
    )
    # an experiment's old link, and a new one, name no run: the window opens their workspace on the experiment
    assert split_run_location("studio://open?workspace=/ws&experiment=alpha") == ("/ws", None)
    assert split_run_location("studio://experiment/alpha?workspace=/ws") == ("/ws", None)


@pytest.mark.parametrize(
    ("link", "says"),
    [
        ("studio://run/?workspace=/ws", "names nothing after studio://run/: it needs a run id there"),
        ("studio://run?workspace=/ws", "names nothing after studio://run/"),
        ("studio://run/a/b?workspace=/ws", "has more than one part after studio://run/"),
        ("studio://experiment/?workspace=/ws", "it needs an experiment name there"),
        ("studio://run/abc", "names no workspace: add ?workspace="),
        ("studio://run/abc?workspace=%20", "names no workspace"),
        ("studio://foo/abc?workspace=/ws", "is not a link Studio knows (foo after studio://)"),
        ("studio://?workspace=/ws", "is not a link Studio knows (nothing after studio://)"),
        ("studio:run/abc?workspace=/ws", "is not a Studio link: a link looks like studio://run/<run id>"),
    ],
)
def test_a_malformed_link_is_refused_in_one_sentence(link: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        split_run_location(link)
    message = str(caught.value)
    assert says in message and "\n" not in message and message.count(". ") == 0


def test_run_get_portal_url_round_trips_to_the_same_workspace_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my runs #1"
    workspace = Workspace(folder)
    try:
        run = Experiment(workspace, "alpha").start_logging()
        run.log("loss", 0.5)
        run.complete()
        location, run_id = split_run_location(run.get_portal_url())
        assert run_id == run.id and location is not None
        assert Path(resolve_location(location)) == folder.resolve()
        details = run.get_details()
        experiment_url = run.experiment.get_portal_url()
    finally:
        workspace.close()
    assert parse_link(experiment_url) == StudioLink(str(folder.resolve()), experiment="alpha")
    for name, link in details["logFiles"].items():
        assert parse_link(link) == StudioLink(str(folder.resolve()), run_id=run.id, file=name)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What main() asked of the window, instead of a window."""
    import studio.ui.shell.app as app

    calls: list[dict[str, Any]] = []

    def run_gui(
        kinds: Any, location: str, open_run: str | None = None, create: bool = True, open_experiment: str | None = None
    ) -> int:
        calls.append({"location": location, "open_run": open_run, "create": create, "experiment": open_experiment})
        return 0

    monkeypatch.setattr(app, "run_gui", run_gui)
    return calls


def test_a_bare_link_opens_its_run_as_the_desktop_handler_runs_it(
    started: list[dict[str, Any]], tmp_path: Path
) -> None:
    link = run_link(str(tmp_path / "ws"), "abc")
    assert main([link]) == 0
    assert main(["--open-run", link]) == 0
    assert main(["--output", "json", link]) == 0
    assert main([run_link(str(tmp_path / "ws"), "first"), link]) == 0  # a desktop may pass several: the last opens
    # a link to a workspace that is missing does not create one: the window says it is missing
    ws = str(tmp_path / "ws")
    assert started == [{"location": ws, "open_run": "abc", "create": False, "experiment": None}] * 4
    assert main(["--workspace", ws]) == 0
    assert started[-1] == {"location": ws, "open_run": None, "create": True, "experiment": None}
    started.clear()
    assert main([experiment_link(ws, "alpha")]) == 0
    assert main([f"studio://open?workspace={ws}&experiment=alpha"]) == 0  # an experiment's link written before
    assert main([f"studio://open?workspace={ws}&experiment=alpha&run=abc"]) == 0  # the run wins
    assert started == [
        {"location": ws, "open_run": None, "create": False, "experiment": "alpha"},
        {"location": ws, "open_run": None, "create": False, "experiment": "alpha"},
        {"location": ws, "open_run": "abc", "create": False, "experiment": None},
    ]


def test_only_the_first_positional_argument_can_be_a_link(tmp_path: Path) -> None:
    link = run_link(str(tmp_path / "ws"), "abc")
    assert link_as_open_run([link]) == ["--open-run", link]
    assert link_as_open_run(["--open-run", link]) == ["--open-run", link]
    assert link_as_open_run(["--workspace", "/ws", link]) == ["--workspace", "/ws", "--open-run", link]
    assert link_as_open_run(["--open-run=" + link]) == ["--open-run=" + link]
    for command in (["job", "show", link], ["info", "--workspace", link]):  # a subcommand's arguments are its own
        assert link_as_open_run(command) == command


def test_a_bad_link_is_one_line_on_stderr(
    started: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["studio://foo/abc?workspace=/ws"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("studio: error: ") and "is not a link Studio knows" in err and err.count("\n") == 1
    assert main(["--workspace", str(tmp_path / "other"), run_link(str(tmp_path / "ws"), "abc")]) == 1
    assert "--open-run names a run of" in capsys.readouterr().err
    assert main(["studio://run/..?workspace=/ws"]) == 1
    assert "invalid run id" in capsys.readouterr().err
    assert main(["studio://experiment/has%20space?workspace=/ws"]) == 1
    assert "invalid experiment name 'has space'" in capsys.readouterr().err
    assert started == []
