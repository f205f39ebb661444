"""The Workspaces pane's "Azure Machine Learning" section: accounts → subscriptions → workspaces, fetched on
expand on workers, with Loading…, errors and Retry, expired accounts, a filter, pinned and recent workspaces,
sign out and refresh. Driven against an in-memory AccountDirectory (tests/ui/azure_fakes.py), the GUI's boundary.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from studio.core.accounts import SubscriptionInfo
from studio.core.errors import AuthenticationError, WorkspaceError
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.ui.workspaces.azure_accounts_state import Lazy
from studio.ui.workspaces.azure_section import AzureSection
from studio.ui.workspaces.azure_sign_in_dialog import AzureSignInDialog
from studio.workspaces.local.opener import LocalWorkspaceOpener
from tests.ui.azure_fakes import SUB_A, SUB_B, SUB_C, FakeAzureOpener, FakeDirectory, location
from tests.waiting import wait_until

SECTION = "Azure Machine Learning"
ALICE, BOB = "device_code:t1:alice@contoso.com", "cli"
WS_TRAIN = location(SUB_A, "ml-rg", "train-ws")
WS_EVAL = location(SUB_A, "ml-rg", "eval-ws")
WS_PROD = location(SUB_B, "prod-rg", "prod-ws")


@pytest.fixture
def directory() -> FakeDirectory:
    """Alice (signed in) sees two subscriptions; Bob's sign-in expired."""
    d = FakeDirectory()
    d.add_account(ALICE, "alice@contoso.com")
    d.add_account(BOB, "Azure CLI", method_id="cli")
    d.add_subscription(ALICE, SUB_A, "Research", ["ml-rg/train-ws", "ml-rg/eval-ws"])
    d.add_subscription(ALICE, SUB_B, "Production", ["prod-rg/prod-ws"])
    d.add_subscription(ALICE, SUB_C, "Sandbox", [])
    d.expired.add(BOB)
    return d


def new_window(qtbot: QtBot, directory: FakeDirectory, tmp_path: Path) -> tuple[MainWindow, FakeAzureOpener]:
    opener = FakeAzureOpener(directory)
    window = MainWindow([opener, LocalWorkspaceOpener()], WindowSettings(str(tmp_path / "s.ini")))
    qtbot.addWidget(window)
    window.show()
    return window, opener


def section(window: MainWindow) -> AzureSection:
    return window.workspace_pane.accounts["azure"]


def checked(qtbot: QtBot, window: MainWindow, *accounts: str) -> AzureSection:
    """The section once its accounts are listed and checked."""
    azure = section(window)
    wait_until(lambda: all(a in azure.state.checked for a in accounts), "the accounts checked", qtbot=qtbot)
    return azure


def item(azure: AzureSection, *key: str) -> QTreeWidgetItem:
    found = azure.item_for(*key)
    assert found is not None, key
    return found


def expand(qtbot: QtBot, azure: AzureSection, *key: str) -> QTreeWidgetItem:
    """Expand an account or subscription row and wait until its list arrived."""
    row = item(azure, *key)
    with qtbot.waitSignal(azure.sig_loaded, timeout=10_000, check_params_cb=lambda k: k == key):
        row.setExpanded(True)
    return item(azure, *key)


def menu_of(window: MainWindow, row: QTreeWidgetItem) -> QMenu:
    menu = window.workspace_pane.context_menu_for(row)
    assert menu is not None
    return menu


def trigger(menu: QMenu, name: str) -> None:
    action = next((a for a in menu.actions() if a.objectName() == name), None)
    assert action is not None, [a.objectName() for a in menu.actions()]
    action.trigger()


def test_accounts_show_checked_and_an_expired_one_offers_to_sign_in_again(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    window, _opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE, BOB)
    rows = window.workspace_pane.section_rows(SECTION)
    assert rows == [
        "",
        "alice@contoso.com",
        "Azure CLI  (expired — sign in again)",
        "Sign in…",
        "Add from config.json…",
    ]
    assert azure.filter_box is not None and azure.filter_box.placeholderText() == "Filter workspaces"
    bob = item(azure, BOB)
    assert azure.rows_under(bob) == ["Sign in again…"]  # no subscriptions asked for an expired account
    assert bob.toolTip(0).endswith("The sign-in expired: sign in again.")
    assert not directory.called("subscriptions")  # nothing is fetched before a row is expanded
    assert sorted(c.args for c in directory.called("check_account")) == [(BOB,), (ALICE,)]  # once each, in parallel
    pane = window.workspace_pane
    bob.setExpanded(True)
    again = bob.child(0)
    qtbot.mouseClick(pane.tree.viewport(), Qt.MouseButton.LeftButton, pos=pane.tree.visualItemRect(again).center())
    dialog = wait_until(lambda: azure.dialog, "the sign-in dialog", qtbot=qtbot)
    assert isinstance(dialog, AzureSignInDialog) and dialog.isVisible()
    assert not dialog.radios["cli"].isEnabled() and dialog.method_id() == "browser"  # cli is not on PATH here
    dialog.reject()
    assert all(not c.on_gui_thread for c in directory.calls if c.name != "sign_in_methods")


def test_expanding_fetches_on_a_worker_showing_loading_then_the_rows_and_a_workspace_opens_with_its_account(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    window, opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE)
    directory.hold("subscriptions")
    item(azure, ALICE).setExpanded(True)
    wait_until(lambda: azure.rows_under(item(azure, ALICE)) == ["Loading subscriptions…"], qtbot=qtbot)
    with qtbot.waitSignal(azure.sig_loaded, timeout=10_000):
        directory.release("subscriptions")
    assert azure.rows_under(item(azure, ALICE)) == ["Production", "Research", "Sandbox"]
    research = expand(qtbot, azure, ALICE, SUB_A)
    assert azure.rows_under(research) == ["eval-ws", "train-ws"]  # by name
    assert azure.rows_under(expand(qtbot, azure, ALICE, SUB_C)) == ["No workspaces"]
    train = azure.workspace_item(WS_TRAIN)
    assert train is not None and "Resource group: ml-rg" in train.toolTip(0)
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000) as opened:
        window.workspace_pane.tree.itemActivated.emit(train, 0)
    assert opened.args == [WS_TRAIN] and opener.opened == [WS_TRAIN]
    assert directory.remembered == {WS_TRAIN: ALICE}  # the kind opens it with the account that found it
    # The pane was rebuilt for the new recent entry: what was fetched and expanded stays, nothing is asked again.
    assert window.workspace_pane.section_rows(SECTION)[1] == "train-ws  (open)"
    research = item(azure, ALICE, SUB_A)
    assert research.isExpanded() and item(azure, ALICE).isExpanded()
    assert (azure.workspace_item(WS_TRAIN) or research).text(0) == "train-ws  (open)"
    assert len(directory.called("subscriptions")) == 1 and len(directory.called("workspaces")) == 2
    assert all(not c.on_gui_thread for c in directory.calls if c.name != "sign_in_methods")


def test_a_failed_list_says_why_in_one_sentence_with_retry_and_a_refused_one_marks_the_account_expired(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    window, _opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE)
    directory.fail(
        "subscriptions", WorkspaceError("Cannot reach Azure (management.azure.com): check the network or proxy.")
    )
    alice = expand(qtbot, azure, ALICE)
    assert azure.rows_under(alice) == [
        "⚠ Cannot reach Azure (management.azure.com): check the network or proxy.",
        "Retry",
    ]
    retry = alice.child(1)
    pane = window.workspace_pane
    with qtbot.waitSignal(azure.sig_loaded, timeout=10_000):
        qtbot.mouseClick(pane.tree.viewport(), Qt.MouseButton.LeftButton, pos=pane.tree.visualItemRect(retry).center())
    assert azure.rows_under(item(azure, ALICE)) == ["Production", "Research", "Sandbox"]
    directory.fail("workspaces", AuthenticationError("Azure refused the sign-in of alice@contoso.com: sign in again."))
    item(azure, ALICE, SUB_B).setExpanded(True)
    wait_until(lambda: "expired" in item(azure, ALICE).text(0), "alice marked expired", qtbot=qtbot)
    assert azure.rows_under(item(azure, ALICE)) == ["Sign in again…"]
    assert item(azure, ALICE).toolTip(0).endswith("Azure refused the sign-in of alice@contoso.com: sign in again.")


def test_the_filter_finds_workspaces_in_subscriptions_never_expanded(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    window, _opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE)
    assert azure.filter_box is not None
    qtbot.keyClicks(azure.filter_box, "prod")
    wait_until(lambda: azure.workspace_item(WS_PROD) is not None, "the workspaces fetched for the filter", qtbot=qtbot)
    wait_until(lambda: not any(lazy.loading for lazy in azure.state.workspaces.values()), qtbot=qtbot)
    alice = item(azure, ALICE)
    assert alice.isExpanded() and azure.rows_under(alice, visible_only=True) == ["Production"]
    assert item(azure, ALICE, SUB_B).isExpanded()
    assert azure.rows_under(item(azure, ALICE, SUB_B), visible_only=True) == ["prod-ws"]
    assert [c.args for c in directory.called("workspaces")] == [(ALICE, (SUB_A, SUB_B, SUB_C))]  # one call
    azure.set_filter("eval")
    assert azure.rows_under(alice, visible_only=True) == ["Research"]
    assert azure.rows_under(item(azure, ALICE, SUB_A), visible_only=True) == ["eval-ws"]
    azure.set_filter("sandbox")  # a subscription's name shows it whole
    assert azure.rows_under(alice, visible_only=True) == ["Sandbox"]
    azure.set_filter("")
    assert azure.rows_under(alice, visible_only=True) == ["Production", "Research", "Sandbox"]
    assert not any(c.on_gui_thread for c in directory.calls if c.name != "sign_in_methods")


def test_pinned_workspaces_come_first_and_stay_pinned_in_the_window_settings(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    window, _opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE)
    expand(qtbot, azure, ALICE)
    expand(qtbot, azure, ALICE, SUB_A)
    eval_row = azure.workspace_item(WS_EVAL)
    assert eval_row is not None
    trigger(menu_of(window, eval_row), "actionAzurePin")
    assert window.settings.pinned_workspaces() == [WS_EVAL]
    rows = window.workspace_pane.section_rows(SECTION)
    assert rows[:2] == ["", "★ eval-ws"]
    assert (azure.workspace_item(WS_EVAL) or eval_row).text(0) == "★ eval-ws"
    pinned = window.workspace_pane.entry_item(WS_EVAL)
    assert pinned is not None
    menu = menu_of(window, pinned)
    assert [a.objectName() for a in menu.actions()] == ["actionAzureUnpin"]  # not "Remove from list"
    azure.set_filter("train")
    assert pinned.isHidden()  # the filter applies to pinned and recent workspaces too
    azure.set_filter("")
    trigger(menu, "actionAzureUnpin")
    assert window.settings.pinned_workspaces() == []
    assert "★ eval-ws" not in window.workspace_pane.section_rows(SECTION)


def test_sign_out_and_refresh_from_the_account_menu(qtbot: QtBot, directory: FakeDirectory, tmp_path: Path) -> None:
    window, _opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE, BOB)
    expand(qtbot, azure, ALICE)
    directory.add_subscription(ALICE, "0000000d-0000-4000-8000-000000000000", "New team")
    directory.subs[ALICE].insert(
        0, SubscriptionInfo("0000000e-0000-4000-8000-000000000000", "Old trial", state="Disabled")
    )
    menu = menu_of(window, item(azure, ALICE))
    assert [a.text() for a in menu.actions()] == ["Refresh", "Sign out"]
    with qtbot.waitSignal(azure.sig_loaded, timeout=10_000, check_params_cb=lambda k: k == (ALICE,)):
        trigger(menu, "actionAzureRefresh")
    rows = azure.rows_under(item(azure, ALICE))
    assert rows == ["New team", "Production", "Research", "Sandbox", "Old trial  (disabled)"]  # by name, usable first
    assert [a.text() for a in menu_of(window, item(azure, BOB)).actions()] == ["Sign in again…", "Refresh", "Sign out"]
    with qtbot.waitSignal(azure.sig_loaded, timeout=10_000, check_params_cb=lambda k: k == ("signed-out", BOB)):
        trigger(menu_of(window, item(azure, BOB)), "actionAzureSignOut")
    assert azure.item_for(BOB) is None and [c.args for c in directory.called("sign_out")] == [(BOB,)]
    assert window.workspace_pane.section_rows(SECTION)[1:3] == ["alice@contoso.com", "Sign in…"]


def test_add_from_config_json_opens_the_workspace_it_names_and_a_bad_file_says_why(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    window, opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"subscription_id": SUB_B, "resource_group": "prod-rg", "workspace_name": "prod-ws"}))
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000) as opened:
        azure.add_from_config(str(config))
    assert opened.args == [WS_PROD] and opener.opened == [WS_PROD]
    assert window.settings.recent_workspaces()[0] == WS_PROD
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    azure.add_from_config(str(broken))
    wait_until(lambda: window.notifier.last and "broken.json" in window.notifier.last[0], qtbot=qtbot)
    assert "is not an Azure ML config.json" in window.notifier.last[0] and "\n" not in window.notifier.last[0]


def test_the_kind_actions_are_sign_in_and_add_from_config(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, _opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, ALICE)
    pane = window.workspace_pane
    asked: list[str] = []
    monkeypatch.setattr(azure, "add_from_config", lambda path=None: asked.append("config"))
    rows = [pane.tree.topLevelItem(1).child(i) for i in range(pane.tree.topLevelItem(1).childCount())]
    by_text = {r.text(0): r for r in rows}
    qtbot.mouseClick(
        pane.tree.viewport(), Qt.MouseButton.LeftButton, pos=pane.tree.visualItemRect(by_text["Sign in…"]).center()
    )
    dialog = wait_until(lambda: azure.dialog, "the sign-in dialog", qtbot=qtbot)
    assert dialog.windowTitle() == "Sign in to Azure"
    dialog.reject()
    qtbot.mouseClick(
        pane.tree.viewport(),
        Qt.MouseButton.LeftButton,
        pos=pane.tree.visualItemRect(by_text["Add from config.json…"]).center(),
    )
    assert asked == ["config"]
    assert window.notifier.last is None  # the window did not say "not available in this version"


def test_accounts_being_read_show_loading(qtbot: QtBot, directory: FakeDirectory, tmp_path: Path) -> None:
    directory.hold("accounts")
    window, _opener = new_window(qtbot, directory, tmp_path)
    assert window.workspace_pane.section_rows(SECTION)[1:] == ["Loading accounts…", "Sign in…", "Add from config.json…"]
    with qtbot.waitSignal(section(window).sig_loaded, timeout=10_000):
        directory.release("accounts")
    assert window.workspace_pane.section_rows(SECTION)[1:3] == ["alice@contoso.com", "Azure CLI"]


def test_signing_in_again_brings_an_expired_account_back_with_its_subscriptions(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    robot = "service_principal:t1:app-1"
    directory.add_account(robot, "service principal app-1", method_id="service_principal")
    directory.add_subscription(robot, SUB_C, "Automation")
    directory.expired.add(robot)
    window, _opener = new_window(qtbot, directory, tmp_path)
    azure = checked(qtbot, window, robot)
    assert item(azure, robot).text(0) == "service principal app-1  (expired — sign in again)"
    window.workspace_pane.tree.itemActivated.emit(item(azure, robot), 0)  # the expired account itself offers it
    dialog = wait_until(lambda: azure.dialog, "the sign-in dialog", qtbot=qtbot)
    assert dialog.method_id() == "service_principal" and dialog.fields["service_principal"]["tenant_id"].text() == "t1"
    qtbot.keyClicks(dialog.fields["service_principal"]["client_id"], "app-1")
    qtbot.keyClicks(dialog.fields["service_principal"]["client_secret"], "s3cret")
    with qtbot.waitSignal(azure.sig_loaded, timeout=10_000, check_params_cb=lambda k: k == (robot,)):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert item(azure, robot).text(0) == "service principal app-1" and item(azure, robot).isExpanded()
    assert azure.rows_under(item(azure, robot)) == ["Automation"]
    assert window.notifier.last is None


def test_a_workspace_refusing_its_sign_in_offers_the_azure_sign_in_and_opens_after_it(
    qtbot: QtBot, directory: FakeDirectory, tmp_path: Path
) -> None:
    window, opener = new_window(qtbot, directory, tmp_path)
    opener.needs_account.add(WS_PROD)
    azure = checked(qtbot, window, ALICE)
    window.open_workspace(WS_PROD)
    failure = wait_until(lambda: window.experiment_pane.failure, "the failure in the Experiments pane", qtbot=qtbot)
    assert failure.sign_in and "sign in again" in failure.message
    dialog = window.sign_in_failed()
    assert isinstance(dialog, AzureSignInDialog) and dialog is azure.dialog
    dialog.radios["device_code"].click()
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    wait_until(lambda: dialog.device_code.isVisible(), "the device code", qtbot=qtbot)
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000) as opened:
        directory.device_code_entered.set()
    assert opened.args == [WS_PROD] and directory.remembered == {WS_PROD: "device_code:t1:new@contoso.com"}


def test_a_failed_list_keeps_only_the_errors_type_and_sentence() -> None:
    class SdkError(Exception):
        def __init__(self, message: str, response: object) -> None:
            super().__init__(message)
            self.response = response  # an SDK's error holds the HTTP response (and its open connection)

    lazy: Lazy[str] = Lazy()
    epoch = lazy.start()
    try:
        raise SdkError("Azure answered 500: try again later.", response=object())
    except SdkError as exc:
        assert lazy.arrived(epoch, None, exc)
    kept = lazy.error
    assert kept is not None and str(kept) == "Azure answered 500: try again later."
    assert kept.__traceback__ is None and not hasattr(kept, "response")  # nothing holds the connection
    lazy.forget()
    assert not lazy.arrived(epoch, ["late"], None) and lazy.items is None  # asked before the forget: dropped


def test_a_kind_whose_accounts_cannot_be_listed_still_shows_its_section(qtbot: QtBot, tmp_path: Path) -> None:
    class BrokenOpener(FakeAzureOpener):
        def account_directory(self) -> FakeDirectory:
            raise ValueError("The Azure settings file is damaged: it was moved aside.")

    window = MainWindow(
        [BrokenOpener(FakeDirectory()), LocalWorkspaceOpener()], WindowSettings(str(tmp_path / "s.ini"))
    )
    qtbot.addWidget(window)
    assert window.workspace_pane.section_rows(SECTION) == ["Sign in…", "Add from config.json…"]
    assert window.notifier.last is not None
    assert window.notifier.last[0] == (
        "Listing the accounts of Azure Machine Learning: The Azure settings file is damaged: it was moved aside."
    )
