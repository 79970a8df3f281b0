"""While a failed startup is ending the process, /health and /ready say it failed, and why."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from hero_service.app import create_app
from hero_service.reward_model.base import RMItem, RMScore
from hero_service.settings import Settings

from .conftest import LengthRM


class UnloadableRM(LengthRM):
    async def start(self) -> None:
        raise ValueError("HERO_RM_MODEL=/models/rm: no such directory. Fix: give an existing directory.")

    async def score(self, items: list[RMItem]) -> list[RMScore]:  # type: ignore[override]
        raise AssertionError("never started")


async def test_health_and_ready_report_a_failed_startup() -> None:
    app = create_app(Settings(verifier_workers=1), reward_model=UnloadableRM())
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        await app.state.hero.started.wait()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hero") as client:
            health, ready = await client.get("/health"), await client.get("/ready")
    assert health.status_code == 503
    assert health.json()["status"] == "failed"
    assert "/models/rm: no such directory" in health.json()["reason"]
    assert ready.status_code == 503
    assert ready.json()["status"] == "failed"
    assert "retry-after" not in ready.headers  # a permanent failure: nothing to retry
