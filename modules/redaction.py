"""Credentials out of everything shown, stored or logged: API keys, auth headers and user:password@ in URLs."""

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from modules import limits

MIN_KEY = 4  # a configured key shorter than this is not searched for (it would blank ordinary words)
HIDDEN = "***"
URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s'\"<>]*@")
HEADER = re.compile(  # a header's name, its separator (maybe quoted: echoed JSON), then its value's scheme and token
    r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key)([\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?:bearer|basic|token)\s+)?[^\s'\",;}]+"
)
BEARER = re.compile(r"(?i)\bbearer\s+[^\s'\",;}]+")
KEY_SHAPED = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")


def configured_keys() -> list[str]:
    """The API keys in the environment now, longest first (so one key inside another is hidden whole)."""
    return sorted({key for key in limits.api_keys() if len(key) >= MIN_KEY}, key=len, reverse=True)


def redact(text) -> str:
    """`text` with every configured key, auth header value, Bearer token, sk-... token and URL credential hidden."""
    text = str(text)
    for key in configured_keys():
        text = text.replace(key, HIDDEN)
    text = URL_CREDENTIALS.sub(rf"\1{HIDDEN}@", text)
    text = HEADER.sub(rf"\1\2{HIDDEN}", text)
    text = BEARER.sub(f"Bearer {HIDDEN}", text)
    return KEY_SHAPED.sub(f"sk-{HIDDEN}", text)


def url_without_credentials(url: str) -> str:
    """`url` with any user:password@ dropped (http://user:pass@host/v1 -> http://host/v1), for labels."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class RedactingFilter(logging.Filter):
    """Hides credentials in a record's message, traceback and stack before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def protect_logs(*names: str) -> None:
    """Add the filter (once) to the named loggers and to the root logger's handlers."""
    targets = [logging.getLogger(name) for name in names] + list(logging.getLogger().handlers)
    for target in targets:
        if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
            target.addFilter(RedactingFilter())


protect_logs("lab", "httpx", "httpcore")
