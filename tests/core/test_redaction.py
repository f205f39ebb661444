"""Secrets never reach the log file or copied error details: what redact hides, and what it keeps."""

from __future__ import annotations

import pytest

from studio.core.redaction import redact

JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"Authorization: Bearer {JWT}\r\nHost: management.azure.com", JWT, "Host: management.azure.com"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "Authorization: ***"),
        (f"headers={{'Authorization': 'Bearer {JWT}', 'Accept': 'application/json'}}", JWT, "'Accept'"),
        ("request failed: bearer abc.def-ghi_jkl~mno", "abc.def-ghi_jkl~mno", "request failed: bearer ***"),
        (
            '{"token_type": "Bearer", "expires_in": 3599, "access_token": "0.ARoAv4j5cvGGr0", "refresh_token": "1.AX"}',
            "0.ARoAv4j5cvGGr0",
            '"token_type": "Bearer", "expires_in": 3599',
        ),
        (
            "grant_type=client_credentials&client_id=abc&client_secret=Zx8Q~s3cr3t.v4lue",
            "Zx8Q~s3cr3t.v4lue",
            "client_id=abc",
        ),
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=bXlrZXk+/abc==;EndpointSuffix=core.windows.net",
            "bXlrZXk+/abc==",
            "EndpointSuffix=core.windows.net",
        ),
        (
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=k3y+/=",
            "k3y+/=",
            "SharedAccessKeyName=Root",
        ),
        (
            "GET https://acct.blob.core.windows.net/c/b.txt?sv=2021-08-06&se=2030-01-01&sp=r&sig=AbC%2Bd%3D HTTP/1.1",
            "AbC%2Bd%3D",
            "sp=r&sig=***",
        ),
        ("BlobEndpoint=https://a;SharedAccessSignature=sv=2020&sig=QWE%3D", "QWE%3D", "BlobEndpoint=https://a"),
        ("Server=tcp:db;User ID=admin;Password=p@ss word;Encrypt=True", "p@ss word", "Encrypt=True"),
        ("env: MLFLOW_TRACKING_PASSWORD=hunter2 MLFLOW_TRACKING_USERNAME=bob", "hunter2", "USERNAME=bob"),
        ("could not reach mlflow+https://bob:hunter2@mlflow.example.com/api", "hunter2", "bob:***@mlflow.example.com"),
        (f"token cache holds {JWT} for the user", JWT, "for the user"),
        ("ServerCredentials(scheme='token', secret='tok-123')", "tok-123", "scheme='token'"),
    ],
)
def test_secrets_are_hidden_and_the_rest_is_kept(text: str, secret: str, kept: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "***" in out
    assert kept in out


def test_text_without_secrets_is_unchanged() -> None:
    text = "Loaded 3 tokens in 0.2 s; exit code=1; password_policy ok; sign-in page https://login.example.com/a?b=1"
    assert redact(text) == text
