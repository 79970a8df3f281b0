"""The real process pool: order, dedup and cache, concurrency, hostile input, killed and hung workers."""

from __future__ import annotations

import asyncio
import importlib.util
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
import pytest_asyncio

from hero_service.verifier import VerifierPolicy, VerifierPool, VerifyRequest
from hero_service.verifier.pool import Key, Outcome, _judge_batch

TIMEOUT_S = 1.0


def _payloads() -> ModuleType:
    # The unit tests own the payload lists; load them by path (the test dirs are not packages).
    path = Path(__file__).parents[2] / "unit" / "verifier" / "verifier_payloads.py"
    spec = importlib.util.spec_from_file_location("verifier_payloads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# One pool (and one event loop) for the module: spawning and warming workers costs ~2 s each time.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool() -> AsyncIterator[VerifierPool]:
    verifier = VerifierPool(workers=2, timeout_s=TIMEOUT_S, max_tasks=50, memory_mb=1024, batch_size=4)
    await verifier.start()
    try:
        yield verifier
    finally:
        await verifier.close()


def _workers() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


async def test_lifecycle_and_describe() -> None:
    verifier = VerifierPool(workers=1, timeout_s=2.0, max_tasks=10, memory_mb=1024,
                            policy=VerifierPolicy(percent="fraction"))
    assert not verifier.ready
    await verifier.start()
    assert verifier.ready
    info = verifier.describe()
    assert info["workers"] == 1 and info["timeout_s"] == 2.0
    policy = info["policy"]
    assert isinstance(policy, dict) and policy["percent"] == "fraction"
    await verifier.close()
    assert not verifier.ready
    with pytest.raises(ValueError):
        VerifierPool(workers=0, timeout_s=1.0, max_tasks=1, memory_mb=1024)


async def test_verdicts_in_order_with_statuses(pool: VerifierPool) -> None:
    items = [
        VerifyRequest("\\frac{1}{2}", "so \\boxed{0.5}"),
        VerifyRequest("\\frac{1}{2^{98}}", "\\boxed{\\frac{1}{2^{99}}}"),
        VerifyRequest("12", "I am not sure."),
        VerifyRequest("y = 2x+3", "\\boxed{2x - y + 3 = 0}"),
        VerifyRequest("2", "\\boxed{10^{10^{10}}}"),
        VerifyRequest("\\{1,2\\}", "\\boxed{(1,2)}"),
        VerifyRequest("7", "The answer is 7.", "boxed"),
    ]
    got = [(v.correct, v.status) for v in await pool.verify(items)]
    assert got == [(True, "ok"), (False, "ok"), (False, "no_answer"), (True, "ok"), (False, "unparsable"),
                   (False, "ok"), (False, "no_answer")]
    assert await pool.verify([]) == []


async def test_rl_groups_share_work_and_concurrent_calls(pool: VerifierPool) -> None:
    group = [VerifyRequest("x^2+2x+1", f"step {k}: \\boxed{{(x+1)^2}}") for k in range(8)]
    group += [VerifyRequest("x^2+2x+1", "\\boxed{(x+1)^3}") for _ in range(8)]
    results = await asyncio.gather(*(pool.verify(group) for _ in range(10)))
    for verdicts in results:
        assert [v.correct for v in verdicts] == [True] * 8 + [False] * 8
        assert all(v.status == "ok" for v in verdicts)
    # Now cached: a repeat never reaches a worker, so it is fast even with the workers frozen.
    workers = _workers()
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        start = time.perf_counter()
        again = await pool.verify(group)
        assert time.perf_counter() - start < 0.2
        assert [v.correct for v in again] == [True] * 8 + [False] * 8
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)


async def test_hostile_inputs_each_return_within_deadline(pool: VerifierPool, tmp_path: Path) -> None:
    payloads = _payloads()
    marker = tmp_path / "pwned"
    responses = list(payloads.marker_payloads(marker))
    responses += [f"\\boxed{{{answer}}}" for answer in payloads.hostile_answers()]
    responses += [
        "x" * 1_000_000 + "\\boxed{2}",
        "\\boxed{2}" * 5000,
        "{" * 10_000 + "}" * 10_000,
        "\\boxed{" + "{" * 10_000 + "2" + "}" * 10_000 + "}",
        "the answer is " + "(" * 50_000,
        "$" * 100_000,
        "\x00\\boxed{2\x00}\x00",
    ]
    for response in responses:
        for reference, text in ((("2"), response), (response[:5000], "\\boxed{2}")):
            start = time.perf_counter()
            [verdict] = await pool.verify([VerifyRequest(reference, text, "any")])
            elapsed = time.perf_counter() - start
            assert elapsed < TIMEOUT_S + 1.0, (text[:80], elapsed)
            assert verdict.status in {"ok", "no_answer", "unparsable", "timeout", "error"}
    assert not marker.exists()
    # The pool is still healthy afterwards.
    [verdict] = await pool.verify([VerifyRequest("3", "\\boxed{3}")])
    assert verdict.correct


async def test_killed_worker_loses_no_items(pool: VerifierPool) -> None:
    items = [VerifyRequest(f"x^{{{k}}} + {k}x", f"\\boxed{{{k}x + x^{{{k}}}}}") for k in range(2, 60)]
    before = _workers()
    task = asyncio.create_task(pool.verify(items))
    await asyncio.sleep(0.15)
    os.kill(sorted(before)[0], signal.SIGKILL)
    verdicts = await task
    assert len(verdicts) == len(items)
    assert all(v.correct and v.status == "ok" for v in verdicts), [v for v in verdicts if not v.correct][:3]
    assert _workers() != before  # the killed worker was replaced
    [verdict] = await pool.verify([VerifyRequest("5", "\\boxed{5.0}")])
    assert verdict.correct


HANG_MARK = "hang-here"


def _hanging_batch(batch: list[Key], policy: VerifierPolicy, timeout_s: float) -> list[Outcome]:
    """Worker side: behave like a hang in C code (no SIGALRM gets through) for marked items."""
    if any(HANG_MARK in answer for _, answer in batch):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    return _judge_batch(batch, policy, timeout_s)


class _HangingPool(VerifierPool):
    async def _submit(self, batch: list[Key], policy: VerifierPolicy) -> list[Outcome]:
        assert self._pool is not None
        future = self._pool.schedule(_hanging_batch, args=(batch, policy, TIMEOUT_S),
                                     timeout=TIMEOUT_S * len(batch) + 0.75)
        return await asyncio.wrap_future(future)


async def test_hung_worker_is_killed_and_only_its_item_times_out() -> None:
    verifier = _HangingPool(workers=2, timeout_s=TIMEOUT_S, max_tasks=50, memory_mb=1024, batch_size=2)
    await verifier.start()
    try:
        items = [VerifyRequest(f"{k}\\sqrt{{2}}", f"\\boxed{{\\sqrt{{{2 * k * k}}}}}") for k in range(1, 8)]
        items.insert(3, VerifyRequest("1", f"\\boxed{{\\text{{{HANG_MARK}}}}}"))
        before = _workers()
        start = time.perf_counter()
        verdicts = await verifier.verify(items)
        elapsed = time.perf_counter() - start
        assert [v.status for v in verdicts] == ["ok"] * 3 + ["timeout"] + ["ok"] * 4
        assert all(v.correct for i, v in enumerate(verdicts) if i != 3)
        # Its batch of 2 ran out (2 s + grace), then the hanging item alone (1 s + grace); the rest is
        # slack for a loaded CI machine.
        assert elapsed < 2 * TIMEOUT_S + 0.75 + TIMEOUT_S + 0.75 + 8.0
        assert _workers() != before
        again = await verifier.verify(items[:3])
        assert all(v.correct for v in again)
    finally:
        await verifier.close()
