"""The access log: probes and scrapes at DEBUG, every other request at INFO."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hero_service.metrics import Metrics
from hero_service.middleware import Message, RequestContextMiddleware


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def request(app: RequestContextMiddleware, path: str) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    await app({"type": "http", "method": "GET", "path": path, "headers": []}, receive, send)


async def test_probes_are_logged_at_debug_and_requests_at_info(caplog: pytest.LogCaptureFixture) -> None:
    app = RequestContextMiddleware(ok, metrics=Metrics(), max_body_bytes=1024)
    caplog.set_level(logging.DEBUG, logger="hero_service.access")
    for path in ("/ready", "/health", "/metrics", "/score", "/info"):
        await request(app, path)
    levels = {r.getMessage().split()[1]: r.levelno for r in caplog.records if r.name == "hero_service.access"}
    assert levels == {"/ready": logging.DEBUG, "/health": logging.DEBUG, "/metrics": logging.DEBUG,
                      "/score": logging.INFO, "/info": logging.INFO}
