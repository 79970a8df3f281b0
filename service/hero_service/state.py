"""The parts of one running server and its lifecycle: starting, ready, draining."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from hero_service.metrics import Metrics
from hero_service.reward_model.base import EngineHealth, RewardModel
from hero_service.scorer import Scorer
from hero_service.settings import Settings
from hero_service.verifier import VerifierPool

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ServerState:
    """The parts of one running server, reachable from the routes as ``app.state.hero``."""

    settings: Settings
    metrics: Metrics
    verifier: VerifierPool
    reward_model: RewardModel
    scorer: Scorer
    ready: bool = False
    draining: bool = False
    drain_started: float = float("inf")
    """``time.monotonic()`` when draining began: requests that arrived earlier are still served."""
    failure: str | None = None
    """Why startup failed; the server then exits (see :class:`hero_service.server.HeroServer`)."""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _drains: set[asyncio.Task[None]] = field(default_factory=set)

    def refusal(self, arrived: float) -> str | None:
        """Why a request that arrived at ``arrived`` (monotonic) may not be served, or None.

        Draining refuses new work only: a request already in when SIGTERM came is finished."""
        if self.draining and self.failure is None and arrived < self.drain_started:
            return None
        return self._lifecycle_reason

    @property
    def not_ready_reason(self) -> str | None:
        """Why ``/ready`` says no: the lifecycle, or (once up) a remote RM engine that is down. The
        latter does not refuse requests: their items get RM status ``error`` and keep verifier rewards."""
        if (reason := self._lifecycle_reason) is not None:
            return reason
        if isinstance(self.reward_model, EngineHealth):
            return self.reward_model.unavailable_reason
        return None

    @property
    def _lifecycle_reason(self) -> str | None:
        if self.failure is not None:
            return f"startup failed: {self.failure}"
        if self.draining:
            return "draining: the server is shutting down"
        if not self.ready:
            if (store := self.scorer.store.not_ready_reason) is not None:
                return store
            return "starting: loading the reward model and the verifier pool"
        return None

    async def start(self) -> None:
        """Load the RM, start the verifier pool and reach the group store concurrently; ready when all
        are up (an unreachable Redis keeps the server not ready, with the reason, until it answers)."""
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.gather(self.verifier.start(), self.reward_model.start(), self.scorer.start())
        except Exception as exc:
            # One line that names the cause (and, for the errors this package raises, the fix); the chained
            # tracebacks of transformers and the hub client only at debug level.
            self.failure = " ".join(str(exc).split()) or type(exc).__name__
            if not isinstance(exc, ValueError | OSError):
                self.failure = f"{type(exc).__name__}: {self.failure}"
            log.error("startup failed: %s", self.failure)
            log.debug("startup failure", exc_info=True)
        else:
            self.ready = True
            info = self.reward_model.info
            log.info("ready: model=%s kind=%s input=%s runtime=%s", info.model_id, info.kind, info.input,
                     info.runtime)
        finally:
            self.started.set()

    def begin_drain(self) -> None:
        """Start :meth:`drain` in the background, from any thread (a signal handler, a test stopping a
        server it runs in a thread); a no-op before :meth:`start`."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._drain_task)

    def _drain_task(self) -> None:
        task = asyncio.get_running_loop().create_task(self.drain(), name="hero-drain")
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def drain(self) -> None:
        """Refuse new work (503, /ready too) and score every group still waiting for parts."""
        if not self.draining:
            self.drain_started = time.monotonic()
        self.draining = True
        self.ready = False
        await self.scorer.flush()

    async def stop(self) -> None:
        """Drain, then stop the parts in reverse order of their start."""
        await self.drain()
        await self.scorer.close()
        await self.reward_model.close()
        await self.verifier.close()
