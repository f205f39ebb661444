"""The Azure ML emulator of the tests, in a process of its own, fronting a big MLflow store: for the Azure benchmarks.

    from bench_azure_service import AzureServiceProcess, ensure_azure_store
    store = ensure_azure_store()              # benchmarks/.data/azure10k, made once (~1 min)
    service = AzureServiceProcess(store.root) # emulator + CONNECT proxy + Azurite + mlflow server on that store
    service.environ()                         # this process now reaches it as decision 1 of the shared brief says
    service.set_latency(0.05); ...; service.log(since)  # requests with arrival and answer times
    service.stop()

The store is a copy of ``benchmarks/.data/mlflow10k`` (``mlflow_fill.py``: experiment ``big`` with 10,000 finished
runs of 3 metrics of 100 points) with two more experiments logged with ``MlflowClient``: ``small`` (100 runs like
``big``'s, to show requests per action do not grow with the experiment) and ``long`` (one finished run whose
``loss`` has 100,000 points). The artifacts folder is shared with mlflow10k (the Azure kind reads run files from
Azurite, which starts empty here).

The service runs in a spawned process, as ``bench_mlflow_window``'s proxy does: its handler threads (and the 50 ms
each request sleeps there) would otherwise take the GIL from the GUI thread being measured. Every request the
emulator answers is logged with its arrival (the start of the route minus the latency the emulator slept) and
answer (``time.time()``, comparable across the two processes). Blob requests go to Azurite through the proxy and
are not in this log (nor delayed).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlflow_fill import DATA, EXPERIMENT, METRICS, PARAMS, POINTS, TAGS, ensure_store

SMALL = "small"
SMALL_RUNS = 100
LONG = "long"
LONG_POINTS = 100_000
MARKER = "azure.json"


@dataclass(frozen=True)
class AzureStore:
    """The store behind the emulator: its folder and the experiments' sizes."""

    root: Path
    big: str = EXPERIMENT
    small: str = SMALL
    long: str = LONG


def ensure_azure_store(rebuild: bool = False) -> AzureStore:
    """``benchmarks/.data/azure10k``: mlflow10k's store plus ``small`` and ``long`` (see the module docstring)."""
    root = DATA / "azure10k"
    marker = root / MARKER
    wanted = {"small": SMALL_RUNS, "long": LONG_POINTS, "points": POINTS}
    if marker.exists() and not rebuild and json.loads(marker.read_text()) == wanted:
        return AzureStore(root)
    base = ensure_store()
    started = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copyfile(base.db, root / "mlflow.db")
    (root / "artifacts").symlink_to(base.root / "artifacts", target_is_directory=True)
    _log_more(root / "mlflow.db")
    marker.write_text(json.dumps(wanted))
    print(f"made {root} in {time.perf_counter() - started:.1f} s", flush=True)
    return AzureStore(root)


def _log_more(db: Path) -> None:
    from tests.mlflow_server import quiet_mlflow_environment

    quiet_mlflow_environment()
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(f"sqlite:///{db}")
    small = client.create_experiment(SMALL, artifact_location=f"mlflow-artifacts:/{SMALL}")
    now = int(time.time() * 1000)
    for i in range(SMALL_RUNS):
        run = client.create_run(small, run_name=f"small-{i:03d}", tags=TAGS, start_time=now - i * 60_000).info.run_id
        points = [Metric(name, (1 + i) / (1 + s), now + s * 1000, s) for s in range(POINTS) for name in METRICS]
        client.log_batch(run, metrics=points, params=[Param(k, v) for k, v in PARAMS.items()])
        client.set_terminated(run, end_time=now - i * 60_000 + 30_000)
    long = client.create_experiment(LONG, artifact_location=f"mlflow-artifacts:/{LONG}")
    run = client.create_run(long, run_name="long-run", tags=TAGS).info.run_id
    for first in range(0, LONG_POINTS, 1000):  # MLflow takes at most 1,000 metrics per batch
        batch = [Metric("loss", 1.0 / (1 + s), now + s, s) for s in range(first, first + 1000)]
        client.log_batch(run, metrics=batch, tags=[RunTag("points", str(LONG_POINTS))] if first == 0 else [])
    client.set_terminated(run)


# -- the service process -------------------------------------------------------------------------------------


def _serve(root: str, commands: Connection) -> None:
    """The service process: build what ``tests/azure_fixtures.azure_service`` builds, on ``root``'s store."""
    from tests.azure_emulator.azurite import launch_azurite
    from tests.azure_emulator.certs import make_certificates
    from tests.azure_emulator.fake_az import FakeAz
    from tests.azure_emulator.proxy import ConnectProxy, blob_or_emulator
    from tests.azure_emulator.server import Emulator
    from tests.azure_emulator.state import EmulatorState
    from tests.azure_emulator.upstream import MlflowUpstream
    from tests.azure_fixtures import (
        OPTIONAL_ROUTE_MODULES,
        RESOURCE_GROUP,
        ROUTE_MODULES,
        SUBSCRIPTION_ID,
        TENANT_ID,
        WORKSPACE_NAME,
        AzureService,
    )
    from tests.mlflow_server import launch_mlflow_server, quiet_mlflow_environment, wait_until_healthy

    quiet_mlflow_environment()
    work = Path(tempfile.mkdtemp(prefix="studio-bench-azure-"))
    certs = make_certificates(work / "certs")
    mlflow = launch_mlflow_server(Path(root), workers=2)
    azurite = launch_azurite(work / "azurite", certs.azurite)
    wait_until_healthy(mlflow)
    state = EmulatorState(TENANT_ID, SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE_NAME)
    upstream = MlflowUpstream(mlflow.url)
    emulator = Emulator(certs.emulator)
    emulator.state = state  # type: ignore[attr-defined]
    emulator.upstream = upstream  # type: ignore[attr-defined]
    proxy = ConnectProxy(blob_or_emulator(emulator.port, azurite.port))
    fake_az = FakeAz.install(work / "az", tenant=TENANT_ID, subscription=SUBSCRIPTION_ID)
    service = AzureService(certs, emulator, proxy, azurite, upstream, state, fake_az)
    emulator.service = service  # type: ignore[attr-defined]
    for module in (*ROUTE_MODULES, *OPTIONAL_ROUTE_MODULES):
        emulator.mount(module)
    azurite.wait_until_ready()
    service.container().create_container()
    timed: list[tuple[float, float, str, str, str]] = []
    dispatch = emulator.dispatch

    def logged(request: Any) -> Any:
        start = time.time()
        try:
            return dispatch(request)
        finally:
            # the emulator slept its latency just before routing: the request arrived that much earlier
            arrived = start - emulator.latency_s
            query = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
            timed.append((arrived, time.time(), request.method, request.host, f"{request.path}?{query}"))

    emulator.dispatch = logged  # type: ignore[method-assign]
    commands.send(
        {
            "location": service.location,
            "ca_path": str(service.ca_path),
            "proxy_url": service.proxy_url,
            "path": fake_az.path_with_az(os.environ.get("PATH", "")),
            "mlflow_url": mlflow.url,
        }
    )
    try:
        while True:
            command, value = commands.recv()
            if command == "latency":
                emulator.latency_s = value
                commands.send(None)
            elif command == "log":
                commands.send([entry for entry in list(timed) if entry[0] >= value])
            elif command == "compute":  # a call on the emulator's compute controls: (method, args)
                method, args = value
                commands.send(getattr(emulator.compute, method)(*args))  # type: ignore[attr-defined]
            elif command == "compute_set":  # an attribute of the compute controls: (name, value)
                setattr(emulator.compute, *value)  # type: ignore[attr-defined]
                commands.send(None)
            else:
                commands.send(None)
                return
    finally:
        service.stop()
        mlflow.stop()
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True, order=True)
class Request:
    """One request the emulator answered: arrival and answer (``time.time()``), method, host, path with query."""

    arrived: float
    answered: float
    method: str
    host: str
    path: str

    @property
    def short(self) -> str:
        """``experiments/search``, ``runs/search``, ``jobs/<name>``, ``metrics/get-history``…"""
        path = self.path.split("?", 1)[0]
        if "/api/2.0/mlflow/" in path:
            return path.split("/api/2.0/mlflow/", 1)[1]
        for marker in ("/jobs/", "/datastores/", "/runs/", "/experiments/"):
            if marker in path:
                return marker.strip("/") + "/" + path.split(marker, 1)[1].split("/")[-1][:12]
        return path.rsplit("/", 1)[-1][:40]


class AzureServiceProcess:
    """The emulator, proxy, Azurite and mlflow server of ``tests/azure_fixtures`` in a spawned process."""

    def __init__(self, root: Path) -> None:
        context = multiprocessing.get_context("spawn")  # not a fork of a process that runs Qt
        self._commands, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(str(root), theirs), name="azure-service", daemon=True)
        started = time.perf_counter()
        self.process.start()
        self.info: dict[str, str] = self._commands.recv()
        self.started_in_s = time.perf_counter() - started
        self.location = self.info["location"]
        self.latency_s = 0.0

    def environ(self) -> None:
        """Point this process at the service as ``azure_env`` does (proxy, CA bundle, fake ``az``, AZURE_* cleared)."""
        for name in list(os.environ):
            if name.startswith(("AZURE_", "AZUREML_", "MSI_", "IDENTITY_")) or name in (
                "ARM_CLOUD_METADATA_URL",
                "http_proxy",
                "HTTP_PROXY",
                "ALL_PROXY",
                "all_proxy",
            ):
                del os.environ[name]
        for name in ("HTTPS_PROXY", "https_proxy"):
            os.environ[name] = self.info["proxy_url"]
        for name in ("NO_PROXY", "no_proxy"):
            os.environ[name] = "127.0.0.1,localhost"
        for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
            os.environ[name] = self.info["ca_path"]
        os.environ["PATH"] = self.info["path"]

    def set_latency(self, seconds: float) -> None:
        """Every request waits ``seconds`` before it is answered, from now on."""
        self._commands.send(("latency", seconds))
        self._commands.recv()
        self.latency_s = seconds

    def log(self, since: float = 0.0) -> list[Request]:
        """The requests that arrived at or after ``since`` (``time.time()``), by arrival."""
        self._commands.send(("log", since))
        return sorted(Request(*entry) for entry in self._commands.recv())

    def compute(self, method: str, *args: Any) -> Any:
        """Call a method of the emulator's compute controls (``tests/azure_emulator/compute.py``) there."""
        self._commands.send(("compute", (method, args)))
        return self._commands.recv()

    def set_compute(self, name: str, value: Any) -> None:
        """Set an attribute of the emulator's compute controls (e.g. ``operation_s``)."""
        self._commands.send(("compute_set", (name, value)))
        self._commands.recv()

    def stop(self) -> None:
        """Stop the service and wait for its process."""
        if self.process.is_alive():
            self._commands.send(("stop", None))
            self._commands.recv()
        self.process.join(timeout=30)


def chain(requests: list[Request]) -> int:
    """The longest sequence of these requests each sent after the one before was answered: round trips in a row."""
    depth: list[int] = []
    for request in requests:
        before = [d for r, d in zip(requests, depth, strict=False) if r.answered <= request.arrived]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


if __name__ == "__main__":
    print(ensure_azure_store(rebuild="--rebuild" in sys.argv))
