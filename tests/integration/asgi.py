"""The app in the test's own event loop (its lifespan run by asgi-lifespan), for tests that reach into it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def ready_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` once its /ready answers 200 (polled for at most a minute)."""
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hero", timeout=60) as client:
            for _ in range(600):
                if (await client.get("/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            yield client
