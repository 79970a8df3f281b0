"""uvicorn as ``hero-reward serve`` runs it: with a deadline for a request's headers, so a client that
trickles them (or sends nothing) cannot hold a connection, and an exit once startup has failed. (Drain on
SIGTERM is the app's own, in its lifespan: any ASGI server gets it.)"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from hero_service.settings import Settings
from hero_service.state import ServerState


class HeroServer(uvicorn.Server):
    """A ``uvicorn.Server`` that exits once the app's startup has failed."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.state = state

    async def on_tick(self, counter: int) -> bool:
        # A failed startup is permanent: exit (the CLI makes it a non-zero status) rather than answer
        # "not ready" forever to probes that would retry it.
        if self.state.failure is not None:
            return True
        return await super().on_tick(counter)


class _HeaderDeadline(asyncio.Protocol):
    """Mixed into uvicorn's HTTP protocol: a connection that has not sent a request's headers within
    ``header_timeout_s`` of opening (or of its previous response) is closed. uvicorn has no such limit,
    and its keep-alive timer restarts on every byte, so one byte a second would hold a connection forever."""

    header_timeout_s: float = 10.0
    transport: asyncio.Transport
    cycle: Any
    loop: asyncio.AbstractEventLoop
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None and self._headers_in():
            self._header_timer.cancel()
            self._header_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _headers_in(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self._headers_in() and not self.transport.is_closing():
            self.transport.close()


def http_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, as uvicorn's ``auto`` picks, else h11) with
    the header deadline."""
    base: type[asyncio.Protocol] = H11Protocol
    if importlib.util.find_spec("httptools") is not None:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    return type(f"HeaderDeadline{base.__name__}", (_HeaderDeadline, base), {"header_timeout_s": header_timeout_s})


def build_server(app: FastAPI, settings: Settings) -> HeroServer:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # The middleware logs each request without its query string, which may hold an API key.
        access_log=False,
        timeout_graceful_shutdown=int(settings.drain_timeout_s),
        lifespan="on",
        http=http_protocol(settings.header_timeout_s),
        # Above this many connections (or requests in progress) uvicorn answers 503 and closes.
        limit_concurrency=settings.max_connections,
        # Logging is configured by hero_service.logs; uvicorn must not replace it.
        log_config=None,
    )
    return HeroServer(config, app.state.hero)
