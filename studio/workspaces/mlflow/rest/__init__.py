"""A small client of MLflow's tracking REST API 2.0 (no ``mlflow`` import), reused by the Azure kind.

``MlflowRestClient`` is the entry point; ``types`` holds what it returns, ``errors`` what it raises.
"""

from studio.workspaces.mlflow.rest.auth import AuthHook, BasicAuth, BearerToken, TlsSettings
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.errors import (
    MlflowAuthError,
    MlflowNotApiError,
    MlflowNotFoundError,
    MlflowRequestError,
    MlflowRestError,
    MlflowServerError,
    MlflowTimeoutError,
    MlflowTlsError,
    MlflowUnreachableError,
)
from studio.workspaces.mlflow.rest.retry import RetryPolicy
from studio.workspaces.mlflow.rest.transport import Timeouts
from studio.workspaces.mlflow.rest.types import (
    ArtifactEntry,
    ArtifactListing,
    Experiment,
    LatestMetric,
    MetricHistory,
    Page,
    Run,
)

__all__ = [
    "ArtifactEntry",
    "ArtifactListing",
    "AuthHook",
    "BasicAuth",
    "BearerToken",
    "Experiment",
    "LatestMetric",
    "MetricHistory",
    "MlflowAuthError",
    "MlflowNotApiError",
    "MlflowNotFoundError",
    "MlflowRequestError",
    "MlflowRestClient",
    "MlflowRestError",
    "MlflowServerError",
    "MlflowTimeoutError",
    "MlflowTlsError",
    "MlflowUnreachableError",
    "Page",
    "RetryPolicy",
    "Run",
    "Timeouts",
    "TlsSettings",
]
