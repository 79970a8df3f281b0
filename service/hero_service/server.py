"""uvicorn with a drain step: on SIGTERM the app stops taking work and answers its waiting groups
*before* uvicorn waits for open connections, so no part of a group is left hanging."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from hero_service.settings import Settings
from hero_service.state import ServerState


class HeroServer(uvicorn.Server):
    """A ``uvicorn.Server`` that drains the app's scorer when shutdown begins."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn would otherwise wait for in-flight requests first, and a request whose group is
        # still missing parts would wait for them until the drain timeout cut it off.
        await self.state.drain()
        await super().shutdown(sockets=sockets)

    async def on_tick(self, counter: int) -> bool:
        # A failed startup is permanent: exit (the CLI makes it a non-zero status) rather than answer
        # "not ready" forever to probes that would retry it.
        if self.state.failure is not None:
            return True
        return await super().on_tick(counter)


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
        # Logging is configured by hero_service.logs; uvicorn must not replace it.
        log_config=None,
    )
    return HeroServer(config, app.state.hero)
