"""A real app served by uvicorn on a free localhost port, in a thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from hero_service.app import create_app
from hero_service.reward_model.base import InProcess, ModelInfo, RMItem, RMScore
from hero_service.server import HeroServer, build_server
from hero_service.settings import Settings


@dataclass
class Served:
    app: FastAPI
    base_url: str
    server: HeroServer
    thread: threading.Thread

    def stop(self) -> None:
        """What SIGTERM does: the app's drain (its lifespan hooks the signal, which a server in a thread
        does not get) beside uvicorn's shutdown."""
        self.app.state.hero.begin_drain()
        self.server.should_exit = True
        self.thread.join(timeout=60)


def serve(app: FastAPI) -> Iterator[Served]:
    """Run ``app`` with the production server class until the generator is closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    state = app.state.hero
    server = build_server(app, state.settings.model_copy(update={"log_level": "warning"}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    served = Served(app, f"http://127.0.0.1:{port}", server, thread)
    keys = state.settings.api_key_list
    headers = {"Authorization": f"Bearer {keys[0]}"} if keys else {}
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{served.base_url}/ready", headers=headers, timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            served.stop()
            raise RuntimeError(f"server did not become ready: {state.not_ready_reason}")
        time.sleep(0.1)
    try:
        yield served
    finally:
        served.stop()
        sock.close()


class LengthRM:
    """A deterministic stand-in RM (score = response length / 10) for exact-arithmetic tests."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.calls = 0

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(model_id="length", kind="test-length", runtime=InProcess(device="cpu", dtype="float32"))

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def score(self, items: Sequence[RMItem]) -> list[RMScore]:
        self.calls += 1
        await asyncio.sleep(0)
        return [RMScore(None, status="error") if self.fail_on and self.fail_on in item.response
                else RMScore(len(item.response) / 10) for item in items]


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[Served]:
    """The README default: embedded MiniLM scorer, real verifier pool."""
    yield from serve(create_app(Settings(verifier_workers=2)))


@pytest.fixture(scope="session")
def length_server() -> Iterator[Served]:
    """A real app and verifier pool with the deterministic LengthRM, a short group deadline and keys."""
    settings = Settings(verifier_workers=2, group_deadline_s=1.0, api_keys="k1,k2", max_body_mb=0.5,
                        max_groups=50, max_responses=200)
    yield from serve(create_app(settings, reward_model=LengthRM(fail_on="RM-FAILS")))


@pytest.fixture
def make_server() -> Iterator[Callable[..., Served]]:
    """Start extra servers with custom settings for one test; all stop at its end."""
    running: list[Iterator[Served]] = []

    def start(settings: Settings, **parts: object) -> Served:
        gen = serve(create_app(settings, **parts))  # type: ignore[arg-type]
        running.append(gen)
        return next(gen)

    yield start
    for gen in running:
        gen.close()
