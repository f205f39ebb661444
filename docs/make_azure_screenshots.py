"""Screenshots of the Azure accounts in the window: ``python docs/make_azure_screenshots.py`` (needs the test extra).

The Workspaces pane's "Azure Machine Learning" section and the sign-in dialog, on the in-memory account
directory of the GUI tests (tests/ui/azure_fakes.py: two accounts, one expired; four subscriptions, one
refusing to list its workspaces) with the Azure kind's own sign-in methods, in the real window offscreen: light and dark at 1280x800, the pane alone in a narrow window, the
filter, the sign-in form with a refusal, the device code and the question about a plain-file token cache.
Writes docs/screenshots/azure-*.png. ``--out DIR`` writes them elsewhere (for a look before committing).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # make_screenshots next to this file; tests/ for the fakes

ALICE = "device_code:72f988bf:alice@contoso.com"
EXPIRED = "cli"
SUBS = {
    "Research": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
    "Production": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
    "Sandbox (pay-as-you-go)": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
    "Shared services": "6fa459ea-ee8a-4ca4-894e-db77e160355e",
}

SHARED_REFUSED = PermissionError(
    "Azure refused to list the workspaces of Shared services: your account needs the Reader role on it."
)


def directory() -> Any:
    """Alice with four subscriptions; the Azure CLI account expired."""
    from studio.workspaces.azure.directory import AzureAccountDirectory
    from tests.ui.azure_fakes import FakeDirectory

    d = FakeDirectory()
    d.methods = AzureAccountDirectory().sign_in_methods()  # the kind's own ways and fields (reads PATH only)
    d.add_account(ALICE, "alice@contoso.com", tenant="72f988bf-86f1-41af-91ab-2d7cd011db47")
    d.add_account(EXPIRED, "Azure CLI", method_id="cli")
    d.add_subscription(ALICE, SUBS["Research"], "Research", ["vision-rg/vision-ws", "nlp-rg/nlp-finetune"])
    d.add_subscription(ALICE, SUBS["Production"], "Production", ["prod-rg/prod-ml-eastus", "prod-rg/prod-ml-westeu"])
    d.add_subscription(ALICE, SUBS["Sandbox (pay-as-you-go)"], "Sandbox (pay-as-you-go)", [])
    d.add_subscription(ALICE, SUBS["Shared services"], "Shared services", ["shared-rg/shared-ws"])
    d.expired.add(EXPIRED)
    return d


def new_window(theme: str, ini: Path, d: Any, size: tuple[int, int]) -> Any:
    """The real window, themed, on the fake Azure kind and the local kind."""
    from make_screenshots import pump

    from studio.ui.shell.app import create_app
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces.local.opener import LocalWorkspaceOpener
    from tests.ui.azure_fakes import FakeAzureOpener

    os.environ["STUDIO_THEME"] = theme
    create_app(["studio"])
    window = MainWindow([FakeAzureOpener(d), LocalWorkspaceOpener()], WindowSettings(str(ini)))
    window.resize(*size)
    window.show()
    pump(200)
    return window


def stage(window: Any) -> Any:
    """Open a workspace, expand Alice, Research, Production and the failing subscription."""
    from make_screenshots import settle, wait

    from tests.ui.azure_fakes import location

    azure = window.workspace_pane.accounts["azure"]
    wait("the accounts checked", lambda: ALICE in azure.state.checked and EXPIRED in azure.state.checked)
    opened = location(SUBS["Research"], "vision-rg", "vision-ws")
    window.open_workspace(opened)
    wait("the workspace", lambda: window.location == opened)
    azure = window.workspace_pane.accounts["azure"]
    azure.item_for(ALICE).setExpanded(True)
    wait("the subscriptions", lambda: azure.state.subs_of(ALICE).items)
    for name in ("Research", "Production"):
        azure.item_for(ALICE, SUBS[name]).setExpanded(True)
    wait("the workspaces", lambda: not any(lazy.loading for lazy in azure.state.workspaces.values()))
    azure.directory.fail("workspaces", SHARED_REFUSED)
    azure.item_for(ALICE, SUBS["Shared services"]).setExpanded(True)
    wait("the refusal", lambda: azure.state.workspaces_of(ALICE, SUBS["Shared services"]).error)
    azure.item_for(EXPIRED).setExpanded(True)
    settle(window)
    return azure


def shoot_to(widget: Any, out: Path, name: str) -> None:
    """Save ``widget`` as ``out/name.png``."""
    out.mkdir(parents=True, exist_ok=True)
    image = widget.grab().toImage()
    if not image.save(str(out / f"{name}.png"), "PNG", 0):
        raise RuntimeError(f"could not write {name}.png")
    print(f"wrote {out / name}.png ({image.width()}x{image.height()})")


def dialogs(window: Any, azure: Any, out: Path, suffix: str) -> None:
    """The sign-in dialog: the service-principal form refused, the device code, the consent question."""
    from make_screenshots import pump, wait

    d = azure.directory
    dialog = azure.sign_in()
    dialog.radios["service_principal"].click()
    for name, text in (("tenant", "contoso.onmicrosoft.com"), ("client_id", "6731de76-14a6-49ae-97bc-6eba6914391e")):
        dialog.fields["service_principal"][name].setText(text)
    dialog.fields["service_principal"]["secret"].setText("not-the-secret")
    dialog.start()
    wait("the refusal", lambda: dialog.error.isVisible())
    pump(200)
    shoot_to(dialog, out, f"azure-sign-in{suffix}")
    dialog.radios["device_code"].click()
    d.device_code = type(d.device_code)("https://microsoft.com/devicelogin", "GH7K-2QZP", time.time() + 872)
    dialog.start()
    wait("the device code", lambda: dialog.device_code.isVisible())
    pump(300)
    shoot_to(dialog, out, f"azure-device-code{suffix}")
    dialog.reject()
    d.needs_consent, d.consent = True, None
    dialog = azure.sign_in()
    dialog.start()
    box = wait("the question", lambda: dialog.consent_box)
    pump(300)
    shoot_to(box, out, f"azure-consent{suffix}")
    dialog.reject()
    d.needs_consent = False
    pump(100)


def main() -> None:
    """Take the screenshots."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from make_screenshots import close, pump, settle, wait

    from tests.ui.azure_fakes import location

    out = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else HERE / "screenshots"
    with tempfile.TemporaryDirectory(prefix="studio-azure-shots-") as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp, "data"))
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp, "config"))
        for theme, suffix in (("light", ""), ("dark", "-dark")):
            ini = Path(tmp, f"{theme}.ini")
            d = directory()
            window = new_window(theme, ini, d, (1280, 800))
            window.settings.set_pinned(location(SUBS["Production"], "prod-rg", "prod-ml-eastus"), True)
            window.settings.add_recent(location(SUBS["Research"], "nlp-rg", "nlp-finetune"))
            window.compute_pane.hide()
            window.resizeDocks([window.workspace_pane], [330], horizontal())
            azure = stage(window)
            window.resizeDocks([window.workspace_pane, window.experiment_pane], [520, 260], vertical())
            settle(window)
            shoot_to(window, out, f"azure-workspaces{suffix}")
            dialogs(window, azure, out, suffix)
            close(window)
        d = directory()
        window = new_window("light", Path(tmp, "narrow.ini"), d, (760, 560))
        window.compute_pane.hide()
        azure = stage(window)
        window.resizeDocks([window.workspace_pane], [230], horizontal())
        window.resizeDocks([window.workspace_pane, window.experiment_pane], [420, 80], vertical())
        settle(window)
        shoot_to(window.workspace_pane, out, "azure-workspaces-narrow")
        azure.set_filter("prod")
        wait("the filter's workspaces", lambda: not any(lazy.loading for lazy in azure.state.workspaces.values()))
        pump(300)
        shoot_to(window.workspace_pane, out, "azure-filter-narrow")
        close(window)


def vertical() -> Any:
    """Qt's vertical orientation (Qt is imported only once the platform is set)."""
    from PySide6.QtCore import Qt

    return Qt.Orientation.Vertical


def horizontal() -> Any:
    """Qt's horizontal orientation."""
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


if __name__ == "__main__":
    main()
