"""The RM on an engine that runs elsewhere: vLLM's ``/classify`` (``--runner pooling --convert classify``).

This server still renders, truncates and tokenizes, with the in-process engine's own code
(:meth:`HFRewardModel.load_tokenizer` and :meth:`HFRewardModel.encode`), so both backends put the same
token ids through the model. The engine gets the ids and answers the classification head's raw value
(``use_activation: false``; vLLM's default would apply a sigmoid).

No batching here: each request's items go out as one call (or a few, ``max_batch_size`` items each), at most
``concurrency`` calls at once, and vLLM's continuous batching schedules them by tokens. Several base URLs
are balanced (fewest calls in flight, ties in turn) with failover: a call that fails on one engine is
retried on another, a bounded number of times, with a per-call timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from hero_service.errors import QueueFullError
from hero_service.logs import redact_url
from hero_service.reward_model.base import ModelInfo, RemoteEngine, RMItem, RMScore
from hero_service.reward_model.batcher import BatcherClosedError, BatchObserver, NullObserver

log = logging.getLogger(__name__)

ENGINE = "vllm"


class EngineError(Exception):
    """One engine call failed in a way another try (or another engine) may not: retried."""


class EngineBusyError(EngineError):
    """The engine answered 429: it is overloaded. When every try gets it, the caller gets 429 too."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EngineRejectedError(Exception):
    """The engine refused the input itself (4xx): another try would get the same answer."""


@dataclass(eq=False, slots=True)
class Endpoint:
    """One engine's base URL and what this replica last saw of it."""

    url: str
    healthy: bool = False
    reason: str | None = "not checked yet"
    in_flight: int = 0
    max_model_len: int | None = None

    @property
    def label(self) -> str:
        return redact_url(self.url)


class Balancer:
    """Which engine takes the next call: a healthy one with the fewest calls in flight, ties in turn.

    When none is known healthy, every one is tried (the health poll may lag an engine that came back).
    Pure bookkeeping, no I/O."""

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise ValueError("the remote reward model needs at least one engine URL")
        self.endpoints = [Endpoint(u) for u in urls]
        self._turn = itertools.count()

    def pick(self, tried: Sequence[Endpoint] = ()) -> Endpoint:
        """The engine for the next try of a call that already failed on ``tried``."""
        pool = [e for e in self.endpoints if e.healthy] or self.endpoints
        fresh = [e for e in pool if e not in tried] or [e for e in self.endpoints if e not in tried] or pool
        start = next(self._turn) % len(fresh)
        rotated = fresh[start:] + fresh[:start]
        return min(rotated, key=lambda e: e.in_flight)

    @property
    def unavailable_reason(self) -> str | None:
        if any(e.healthy for e in self.endpoints):
            return None
        causes = "; ".join(f"{e.label}: {e.reason}" for e in self.endpoints)
        return f"reward model engine unavailable ({causes})"


@dataclass(slots=True)
class Throughput:
    """Mean seconds per engine call (EWMA), to size the Retry-After of a 429."""

    seconds: float = 1.0
    alpha: float = 0.2

    def add(self, seconds: float) -> None:
        self.seconds += self.alpha * (seconds - self.seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteConfig:
    """How the remote backend talks to its engine(s); built from the ``HERO_RM_*`` settings."""

    urls: tuple[str, ...]
    served_model: str
    timeout_s: float = 60.0
    retries: int = 2
    concurrency: int = 64
    health_interval_s: float = 2.0
    max_batch_size: int = 64
    max_queue: int = 8192
    backoff_s: float = 0.1
    """First wait between tries (doubling, at most 2 s); 0 in tests."""
    tokenize_workers: int = 1
    extra_headers: dict[str, str] = field(default_factory=dict)


class RemoteRewardModel:
    """A :class:`~hero_service.reward_model.base.RewardModel` whose forward pass runs on a vLLM server.

    ``encoder`` is an :class:`~hero_service.reward_model.hf.HFRewardModel` that only ever loads its tokenizer.
    ``transport`` replaces the network (tests pass an ``httpx.MockTransport``).
    """

    def __init__(
        self,
        model_id: str,
        encoder: Any,
        config: RemoteConfig,
        *,
        observer: BatchObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._model_id = model_id
        self._encoder = encoder
        self.config = config
        self.balancer = Balancer(config.urls)
        self._observer: BatchObserver = observer if observer is not None else NullObserver()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._calls: asyncio.Semaphore | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._poller: asyncio.Task[None] | None = None
        self._pending = 0
        self._latency = Throughput()

    # --- lifecycle ---

    @property
    def info(self) -> ModelInfo:
        endpoints = self.balancer.endpoints
        return ModelInfo(
            model_id=self._model_id,
            kind="reward-model",
            max_length=self._encoder.max_length,
            end_tokens=tuple(self._encoder.end_tokens),
            # No batcher here: the engine batches by tokens; this side caps a call and what may wait.
            batching={"max_batch_size": self.config.max_batch_size, "max_queue": self.config.max_queue,
                      "concurrency": self.config.concurrency},
            runtime=RemoteEngine(name=ENGINE, urls=tuple(e.label for e in endpoints),
                                 served_model=self.config.served_model,
                                 healthy=tuple(e.label for e in endpoints if e.healthy)),
        )

    @property
    def unavailable_reason(self) -> str | None:
        if self._client is None:
            return "the remote reward model is not running"
        return self.balancer.unavailable_reason

    async def start(self) -> None:
        """Load the tokenizer and start polling the engines. Does not wait for an engine: ``/ready`` says
        when one answers (a 72B engine may load for many minutes after this server is up)."""
        if self._client is not None:
            return
        self._pool = ThreadPoolExecutor(self.config.tokenize_workers, thread_name_prefix="hero-rm-tokenize")
        await asyncio.get_running_loop().run_in_executor(self._pool, self._encoder.load_tokenizer)
        if self._encoder.input_layout == "pair":
            # A text-pair RM (no chat template) needs its segment ids, and /classify takes token ids only.
            raise ValueError(
                f"{self._model_id} has no chat template, so it is a text-pair RM, which a remote engine cannot "
                "score from token ids alone. Fix: serve it in-process (unset HERO_RM_URL)."
            )
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(self.config.timeout_s),
            limits=httpx.Limits(max_connections=self.config.concurrency + len(self.config.urls),
                                max_keepalive_connections=self.config.concurrency),
            headers=self.config.extra_headers,
        )
        self._calls = asyncio.Semaphore(self.config.concurrency)
        await self.check_health()
        self._poller = asyncio.create_task(self._poll(), name="hero-rm-engine-health")
        log.info("remote reward model %s on %s (%s)", self._model_id,
                 ", ".join(e.label for e in self.balancer.endpoints), self.unavailable_reason or "ready")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    # --- health ---

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_interval_s)
            try:
                await self.check_health()
            except Exception:  # a bug here must not stop the polling, or /ready would freeze
                log.exception("engine health check failed")

    async def check_health(self) -> None:
        """Ask every engine's ``/health``; on a first answer, check it serves the model (``/v1/models``)."""
        await asyncio.gather(*(self._check(e) for e in self.balancer.endpoints))

    async def _check(self, endpoint: Endpoint) -> None:
        assert self._client is not None
        timeout = min(self.config.timeout_s, 10.0)
        was = endpoint.healthy
        try:
            health = await self._client.get(f"{endpoint.url}/health", timeout=timeout)
            if health.status_code != 200:
                raise EngineError(f"/health answered {health.status_code}")
            if endpoint.max_model_len is None:
                endpoint.max_model_len = await self._served_length(endpoint, timeout)
                self._fit_length(endpoint)
        except (httpx.HTTPError, EngineError, EngineRejectedError) as exc:
            endpoint.healthy = False
            endpoint.reason = _describe(exc)
            endpoint.max_model_len = None  # what comes back may serve another model: check it again
            if was:
                log.warning("reward model engine %s is down: %s", endpoint.label, endpoint.reason)
            return
        endpoint.healthy, endpoint.reason = True, None
        if not was:
            log.info("reward model engine %s is up", endpoint.label)

    async def _served_length(self, endpoint: Endpoint, timeout: float) -> int:
        assert self._client is not None
        reply = await self._client.get(f"{endpoint.url}/v1/models", timeout=timeout)
        if reply.status_code != 200:
            raise EngineError(f"/v1/models answered {reply.status_code}")
        models = {m.get("id"): m for m in reply.json().get("data", []) if isinstance(m, dict)}
        served = models.get(self.config.served_model)
        if served is None:
            raise EngineRejectedError(
                f"serves {sorted(map(str, models))}, not {self.config.served_model!r} "
                "(set HERO_RM_SERVED_MODEL to the engine's --served-model-name)")
        length = served.get("max_model_len")
        return length if isinstance(length, int) and length > 0 else 2**31

    def _fit_length(self, endpoint: Endpoint) -> None:
        """Truncate to what the engine accepts, as the in-process engine does to the model's positions."""
        length = endpoint.max_model_len
        if length is not None and length < self._encoder.max_length:
            log.warning("HERO_RM_MAX_LENGTH=%d is past %s's --max-model-len %d; using %d",
                        self._encoder.max_length, endpoint.label, length, length)
            self._encoder.max_length = length

    # --- scoring ---

    async def score(self, items: Sequence[RMItem]) -> list[RMScore]:
        """Score ``items`` (one result each). Engine failures become status ``error``; overload raises
        :class:`QueueFullError` (here: items waiting past ``max_queue``, or every engine answering 429)."""
        if self._client is None or self._pool is None:
            raise BatcherClosedError("the reward model is not running (not started, or shutting down)")
        n = len(items)
        if n == 0:
            return []
        # An idle replica takes any request, however large, as the in-process queue does.
        if self._pending and self._pending + n > self.config.max_queue:
            raise QueueFullError(retry_after=self._retry_after())
        self._set_pending(self._pending + n)
        try:
            started = time.perf_counter()
            encoded = await asyncio.get_running_loop().run_in_executor(self._pool, self._encoder.encode, items)
            self._observer.on_tokenize(time.perf_counter() - started)
            truncated = sum(e.truncated for e in encoded)
            if truncated:
                self._observer.on_truncated(truncated)
            size = self.config.max_batch_size
            chunks = [encoded[i : i + size] for i in range(0, n, size)]
            values = await asyncio.gather(*(self._score_chunk([e.ids for e in c]) for c in chunks))
        finally:
            self._set_pending(self._pending - n)
        scores = [v for chunk in values for v in chunk]
        return [RMScore(None, truncated=e.truncated, status="error") if v is None
                else RMScore(v, truncated=e.truncated) for e, v in zip(encoded, scores, strict=True)]

    async def _score_chunk(self, ids: list[list[int]]) -> list[float | None]:
        """One engine call's values; None for each item when every try failed."""
        assert self._calls is not None
        async with self._calls:
            self._observer.on_batch(len(ids), sum(len(r) for r in ids))
            started = time.perf_counter()
            try:
                values = await self.classify(ids)
            except EngineBusyError as exc:
                raise QueueFullError(retry_after=exc.retry_after) from exc
            except (EngineError, EngineRejectedError) as exc:
                log.error("reward model engine failed on %d items: %s", len(ids), _describe(exc))
                self._observer.on_error(len(ids))
                return [None] * len(ids)
            finally:
                elapsed = time.perf_counter() - started
                self._observer.on_inference(elapsed)
                self._latency.add(elapsed)
        return [v if math.isfinite(v) else None for v in values]

    async def classify(self, ids: list[list[int]]) -> list[float]:
        """The head's raw value for each token-id row, from the first engine (of a few tries) that answers."""
        tried: list[Endpoint] = []
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.retries + 1),
            wait=wait_exponential(multiplier=self.config.backoff_s, max=2.0),
            retry=retry_if_exception_type(EngineError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                endpoint = self.balancer.pick(tried)
                tried.append(endpoint)
                return await self._call(endpoint, ids)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _call(self, endpoint: Endpoint, ids: list[list[int]]) -> list[float]:
        assert self._client is not None
        body = {"model": self.config.served_model, "input": ids, "use_activation": False}
        endpoint.in_flight += 1
        try:
            reply = await self._client.post(f"{endpoint.url}/classify", json=body)
        except httpx.TimeoutException as exc:
            raise EngineError(f"{endpoint.label}: no answer in {self.config.timeout_s:g}s") from exc
        except httpx.TransportError as exc:
            # Refused or cut: the engine is gone. /ready says so at once; the poll brings it back.
            endpoint.healthy, endpoint.reason, endpoint.max_model_len = False, _describe(exc), None
            raise EngineError(f"{endpoint.label}: {_describe(exc)}") from exc
        finally:
            endpoint.in_flight -= 1
        if reply.status_code == 429:
            raise EngineBusyError(f"{endpoint.label}: 429", _retry_after(reply, self._retry_after()))
        if reply.status_code >= 500:
            raise EngineError(f"{endpoint.label}: {reply.status_code} {reply.text[:200]}")
        if reply.status_code != 200:
            raise EngineRejectedError(f"{endpoint.label}: {reply.status_code} {reply.text[:300]}")
        return parse_classify(reply.json(), len(ids))

    def _set_pending(self, n: int) -> None:
        self._pending = n
        self._observer.on_queue_size(n)

    def _retry_after(self) -> float:
        """Seconds until the queue has room: the calls ahead, run ``concurrency`` at a time."""
        calls_ahead = self._pending / max(1, self.config.max_batch_size)
        return max(1.0, self._latency.seconds * calls_ahead / self.config.concurrency)


def parse_classify(body: Any, n: int) -> list[float]:
    """The first head value of each of ``n`` inputs from vLLM's ``/classify`` answer, in input order."""
    try:
        data = sorted(body["data"], key=lambda d: d["index"])
        values = [float(d["probs"][0]) for d in data]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise EngineError(f"unexpected /classify answer: {str(body)[:200]}") from exc
    if len(values) != n:
        raise EngineError(f"/classify answered {len(values)} values for {n} inputs")
    return values


def _retry_after(reply: httpx.Response, default: float) -> float:
    try:
        return max(1.0, float(reply.headers.get("retry-after", default)))
    except ValueError:
        return default


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, EngineError | EngineRejectedError) else f"{type(exc).__name__}: {text}"
