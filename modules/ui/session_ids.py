"""Requests whose session id cannot name a visitor's folder are refused before Gradio sees them: Gradio itself
answers an empty id with HTTP 500, and on a shared deployment a reserved or odd id must never reach a handler."""

import json

from modules.paths import per_session, valid_session_id

REFUSAL = "This request has no valid session id: reload the page."
MAX_BODY = 1 << 20  # an event's JSON body is small; a larger one is left for Gradio to refuse


class RefuseOddSessionIds:
    """Pure ASGI middleware: reads the JSON body of an API POST once, checks its session_hash, and hands the same
    bytes on (a BaseHTTPMiddleware would consume the body)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_json(scope):
            return await self.app(scope, receive, send)
        body, more, messages = b"", True, []
        while more and len(body) <= MAX_BODY:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if not more and _odd_session(body):
            return await _refuse(send)

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


def _is_json(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    return headers.get(b"content-type", b"").startswith(b"application/json")


def _odd_session(body: bytes) -> bool:
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    if not isinstance(payload, dict) or "session_hash" not in payload:
        return False
    session = payload["session_hash"]
    if session in ("", None):
        return session == ""  # None: Gradio makes one itself
    return per_session() and not valid_session_id(session)


async def _refuse(send) -> None:
    body = json.dumps({"detail": REFUSAL}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
