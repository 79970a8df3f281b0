"""Per-request plumbing as plain ASGI middleware: request id, body-size limit, metrics, access log."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from hero_service import logs
from hero_service.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("hero_service.access")

# Metric labels come from this fixed set, so random paths cannot grow the series count.
_ROUTES = frozenset({"/score", "/get_reward", "/health", "/ready", "/metrics", "/info", "/docs",
                     "/openapi.json"})
# Polled every few seconds by probes and scrapers: at INFO they would drown the requests that matter.
_PROBES = frozenset({"/health", "/ready", "/metrics"})


# A client's X-Request-ID is written into every log line of its request: only a plain token is kept, so
# no id can carry spaces, brackets or newlines that would forge a log line or field.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:+=/-]{1,128}")


def request_id_from(header: bytes | None) -> str:
    """The client's id when it is a safe token (at most 128 of ``A-Z a-z 0-9 . _ : + = / -``), else a new one."""
    if header is not None and _SAFE_REQUEST_ID.fullmatch(header):
        return header.decode("ascii")
    return uuid.uuid4().hex


class _BodyTooLargeError(Exception):
    pass


class RequestContextMiddleware:
    """Tags every request with an id (``X-Request-ID``, echoed or made), refuses bodies over
    ``max_body_bytes`` with 413 and bodies slower than ``body_timeout_s`` with 408, counts and times
    requests, and logs one line per request without its query string (which may carry an API key)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int,
                 body_timeout_s: float = 60.0) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # When the request arrived, for the drain rule: what came in before SIGTERM is finished.
        scope.setdefault("state", {})["arrived"] = time.monotonic()
        headers = dict(scope.get("headers") or [])
        request_id = request_id_from(headers.get(b"x-request-id"))
        path: str = scope.get("path", "")
        route = path if path in _ROUTES else "other"
        token = logs.request_id.set(request_id)
        in_flight = self.metrics.in_flight.labels(route=route)
        status = 500
        response_started = False

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            status = await self._too_large(send, request_id)
            self._record(scope, route, status, started)
            logs.request_id.reset(token)
            return

        received = 0
        body_done = False
        body_due = time.monotonic() + self.body_timeout_s

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # later receives wait for a disconnect: no deadline on those
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, body_due - time.monotonic()))
            except asyncio.TimeoutError:
                # FastAPI passes an HTTPException raised while it reads the body through to its handler.
                raise HTTPException(408, f"the request body did not arrive within {self.body_timeout_s:g} s "
                                    "(HERO_BODY_TIMEOUT_S)", headers={"Connection": "close"}) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        in_flight.inc()
        try:
            await self.app(scope, limited_receive, tagged_send)
        except _BodyTooLargeError:
            if not response_started:
                status = await self._too_large(send, request_id)
        finally:
            in_flight.dec()
            self._record(scope, route, status, started)
            logs.request_id.reset(token)

    async def _too_large(self, send: Send, request_id: str) -> int:
        body = json.dumps({"detail": f"request body exceeds the limit of {self.max_body_bytes} bytes "
                                     "(HERO_MAX_BODY_MB); send fewer groups per request"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"x-request-id", request_id.encode())]})
        await send({"type": "http.response.body", "body": body})
        return 413

    def _record(self, scope: Scope, route: str, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(route=route, status=str(status)).inc()
        self.metrics.request_duration.labels(route=route).observe(elapsed)
        log.log(logging.DEBUG if route in _PROBES else logging.INFO, "%s %s %d %.1fms",
                scope.get("method", "?"), scope.get("path", ""), status, elapsed * 1000)
