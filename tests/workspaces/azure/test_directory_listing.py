"""Finding workspaces against the emulator (pages of 2): tenants and subscriptions over every ``nextLink`` page,
workspaces of several subscriptions asked in parallel through ``MLClient.workspaces.list`` (hubs left out),
failures as sentences."""

from __future__ import annotations

import time

import pytest

from studio.core.errors import AuthenticationError
from studio.workspaces.azure.directory import AzureAccountDirectory
from tests.azure_fixtures import AzureService
from tests.workspaces.azure.identity_fixtures import signin_env

__all__ = ["signin_env"]

OTHER_SUB = "6a1d0000-0000-4000-8000-000000000002"


@pytest.fixture
def cli_directory(signin_env: AzureService) -> AzureAccountDirectory:
    """A directory with the Azure CLI account signed in (the fake ``az``)."""
    directory = AzureAccountDirectory()
    directory.sign_in("cli", {})
    signin_env.clear_log()
    return directory


def _gets(service: AzureService, path: str) -> list[str]:
    return [r.path for r in service.requests() if r.method == "GET" and r.path == path and r.status == 200]


def test_subscriptions_follow_every_page(signin_env: AzureService, cli_directory: AzureAccountDirectory) -> None:
    subscriptions = cli_directory.subscriptions("cli")
    ids = {s.subscription_id for s in subscriptions}
    assert signin_env.subscription_id in ids and OTHER_SUB in ids
    assert len(subscriptions) == len(signin_env.state.subscriptions) >= 5
    assert len(_gets(signin_env, "/subscriptions")) >= 3  # pages of 2
    assert [s.name.lower() for s in subscriptions] == sorted(s.name.lower() for s in subscriptions)
    disabled = [s for s in subscriptions if s.name == "Old trial"]
    assert disabled and disabled[0].state == "Disabled"
    assert all(s.tenant_id for s in subscriptions)


def test_tenants_follow_every_page(signin_env: AzureService, cli_directory: AzureAccountDirectory) -> None:
    tenants = cli_directory.tenants("cli")
    assert [t.tenant_id for t in tenants] == [t.tenant_id for t in signin_env.state.tenants]
    assert tenants[0].display_name == "Studio Test"
    assert len(_gets(signin_env, "/tenants")) >= 2


def test_workspaces_of_several_subscriptions(signin_env: AzureService, cli_directory: AzureAccountDirectory) -> None:
    found = cli_directory.workspaces("cli", [signin_env.subscription_id, OTHER_SUB])
    names = {(w.subscription_id, w.name) for w in found}
    assert (signin_env.subscription_id, signin_env.workspace_name) in names
    assert (signin_env.subscription_id, "shared-project") in names
    assert (signin_env.subscription_id, "shared-hub") not in names  # kind=default,project
    assert {(OTHER_SUB, "dev-ws"), (OTHER_SUB, "dev-ws-2")} <= names
    lists = [
        r for r in signin_env.requests() if r.path.endswith("/providers/Microsoft.MachineLearningServices/workspaces")
    ]
    assert all(r.query.get("kind") == "default,project" for r in lists)
    assert len([r for r in lists if r.path.split("/")[2] == signin_env.subscription_id]) >= 3  # every page
    main = next(w for w in found if w.name == signin_env.workspace_name)
    assert main.location == signin_env.location
    assert (main.resource_group, main.region) == (signin_env.resource_group, "eastus")
    vision = next(w for w in found if w.name == "vision-ws")
    assert vision.description == "The vision team's workspace"
    assert [w.subscription_id for w in found] == sorted(
        (w.subscription_id for w in found), key=[signin_env.subscription_id, OTHER_SUB].index
    )


def test_subscriptions_are_asked_in_parallel(signin_env: AzureService, cli_directory: AzureAccountDirectory) -> None:
    subs = [signin_env.add_subscription(display_name=f"Parallel {i}").subscription_id for i in range(6)]
    for i, sub in enumerate(subs):
        signin_env.add_workspace(f"par-ws-{i}", subscription_id=sub, resource_group="par-rg")
    cli_directory.workspaces("cli", subs[:1])  # azure-ai-ml imported and a token fetched before timing
    signin_env.clear_log()
    latency = 0.4
    signin_env.latency_s = latency

    started = time.monotonic()
    found = cli_directory.workspaces("cli", subs)
    elapsed = time.monotonic() - started

    assert [w.name for w in found] == [f"par-ws-{i}" for i in range(6)]
    lists = [r for r in signin_env.requests() if r.path.endswith("/workspaces")]
    assert len(lists) == 6
    # Answers come ``latency`` after the request arrives: overlapping windows mean requests in flight together.
    ends = sorted(r.at for r in lists)
    in_flight = max(sum(1 for other in ends if end - latency < other <= end) for end in ends)
    assert 2 <= in_flight <= 4  # parallel, and bounded at 4
    assert elapsed < latency * len(lists)  # one after the other would take ≥ 2.4 s


def test_a_failing_subscription_leaves_the_others(
    signin_env: AzureService, cli_directory: AzureAccountDirectory
) -> None:
    signin_env.fail(
        rf"/subscriptions/{OTHER_SUB}/providers/Microsoft\.MachineLearningServices/workspaces", 403, times=10
    )
    found = cli_directory.workspaces("cli", [signin_env.subscription_id, OTHER_SUB])
    assert {w.subscription_id for w in found} == {signin_env.subscription_id}
    signin_env.fail(r"/providers/Microsoft\.MachineLearningServices/workspaces", 403, times=10)
    with pytest.raises(AuthenticationError) as caught:
        cli_directory.workspaces("cli", [OTHER_SUB])
    assert "\n" not in str(caught.value)


def test_revoked_tokens_in_listings_say_sign_in_again(
    signin_env: AzureService, cli_directory: AzureAccountDirectory
) -> None:
    signin_env.revoke_tokens()
    with pytest.raises(AuthenticationError, match=r"(?i)sign in again"):
        cli_directory.subscriptions("cli")
    assert cli_directory.check_account("cli").state == "expired"
