"""Secrets out of text that is written down (the log file, copied error details) (no Qt).

``redact`` replaces what follows a secret's name with ``***`` and keeps the name, so a log line still says what
was there: bearer tokens and ``Authorization:`` / ``Cookie:`` headers, ``password=`` / ``client_secret=`` /
``…_TOKEN=`` / ``api_key=`` in query strings, environment dumps and reprs, ``"access_token": "…"`` in JSON,
``AccountKey=`` / ``SharedAccessKey=`` / ``SharedAccessSignature=`` / ``Password=`` in connection strings, SAS
``sig=`` parameters, user:password in URLs, and any JSON web token (``eyJ….….…``) wherever it stands.
It errs on the side of hiding: a continuation token named ``token=`` is hidden too.
"""

from __future__ import annotations

import re

HIDDEN = "***"

# Names whose value is a secret: a name ending in one of these words (MLFLOW_TRACKING_PASSWORD, client_secret,
# refresh_token, x-api-key, AccountKey), or one of the short ones on its own.
_SECRET_NAME = (
    r"(?:[\w-]*(?:secret|password|passwd|token|api[_-]?key|accountkey|sharedaccesskey|sharedaccesssignature"
    r"|client[_-]?assertion|private[_-]?key)|pwd|sig)"
)
# name, then = or : (perhaps quoted: "name": "value", 'name': 'value'), then the value: up to the closing quote
# when quoted, else up to a separator of query strings or reprs, or up to the ';' of a connection string (whose
# passwords may hold spaces).
_NAMED = re.compile(
    rf"(?P<name>(?<![\w-]){_SECRET_NAME})(?P<sep>['\"]?\s*[:=]\s*)"
    r"(?:(?P<quote>['\"])(?P<quoted>(?:\\.|(?!(?P=quote)).)*)(?P=quote)|(?P<bare>[^;\r\n&'\"]+(?=;)|[^\s&;,'\"})\]]+))",
    re.IGNORECASE,
)
# Header lines whose whole value is a credential ("Authorization: Basic dXNlcjpwYXNz", "Cookie: a=1; b=2").
_HEADER = re.compile(
    r"(?P<name>(?<![\w-])(?:proxy-)?(?:authorization|cookie|set-cookie))(?P<sep>['\"]?\s*[:=]\s*)"
    r"(?:(?P<quote>['\"])(?P<quoted>(?:\\.|(?!(?P=quote)).)*)(?P=quote)|(?P<bare>[^\r\n'\"]+))",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<scheme>\bbearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE)


def _keep_name(match: re.Match[str]) -> str:
    quote = match["quote"] or ""
    return f"{match['name']}{match['sep']}{quote}{HIDDEN}{quote}"


def redact(text: str) -> str:
    """``text`` with every secret it recognises replaced by ``***`` (names and the rest kept)."""
    text = _HEADER.sub(_keep_name, text)
    text = _BEARER.sub(lambda m: f"{m['scheme']}{HIDDEN}", text)
    text = _NAMED.sub(_keep_name, text)
    text = _JWT.sub(HIDDEN, text)
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{HIDDEN}@", text)
