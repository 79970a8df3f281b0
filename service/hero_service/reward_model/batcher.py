"""A dynamic batcher for reward models: one queue for every request, batches cut by a padded-token budget.

It knows nothing of torch or of the web layer. The engine hands it two callables:

- ``encode(items) -> encoded``: tokenization, run on a small thread pool as each request arrives, so the
  length of every queued item is known and tokenizing the next requests overlaps the current forward pass;
- ``forward(batch) -> scores``: one forward pass, run on the engine's own executor (one dedicated thread).

A batch closes when its padded size (longest item x items x rows per item) would pass
``max_batch_tokens``, at ``max_batch_size`` items, or ``max_wait_ms`` after the first waiting item
arrived. Items are sorted by length within a window of the queue so that similar lengths share a batch and
padding stays small. A request is admitted whole or refused (:class:`QueueFullError`) before any of it is
tokenized, and one whose caller has gone leaves the queue at once. ``forward`` raising
:class:`BatchTooLargeError` splits the batch in halves; any other exception fails that batch's items only,
and an item that cannot be tokenized fails alone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from hero_service.errors import QueueFullError
from hero_service.reward_model.base import RMScore

log = logging.getLogger(__name__)


class Encoded(Protocol):
    """What the batcher needs to know about a tokenized item."""

    @property
    def length(self) -> int:
        """Tokens in the item's longest row; the padded cost of a batch is built from it."""
        ...

    @property
    def truncated(self) -> bool: ...


ItemT = TypeVar("ItemT")
EncT = TypeVar("EncT", bound=Encoded)


class BatchTooLargeError(Exception):
    """Raised by ``forward`` when the batch did not fit in memory; the batcher retries it in halves."""


class BatcherClosedError(RuntimeError):
    """The batcher is closing or closed and takes no new items."""


class BatchObserver(Protocol):
    """Hooks for metrics, called on the event loop. Keep them cheap: they sit on the batching path."""

    def on_queue_size(self, n: int) -> None:
        """Items accepted and not yet handed to a forward pass."""

    def on_batch(self, size: int, tokens: int) -> None:
        """A batch is about to run: ``size`` items, ``tokens`` padded tokens."""

    def on_tokenize(self, seconds: float) -> None:
        """One request's items were tokenized."""

    def on_inference(self, seconds: float) -> None:
        """One forward pass finished (successfully or not)."""

    def on_truncated(self, n: int) -> None:
        """``n`` items of one request were cut to the model's max length."""

    def on_error(self, n: int) -> None:
        """``n`` items failed in a forward pass and were answered with status ``error``."""


class NullObserver:
    """The default observer: every hook does nothing. Subclass it to implement only some hooks."""

    def on_queue_size(self, n: int) -> None:
        pass

    def on_batch(self, size: int, tokens: int) -> None:
        pass

    def on_tokenize(self, seconds: float) -> None:
        pass

    def on_inference(self, seconds: float) -> None:
        pass

    def on_truncated(self, n: int) -> None:
        pass

    def on_error(self, n: int) -> None:
        pass


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchLimits:
    """How batches are cut. The defaults mirror :class:`hero_service.settings.Settings`."""

    max_batch_tokens: int = 16384
    max_batch_size: int = 64
    max_wait_ms: float = 5.0
    max_queue: int = 8192
    sort_window: int | None = None
    """Items popped, sorted by length and cut into batches at once. None: 8 x max_batch_size."""
    rows_per_item: int = 1
    """Sequences one item puts through the model (2 for a scorer that embeds response and reference)."""
    tokenize_workers: int = 1

    def __post_init__(self) -> None:
        for name in ("max_batch_tokens", "max_batch_size", "max_queue", "rows_per_item", "tokenize_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"BatchLimits.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ValueError(f"BatchLimits.max_wait_ms must be >= 0, got {self.max_wait_ms}")

    @property
    def window(self) -> int:
        return self.sort_window if self.sort_window is not None else 8 * self.max_batch_size


@dataclass(eq=False, slots=True)
class _Request:
    """One caller's items; its future resolves when every item has a score."""

    future: asyncio.Future[list[RMScore]]
    results: list[RMScore | None]
    remaining: int
    unfed: int
    """Items admitted and not yet tokenized and queued (they count towards the queue's size)."""

    def put(self, index: int, score: RMScore) -> None:
        self.results[index] = score
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result([r for r in self.results if r is not None])


@dataclass(eq=False, slots=True)
class _Entry(Generic[EncT]):
    encoded: EncT
    request: _Request
    index: int
    arrived: float


@dataclass(slots=True)
class _Throughput:
    """A running estimate of items per second, for Retry-After."""

    items_per_s: float = 0.0
    _weight: float = field(default=0.2, repr=False)

    def update(self, items: int, seconds: float) -> None:
        rate = items / max(seconds, 1e-6)
        self.items_per_s = rate if self.items_per_s == 0 else (
            (1 - self._weight) * self.items_per_s + self._weight * rate
        )


T = TypeVar("T")


def cut_batches(items: Sequence[T], length: Callable[[T], int], limits: BatchLimits) -> list[list[T]]:
    """Sort ``items`` by length and cut them into batches under the padded-token budget and size cap.

    An item longer than the whole budget gets a batch of its own rather than being refused here.
    """
    batches: list[list[T]] = []
    current: list[T] = []
    for item in sorted(items, key=length):
        # Sorted ascending, so this item sets the batch's padded width.
        width = length(item)
        if current and (
            len(current) + 1 > limits.max_batch_size
            or width * (len(current) + 1) * limits.rows_per_item > limits.max_batch_tokens
        ):
            batches.append(current)
            current = []
        current.append(item)
    if current:
        batches.append(current)
    return batches


class Batcher(Generic[ItemT, EncT]):
    """Collects items from concurrent :meth:`submit` calls into batches and runs them one at a time."""

    def __init__(
        self,
        *,
        encode: Callable[[Sequence[ItemT]], Sequence[EncT]],
        forward: Callable[[Sequence[EncT]], Sequence[float]],
        forward_executor: Executor,
        limits: BatchLimits | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        self._encode = encode
        self._forward = forward
        self._forward_executor = forward_executor
        self.limits = limits if limits is not None else BatchLimits()
        self._observer: BatchObserver = observer if observer is not None else NullObserver()
        self._queue: collections.deque[_Entry[EncT]] = collections.deque()
        self._queued_tokens = 0
        # Accepted and not yet in a forward pass: the items still tokenizing count too, so a burst of
        # requests cannot overrun max_queue while the tokenizer is behind.
        self._pending = 0
        self._throughput = _Throughput()
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._tokenizer_pool: ThreadPoolExecutor | None = None
        self._feeders: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def pending(self) -> int:
        """Items accepted and not yet handed to a forward pass."""
        return self._pending

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        self._wake = asyncio.Event()
        self._tokenizer_pool = ThreadPoolExecutor(
            self.limits.tokenize_workers, thread_name_prefix="hero-rm-tokenize"
        )
        self._loop_task = asyncio.create_task(self._run(), name="hero-rm-batcher")

    async def close(self) -> None:
        """Take no new items, score what is already queued, then stop."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        self._fail_queued("the reward model was closed")
        for feeder in list(self._feeders):  # requests still tokenizing get BatcherClosedError
            feeder.cancel()
        await asyncio.gather(*self._feeders, return_exceptions=True)
        if self._tokenizer_pool is not None:
            # Not cancel_futures: a request still tokenizing finishes that and then gets BatcherClosedError.
            self._tokenizer_pool.shutdown(wait=False)
            self._tokenizer_pool = None

    async def submit(self, items: Sequence[ItemT]) -> list[RMScore]:
        """Score ``items``; one result each, in order. Raises :class:`QueueFullError` under overload."""
        return await self.admit(items)

    def admit(self, items: Sequence[ItemT]) -> asyncio.Future[list[RMScore]]:
        """Admit ``items`` whole or not at all; the future gives one result each, in order.

        Admission is decided before this returns: either every item gets its place in the queue, or
        :class:`QueueFullError` (or :class:`BatcherClosedError`) is raised and nothing was queued, so a
        refused request costs nothing. Cancelling the future withdraws what is still queued.
        """
        if self._closing or self._loop_task is None or self._tokenizer_pool is None:
            raise BatcherClosedError("the reward model is not running (not started, or shutting down)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[RMScore]] = loop.create_future()
        n = len(items)
        if n == 0:
            future.set_result([])
            return future
        # An empty queue takes any request, however large, so one oversized request is not refused forever.
        if self._pending and self._pending + n > self.limits.max_queue:
            raise QueueFullError(retry_after=self._retry_after())
        self._set_pending(self._pending + n)
        request = _Request(future=future, results=[None] * n, remaining=n, unfed=n)
        future.add_done_callback(lambda f: self._withdraw(request) if f.cancelled() else None)
        feeder = loop.create_task(self._feed(request, items), name="hero-rm-tokenize")
        self._feeders.add(feeder)
        feeder.add_done_callback(self._feeders.discard)
        return future

    async def _feed(self, request: _Request, items: Sequence[ItemT]) -> None:
        """Tokenize an admitted request and queue it; its not-yet-queued items stop counting on any exit."""
        loop = asyncio.get_running_loop()
        try:
            # Tokenize in chunks of one sort window: a large request's first batches run while the rest
            # of it is still being tokenized, other requests' chunks interleave with its own on the
            # tokenizer pool, and each chunk is still sorted as a whole.
            chunk = self.limits.window
            for start in range(0, len(items), chunk):
                if request.future.done():  # withdrawn by its caller
                    return
                part = items[start : start + chunk]
                t0 = time.perf_counter()
                assert self._tokenizer_pool is not None
                encoded = await loop.run_in_executor(self._tokenizer_pool, self._encode_each, part)
                self._observer.on_tokenize(time.perf_counter() - t0)
                if request.future.done():
                    return
                self._enqueue(request, start, encoded, loop.time())
        except asyncio.CancelledError:
            if not request.future.done():
                request.future.set_exception(BatcherClosedError("the reward model was closed"))
        except Exception as exc:  # a bug in encode, or close() while tokenizing: the caller hears of it
            if not request.future.done():
                request.future.set_exception(exc)
        finally:
            self._set_pending(self._pending - request.unfed)
            request.unfed = 0

    def _encode_each(self, items: Sequence[ItemT]) -> list[EncT | None]:
        """``encode`` over ``items``; if it fails, item by item, so one bad item (None) costs only itself."""
        try:
            encoded = list(self._encode(items))
        except Exception:
            if len(items) == 1:
                log.exception("tokenizing one item failed; answering it with an error")
                return [None]
            return [enc for item in items for enc in self._encode_each([item])]
        if len(encoded) != len(items):
            raise RuntimeError(f"encode returned {len(encoded)} items for {len(items)}")
        return list(encoded)

    def _withdraw(self, request: _Request) -> None:
        """Drop a cancelled request's queued items now, so the queue and its size say what is left to do."""
        kept: collections.deque[_Entry[EncT]] = collections.deque()
        dropped = 0
        for entry in self._queue:
            if entry.request is request:
                dropped += 1
                self._queued_tokens -= entry.encoded.length
            else:
                kept.append(entry)
        self._queue = kept
        # Items already in a forward pass are no longer counted; the ones not yet tokenized still are.
        self._set_pending(self._pending - dropped - request.unfed)
        request.unfed = 0

    def _enqueue(self, request: _Request, offset: int, encoded: Sequence[EncT | None], now: float) -> None:
        if self._loop_task is None or self._loop_task.done():
            # close() finished while this request was being tokenized; nobody would score these items.
            raise BatcherClosedError("the reward model was closed")
        truncated = sum(e.truncated for e in encoded if e is not None)
        if truncated:
            self._observer.on_truncated(truncated)
        failed = 0
        request.unfed -= len(encoded)
        for i, enc in enumerate(encoded):
            if enc is None:  # could not be tokenized: answered now, never queued
                failed += 1
                request.put(offset + i, RMScore(None, status="error"))
                continue
            self._queue.append(_Entry(enc, request, offset + i, now))
            self._queued_tokens += enc.length
        if failed:
            self._observer.on_error(failed)
            self._set_pending(self._pending - failed)
        assert self._wake is not None
        self._wake.set()

    def _set_pending(self, n: int) -> None:
        self._pending = n
        self._observer.on_queue_size(n)

    def _retry_after(self) -> float:
        rate = self._throughput.items_per_s
        if rate <= 0:
            return 1.0
        return float(min(60.0, max(1.0, self._pending / rate)))

    def _holds_full_batch(self) -> bool:
        # The summed length is a lower bound of any batch's padded size, so this never waits past the
        # point where a full batch is already there.
        lim = self.limits
        return (
            len(self._queue) >= lim.max_batch_size
            or self._queued_tokens * lim.rows_per_item >= lim.max_batch_tokens
        )

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = self._queue[0].arrived + self.limits.max_wait_ms / 1000
            while not self._closing and not self._holds_full_batch():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                # asyncio.TimeoutError: on 3.10 it is not the builtin TimeoutError (it is from 3.11).
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
            for batch in self._cut(self._pop_window()):
                await self._run_batch(batch)

    def _pop_window(self) -> list[_Entry[EncT]]:
        window: list[_Entry[EncT]] = []
        popped = 0
        while self._queue and len(window) < self.limits.window:
            entry = self._queue.popleft()
            popped += 1
            self._queued_tokens -= entry.encoded.length
            if not entry.request.future.done():  # done = cancelled by a caller that has gone
                window.append(entry)
        self._set_pending(self._pending - popped)
        return window

    def _cut(self, window: list[_Entry[EncT]]) -> list[list[_Entry[EncT]]]:
        return cut_batches(window, lambda e: e.encoded.length, self.limits)

    async def _run_batch(self, batch: list[_Entry[EncT]]) -> None:
        # Items whose caller went away while earlier batches of the window ran are dropped here too.
        batch = [e for e in batch if not e.request.future.done()]
        if not batch:
            return
        loop = asyncio.get_running_loop()
        encoded = [e.encoded for e in batch]
        tokens = max(e.length for e in encoded) * len(encoded) * self.limits.rows_per_item
        self._observer.on_batch(len(batch), tokens)
        t0 = time.perf_counter()
        try:
            scores = await loop.run_in_executor(self._forward_executor, self._forward, encoded)
            if len(scores) != len(batch):
                raise RuntimeError(f"forward returned {len(scores)} scores for {len(batch)} items")
        except BatchTooLargeError:
            self._observer.on_inference(time.perf_counter() - t0)
            if len(batch) == 1:
                log.error("one item (%d tokens) does not fit in memory; answering it with an error",
                          batch[0].encoded.length)
                self._fail(batch)
                return
            half = len(batch) // 2
            log.warning("out of memory on a batch of %d items (%d padded tokens); retrying in halves",
                        len(batch), tokens)
            await self._run_batch(batch[:half])
            await self._run_batch(batch[half:])
            return
        except Exception:
            self._observer.on_inference(time.perf_counter() - t0)
            log.exception("forward pass failed for a batch of %d items", len(batch))
            self._fail(batch)
            return
        elapsed = time.perf_counter() - t0
        self._observer.on_inference(elapsed)
        self._throughput.update(len(batch), elapsed)
        bad = 0
        for entry, raw in zip(batch, scores, strict=True):
            score = float(raw)
            # A NaN or inf reward would poison the trainer's advantages; answer it as an error instead.
            if not math.isfinite(score):
                bad += 1
                entry.request.put(entry.index, RMScore(None, entry.encoded.truncated, "error"))
            else:
                entry.request.put(entry.index, RMScore(score, truncated=entry.encoded.truncated))
        if bad:
            log.error("the model returned %d non-finite scores in a batch of %d", bad, len(batch))
            self._observer.on_error(bad)

    def _fail(self, batch: Sequence[_Entry[EncT]]) -> None:
        self._observer.on_error(len(batch))
        for entry in batch:
            entry.request.put(entry.index, RMScore(None, truncated=entry.encoded.truncated, status="error"))

    def _fail_queued(self, reason: str) -> None:
        while self._queue:
            entry = self._queue.popleft()
            if not entry.request.future.done():
                entry.request.future.set_exception(BatcherClosedError(reason))
        self._queued_tokens = 0
