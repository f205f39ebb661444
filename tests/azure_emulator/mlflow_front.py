"""Azure's MLflow endpoint in front of a real ``mlflow server`` (decision 2 of the brief).

``https://<region>.api.azureml.ms/mlflow/v2.0{WS}/api/2.0/mlflow/<op>`` is forwarded to
``http://127.0.0.1:<port>/api/2.0/mlflow/<op>`` over pooled keep-alive connections, with Azure's differences:

- a bearer token is required (401 in Azure's shape when missing or revoked; the server's route check);
- ``metrics/get-history`` with ``max_results`` > 1000 → 400 "MaxResults = N is invalid: MaxResults must be
  less than 1000." (mlflow#10694);
- ``runs/search`` ordered by ``metrics.``/``params.`` → 400 (Azure orders by attributes only);
- the server's OSS error bodies (``{"error_code","message"}``) are rewritten into Azure's error shape
  (``Error.Code/Message``, ``Correlation``, ``statusCode``, ``error_code``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.azure_emulator.server import Emulator, Request, Response, error_body, error_response, json_response
from tests.azure_emulator.state import EmulatorState
from tests.azure_emulator.upstream import MlflowUpstream

API_HOST = r"[a-z0-9-]+\.api\.azureml\.ms|eastus\.api\.studio-test-cloud\.example"
WS = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
MLFLOW = r"/mlflow/v[12]\.0" + WS + r"/api/2\.0/mlflow/(?P<op>.+)"
HISTORY_LIMIT = 1000
PASSED_HEADERS = ("content-type",)


def register(emulator: Emulator) -> None:
    """Add the MLflow routes (every method)."""
    front = _Front(emulator)
    for method in ("GET", "POST", "PATCH", "DELETE"):
        emulator.route(method, API_HOST, MLFLOW, front.forward)


class _Front:
    def __init__(self, emulator: Emulator) -> None:
        self.state: EmulatorState = emulator.state  # type: ignore[attr-defined]
        self.upstream: MlflowUpstream = emulator.upstream  # type: ignore[attr-defined]

    def forward(self, request: Request, match: re.Match[str]) -> Response:
        if self.state.find_workspace(match["sub"], match["rg"], match["ws"]) is None:
            return error_response(request, 404, f"Workspace {match['ws']} was not found.", "UserError")
        op = match["op"]
        refusal = self._azure_refusal(request, op)
        if refusal is not None:
            return refusal
        status, headers, body = self.upstream.request(
            request.method,
            f"/api/2.0/mlflow/{op}",
            query=request.raw_query,
            body=request.body,
            content_type=request.header("content-type", "application/json"),
        )
        if status >= 400:
            return self._azure_error(request, status, body)
        return Response(status, body, {k: v for k, v in headers.items() if k in PASSED_HEADERS})

    def _azure_refusal(self, request: Request, op: str) -> Response | None:
        """What Azure refuses that the OSS server would answer."""
        if op.startswith("metrics/get-history"):
            asked = request.query.get("max_results")
            if asked is None and request.body:
                asked = str(_json(request.body).get("max_results", "")) or None
            if asked is not None and asked.isdigit() and int(asked) > HISTORY_LIMIT:
                return json_response(
                    400,
                    error_body(
                        request.path,
                        400,
                        "UserError",
                        f"MaxResults = {asked} is invalid: MaxResults must be less than 1000.",
                    ),
                )
        if op == "runs/search" and request.body:
            order_by = _json(request.body).get("order_by") or []
            for clause in order_by:
                if str(clause).strip().lower().startswith(("metrics.", "params.", "metric.", "param.")):
                    return json_response(
                        400,
                        error_body(
                            request.path,
                            400,
                            "UserError",
                            f"Ordering by '{clause}' is not supported: order_by supports attributes only "
                            "(start_time, end_time, run_name, duration).",
                        ),
                    )
        return None

    def _azure_error(self, request: Request, status: int, body: bytes) -> Response:
        """The OSS error rewritten into Azure's MLflow error shape (its error_code kept)."""
        oss = _json(body)
        message = str(oss.get("message") or body[:500].decode("utf-8", "replace") or f"HTTP {status}")
        code = "UserError" if 400 <= status < 500 else "SystemError"
        shaped = error_body(request.path, status, code, message)
        if oss.get("error_code"):
            shaped["error_code"] = oss["error_code"]
        return json_response(status, shaped)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
