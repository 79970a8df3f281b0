"""The worker entry point in-process: the per-item itimer turns a slow item into ``timeout`` only."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from hero_service.verifier import VerifierPolicy
from hero_service.verifier import pool as pool_module


@pytest.fixture
def worker_signals(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # _judge_batch re-arms RLIMIT_CPU for its own process; never do that to the test runner.
    monkeypatch.setattr(pool_module.resource, "setrlimit", lambda *args: None)
    previous = signal.signal(signal.SIGALRM, pool_module._on_alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_slow_item_times_out_alone(monkeypatch: pytest.MonkeyPatch, worker_signals: None) -> None:
    real = pool_module.judge

    def judge(reference: str, answer: str, policy: VerifierPolicy) -> tuple[bool, str]:
        if answer == "slow":
            time.sleep(5)  # interrupted by the itimer
        return real(reference, answer, policy)

    monkeypatch.setattr(pool_module, "judge", judge)
    start = time.perf_counter()
    out = pool_module._judge_batch([("2", "\\sqrt{4}"), ("1", "slow"), ("2", "3")], VerifierPolicy(), 0.3)
    assert out == [(True, "ok"), (False, "timeout"), (False, "ok")]
    assert time.perf_counter() - start < 2.0


def test_memory_error_is_an_error_status(monkeypatch: pytest.MonkeyPatch, worker_signals: None) -> None:
    def judge(reference: str, answer: str, policy: VerifierPolicy) -> tuple[bool, str]:
        raise MemoryError

    monkeypatch.setattr(pool_module, "judge", judge)
    assert pool_module._judge_batch([("1", "1")], VerifierPolicy(), 1.0) == [(False, "error")]
