"""The batcher with a fake tokenizer and a fake forward pass: no torch, no model."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from hero_service.errors import QueueFullError
from hero_service.reward_model.batcher import (
    Batcher,
    BatcherClosedError,
    BatchLimits,
    BatchTooLargeError,
    NullObserver,
)


@dataclass(frozen=True)
class Enc:
    """A fake encoded item: its score is its text's value, its length is given."""

    text: str
    length: int
    truncated: bool = False


def encode(items: Sequence[str]) -> list[Enc]:
    # "name:length" -> an item of that many tokens; "!" anywhere marks it truncated.
    out = []
    for item in items:
        name, _, length = item.partition(":")
        out.append(Enc(name, int(length or 1), truncated="!" in name))
    return out


def value(enc: Enc) -> float:
    return float(sum(map(ord, enc.text)))


@dataclass
class FakeModel:
    """Records every batch; ``gate`` (when set) holds the forward pass until released."""

    batches: list[list[str]] = field(default_factory=list)
    gate: threading.Event | None = None
    started: threading.Event = field(default_factory=threading.Event)
    fail_if: Callable[[Sequence[Enc]], BaseException | None] = lambda _batch: None

    def forward(self, batch: Sequence[Enc]) -> list[float]:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(timeout=10)
        error = self.fail_if(batch)
        self.batches.append([e.text for e in batch])
        if error is not None:
            raise error
        return [value(e) for e in batch]


@dataclass
class RecordingObserver(NullObserver):
    batches: list[tuple[int, int]] = field(default_factory=list)
    truncated: int = 0
    errors: int = 0
    queue_sizes: list[int] = field(default_factory=list)

    def on_batch(self, size: int, tokens: int) -> None:
        self.batches.append((size, tokens))

    def on_truncated(self, n: int) -> None:
        self.truncated += n

    def on_error(self, n: int) -> None:
        self.errors += n

    def on_queue_size(self, n: int) -> None:
        self.queue_sizes.append(n)


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(1)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


def make(model: FakeModel, worker: ThreadPoolExecutor, observer: RecordingObserver | None = None,
         **limits: float | int) -> Batcher[str, Enc]:
    return Batcher(encode=encode, forward=model.forward, forward_executor=worker,
                   limits=BatchLimits(**limits), observer=observer)  # type: ignore[arg-type]


@pytest.fixture
async def running(model: FakeModel, worker: ThreadPoolExecutor) -> AsyncIterator[Batcher[str, Enc]]:
    batcher = make(model, worker, max_batch_tokens=64, max_batch_size=4, max_wait_ms=20)
    await batcher.start()
    yield batcher
    await batcher.close()


async def test_results_come_back_in_order(running: Batcher[str, Enc]) -> None:
    items = ["c:3", "a:9", "b:1", "d:5"]
    scores = await running.submit(items)
    assert [s.score for s in scores] == [value(e) for e in encode(items)]
    assert all(s.status == "ok" for s in scores)


async def test_batches_respect_padded_token_budget_and_size(
    model: FakeModel, worker: ThreadPoolExecutor, observer: RecordingObserver
) -> None:
    batcher = make(model, worker, observer, max_batch_tokens=100, max_batch_size=5, max_wait_ms=1)
    await batcher.start()
    lengths = [3, 50, 7, 20, 1, 33, 12, 9, 40, 2, 25, 5]
    await batcher.submit([f"i{k}:{n}" for k, n in enumerate(lengths)])
    await batcher.close()
    assert sum(size for size, _ in observer.batches) == len(lengths)
    for size, tokens in observer.batches:
        assert size <= 5
        assert size == 1 or tokens <= 100
    # Sorted by length before cutting: each batch holds a contiguous run of the sorted lengths.
    length_of = {f"i{k}": n for k, n in enumerate(lengths)}
    seen = [length_of[name] for batch in model.batches for name in batch]
    assert seen == sorted(lengths)


async def test_rows_per_item_counts_in_the_budget(model: FakeModel, worker: ThreadPoolExecutor,
                                                  observer: RecordingObserver) -> None:
    batcher = make(model, worker, observer, max_batch_tokens=40, max_batch_size=64, max_wait_ms=1,
                   rows_per_item=2)
    await batcher.start()
    await batcher.submit([f"i{k}:10" for k in range(6)])
    await batcher.close()
    assert [size for size, _ in observer.batches] == [2, 2, 2]  # 10 tokens x 2 rows x 2 items = 40


async def test_concurrent_requests_share_batches(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    batcher = make(model, worker, max_batch_tokens=10_000, max_batch_size=64, max_wait_ms=50)
    await batcher.start()
    results = await asyncio.gather(*(batcher.submit([f"r{k}:4"]) for k in range(20)))
    await batcher.close()
    assert [r[0].score for r in results] == [value(Enc(f"r{k}", 4)) for k in range(20)]
    assert len(model.batches) < 20
    assert max(len(b) for b in model.batches) > 1


async def test_full_batch_does_not_wait_for_the_deadline(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    batcher = make(model, worker, max_batch_tokens=10_000, max_batch_size=4, max_wait_ms=30_000)
    await batcher.start()
    scores = await asyncio.wait_for(batcher.submit(["a:1", "b:1", "c:1", "d:1"]), timeout=5)
    assert len(scores) == 4
    # A lone item waits for company, but no longer than max_wait_ms.
    with pytest.raises(asyncio.TimeoutError):  # not the builtin on 3.10
        await asyncio.wait_for(asyncio.shield(batcher.submit(["e:1"])), timeout=0.2)
    await batcher.close()


async def test_lone_item_leaves_after_max_wait(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    batcher = make(model, worker, max_batch_tokens=10_000, max_batch_size=64, max_wait_ms=10)
    await batcher.start()
    scores = await asyncio.wait_for(batcher.submit(["a:1"]), timeout=2)
    await batcher.close()
    assert scores[0].score == value(Enc("a", 1))


async def test_queue_full_raises_with_retry_after(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    model.gate = threading.Event()
    batcher = make(model, worker, max_batch_size=2, max_queue=4, max_wait_ms=0)
    await batcher.start()
    first = asyncio.create_task(batcher.submit(["a:1", "b:1"]))
    await asyncio.to_thread(model.started.wait, 5)  # that batch is in the forward pass, off the queue
    waiting = asyncio.create_task(batcher.submit(["c:1", "d:1", "e:1"]))
    await asyncio.sleep(0.05)
    assert batcher.pending == 3
    with pytest.raises(QueueFullError) as caught:
        await batcher.submit(["f:1", "g:1"])
    assert caught.value.retry_after >= 1
    model.gate.set()
    assert len(await waiting) == 3
    assert len(await first) == 2
    # Room again once the queue drains.
    assert len(await batcher.submit(["f:1", "g:1"])) == 2
    await batcher.close()


async def test_oversized_request_is_taken_by_an_empty_queue(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    batcher = make(model, worker, max_queue=2, max_wait_ms=0)
    await batcher.start()
    assert len(await batcher.submit(["a:1", "b:1", "c:1"])) == 3
    await batcher.close()


async def test_cancelled_request_is_skipped(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    model.gate = threading.Event()
    batcher = make(model, worker, max_batch_size=1, max_wait_ms=0)
    await batcher.start()
    first = asyncio.create_task(batcher.submit(["first:1"]))
    await asyncio.to_thread(model.started.wait, 5)
    gone = asyncio.create_task(batcher.submit(["gone:1", "gone2:1"]))
    kept = asyncio.create_task(batcher.submit(["kept:1"]))
    await asyncio.sleep(0.05)  # both are tokenized and queued behind the blocked batch
    gone.cancel()
    model.gate.set()
    assert (await kept)[0].status == "ok"
    await first
    await batcher.close()
    assert gone.cancelled()
    ran = [name for batch in model.batches for name in batch]
    assert "kept" in ran
    assert "gone" not in ran
    assert "gone2" not in ran


async def test_tokenizing_overlaps_the_forward_pass(model: FakeModel, worker: ThreadPoolExecutor) -> None:
    model.gate = threading.Event()
    encoded: list[str] = []

    def recording_encode(items: Sequence[str]) -> list[Enc]:
        encoded.extend(items)
        return encode(items)

    batcher: Batcher[str, Enc] = Batcher(encode=recording_encode, forward=model.forward,
                                         forward_executor=worker, limits=BatchLimits(max_wait_ms=0))
    await batcher.start()
    first = asyncio.create_task(batcher.submit(["a:1"]))
    await asyncio.to_thread(model.started.wait, 5)
    second = asyncio.create_task(batcher.submit(["b:1"]))
    for _ in range(100):  # the forward pass is still held, yet "b" gets tokenized
        if "b:1" in encoded:
            break
        await asyncio.sleep(0.01)
    assert "b:1" in encoded
    assert not first.done()
    model.gate.set()
    await asyncio.gather(first, second)
    await batcher.close()


async def test_out_of_memory_splits_the_batch(model: FakeModel, worker: ThreadPoolExecutor,
                                               observer: RecordingObserver) -> None:
    model.fail_if = lambda batch: BatchTooLargeError() if len(batch) > 2 else None
    batcher = make(model, worker, observer, max_batch_size=8, max_wait_ms=1)
    await batcher.start()
    items = [f"i{k}:{k + 1}" for k in range(7)]
    scores = await batcher.submit(items)
    await batcher.close()
    assert [s.score for s in scores] == [value(e) for e in encode(items)]
    assert max(len(b) for b in model.batches) == 7  # the first try
    assert sorted(n for b in model.batches if len(b) <= 2 for n in b) == sorted(e.text for e in encode(items))
    assert observer.errors == 0


async def test_single_item_out_of_memory_fails_alone(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    model.fail_if = lambda batch: BatchTooLargeError() if any(e.length > 100 for e in batch) else None
    batcher = make(model, worker, max_batch_size=8, max_wait_ms=1)
    await batcher.start()
    scores = await batcher.submit(["ok:3", "huge:500", "fine:4"])
    await batcher.close()
    assert [s.status for s in scores] == ["ok", "error", "ok"]
    assert scores[1].score is None


async def test_forward_error_fails_only_that_batch(model: FakeModel, worker: ThreadPoolExecutor,
                                                   observer: RecordingObserver) -> None:
    model.fail_if = lambda batch: ValueError("boom") if any(e.text == "poison" for e in batch) else None
    batcher = make(model, worker, observer, max_batch_size=1, max_wait_ms=1)
    await batcher.start()
    bad, good = await asyncio.gather(batcher.submit(["poison:2", "x:2"]), batcher.submit(["y:2"]))
    later = await batcher.submit(["z:2"])  # the loop survives
    await batcher.close()
    assert [s.status for s in bad] == ["error", "ok"]
    assert bad[0].score is None
    assert good[0].status == "ok"
    assert later[0].score == value(Enc("z", 2))
    assert observer.errors == 1


async def test_non_finite_score_is_an_error(worker: ThreadPoolExecutor) -> None:
    def forward(batch: Sequence[Enc]) -> list[float]:
        return [math.nan if e.text == "nan" else 1.0 for e in batch]

    batcher: Batcher[str, Enc] = Batcher(encode=encode, forward=forward, forward_executor=worker,
                                         limits=BatchLimits(max_wait_ms=1))
    await batcher.start()
    scores = await batcher.submit(["nan:1", "a:1"])
    await batcher.close()
    assert [s.status for s in scores] == ["error", "ok"]


async def test_truncation_flags_pass_through(running: Batcher[str, Enc]) -> None:
    scores = await running.submit(["cut!:5", "whole:5"])
    assert [s.truncated for s in scores] == [True, False]


async def test_observer_sees_truncations_and_queue(model: FakeModel, worker: ThreadPoolExecutor,
                                                   observer: RecordingObserver) -> None:
    batcher = make(model, worker, observer, max_wait_ms=1)
    await batcher.start()
    await batcher.submit(["a!:1", "b!:1", "c:1"])
    await batcher.close()
    assert observer.truncated == 2
    assert observer.queue_sizes[0] == 3
    assert observer.queue_sizes[-1] == 0


async def test_close_scores_what_is_queued_then_refuses(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    batcher = make(model, worker, max_wait_ms=10_000, max_batch_size=64)
    await batcher.start()
    queued = asyncio.create_task(batcher.submit(["a:1"]))
    await asyncio.sleep(0.02)
    await batcher.close()
    assert (await queued)[0].status == "ok"
    with pytest.raises(BatcherClosedError):
        await batcher.submit(["b:1"])


async def test_large_request_is_tokenized_in_windows(model: FakeModel, worker: ThreadPoolExecutor) -> None:
    calls: list[int] = []

    def counting_encode(items: Sequence[str]) -> list[Enc]:
        calls.append(len(items))
        return encode(items)

    batcher: Batcher[str, Enc] = Batcher(encode=counting_encode, forward=model.forward, forward_executor=worker,
                                         limits=BatchLimits(max_batch_size=2, sort_window=4, max_wait_ms=1))
    await batcher.start()
    items = [f"i{k}:{10 - k}" for k in range(10)]
    scores = await batcher.submit(items)
    await batcher.close()
    assert calls == [4, 4, 2]
    assert [s.score for s in scores] == [value(e) for e in encode(items)]
    assert batcher.pending == 0


async def test_request_tokenizing_during_close_is_refused_not_stranded(
    model: FakeModel, worker: ThreadPoolExecutor
) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow_encode(items: Sequence[str]) -> list[Enc]:
        entered.set()
        release.wait(timeout=10)
        return encode(items)

    batcher: Batcher[str, Enc] = Batcher(encode=slow_encode, forward=model.forward, forward_executor=worker,
                                         limits=BatchLimits(max_wait_ms=1))
    await batcher.start()
    late = asyncio.create_task(batcher.submit(["late:1"]))
    await asyncio.to_thread(entered.wait, 5)
    await batcher.close()
    release.set()
    with pytest.raises(BatcherClosedError):
        await asyncio.wait_for(late, timeout=5)
    assert batcher.pending == 0


async def test_an_item_that_cannot_be_tokenized_costs_only_itself(
    model: FakeModel, worker: ThreadPoolExecutor, observer: RecordingObserver
) -> None:
    batcher = make(model, worker, observer, max_wait_ms=1)
    await batcher.start()
    scores = await batcher.submit(["a:1", "bad:notanumber", "c:2"])
    assert [s.status for s in scores] == ["ok", "error", "ok"]
    assert scores[1].score is None
    assert [s.score for s in (scores[0], scores[2])] == [value(Enc("a", 1)), value(Enc("c", 2))]
    assert observer.errors == 1
    assert batcher.pending == 0
    assert (await batcher.submit(["b:1"]))[0].status == "ok"
    await batcher.close()
    assert "bad" not in [name for batch in model.batches for name in batch]


async def test_a_refused_request_leaves_nothing_queued(
    model: FakeModel, worker: ThreadPoolExecutor, observer: RecordingObserver
) -> None:
    """All or nothing: a request the queue cannot hold whole is refused before any of it is queued."""
    model.gate = threading.Event()
    batcher = make(model, worker, observer, max_batch_size=2, max_queue=6, max_wait_ms=0)
    await batcher.start()
    first = asyncio.create_task(batcher.submit(["a:1", "b:1"]))
    await asyncio.to_thread(model.started.wait, 5)  # in the forward pass, off the queue
    waiting = batcher.admit(["c:1", "d:1"])
    with pytest.raises(QueueFullError):
        batcher.admit([f"refused{k}:1" for k in range(5)])  # 2 + 5 > 6: none of the 5 may get in
    assert batcher.pending == 2
    await asyncio.sleep(0.05)
    assert batcher.pending == 2
    model.gate.set()
    assert len(await first) == 2
    assert len(await waiting) == 2
    await batcher.close()
    assert batcher.pending == 0
    assert observer.queue_sizes[-1] == 0
    ran = [name for batch in model.batches for name in batch]
    assert sorted(ran) == ["a", "b", "c", "d"]


async def test_a_withdrawn_request_leaves_the_queue_at_once(
    model: FakeModel, worker: ThreadPoolExecutor, observer: RecordingObserver
) -> None:
    model.gate = threading.Event()
    batcher = make(model, worker, observer, max_batch_size=1, max_wait_ms=0)
    await batcher.start()
    first = asyncio.create_task(batcher.submit(["first:1"]))
    await asyncio.to_thread(model.started.wait, 5)
    gone = batcher.admit([f"gone{k}:1" for k in range(5)])
    await asyncio.sleep(0.05)  # tokenized and queued behind the blocked batch
    assert batcher.pending == 5
    gone.cancel()
    await asyncio.sleep(0)
    assert batcher.pending == 0
    assert observer.queue_sizes[-1] == 0
    model.gate.set()
    await first
    await batcher.close()
    assert [name for batch in model.batches for name in batch] == ["first"]


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        BatchLimits(max_batch_size=0)
    assert BatchLimits(max_batch_size=3).window == 24
