"""``create_app(settings)``: the one place where the server's parts are built and wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType
from typing import Any

from fastapi import FastAPI

from hero_service import __version__
from hero_service.api import install_error_handlers, router
from hero_service.groups.backend import group_backend
from hero_service.hero import SigmaTracker
from hero_service.metrics import Metrics
from hero_service.middleware import RequestContextMiddleware
from hero_service.reward_model import build_reward_model
from hero_service.reward_model.base import RewardModel
from hero_service.scorer import Scorer
from hero_service.settings import Settings
from hero_service.state import ServerState
from hero_service.verifier import VerifierPool

log = logging.getLogger(__name__)


def build_state(
    settings: Settings,
    *,
    reward_model: RewardModel | None = None,
    verifier: VerifierPool | None = None,
) -> ServerState:
    """Construct (not start) every part; ``reward_model``/``verifier`` replace the configured ones."""
    metrics = Metrics(max_sessions=settings.max_sessions)
    verifier = verifier if verifier is not None else VerifierPool(
        workers=settings.verifier_workers,
        timeout_s=settings.verifier_timeout_s,
        max_tasks=settings.verifier_max_tasks,
        memory_mb=settings.verifier_memory_mb,
        policy=settings.verifier_policy,
        batch_size=settings.verifier_batch_size,
        cache_size=settings.verifier_cache_size,
    )
    rm = reward_model if reward_model is not None else build_reward_model(settings, observer=metrics)
    sigma = SigmaTracker(settings.sigma_momentum, settings.max_sessions, on_evict=metrics.drop_sigma_ref)
    groups = group_backend(settings, sigma, momentum=settings.sigma_momentum, metrics=metrics)
    scorer = Scorer(verifier=verifier, reward_model=rm, metrics=metrics, sigma=sigma, groups=groups)
    return ServerState(settings=settings, metrics=metrics, verifier=verifier, reward_model=rm, scorer=scorer)


def create_app(
    settings: Settings | None = None,
    *,
    reward_model: RewardModel | None = None,
    verifier: VerifierPool | None = None,
) -> FastAPI:
    """The ASGI app. Startup (in the lifespan) loads in the background so /health answers at once
    and /ready turns 200 when the model and the verifier pool are up."""
    settings = settings if settings is not None else Settings()
    state = build_state(settings, reward_model=reward_model, verifier=verifier)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        startup = asyncio.create_task(state.start(), name="hero-startup")
        try:
            with _drain_on_signals(state):
                yield
        finally:
            if not startup.done():
                startup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await startup
            await state.stop()

    app = FastAPI(
        title="hero-reward",
        version=__version__,
        summary="HERO hybrid rewards: a symbolic verifier and a reward model, combined per rollout group.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a public CDN: blank on an offline cluster, and
        # third-party code run from this origin. The OpenAPI schema (/openapi.json) is always served.
        docs_url="/docs" if settings.docs else None,
        redoc_url=None,
    )
    app.state.hero = state
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics,
                       max_body_bytes=int(settings.max_body_mb * 1024 * 1024),
                       body_timeout_s=settings.body_timeout_s)
    install_error_handlers(app)
    app.include_router(router)
    return app


@contextlib.contextmanager
def _drain_on_signals(state: ServerState) -> Iterator[None]:
    """Start draining as soon as SIGTERM/SIGINT arrives, then pass the signal on to the server's handler.

    An ASGI server runs the lifespan's shutdown only after its open requests have finished, and a request
    whose group still misses parts would wait for them until the server's grace period cut it off. So the
    drain cannot wait for the lifespan's shutdown: it starts here, beside the server's own shutdown, whatever
    server runs the app (``hero-reward serve``, ``uvicorn --factory``, gunicorn's uvicorn worker). A signal
    the server leaves at its default keeps its default: the process dies at once, as it would without us."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only; a server run in a thread is stopped by its owner
        return
    chained: dict[int, Callable[[int, FrameType | None], Any]] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        state.begin_drain()
        chained[signum](signum, frame)

    for sig in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(sig)
        if callable(handler):
            chained[sig] = handler
            signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for signum, handler in chained.items():
            if signal.getsignal(signum) is on_signal:
                signal.signal(signum, handler)
