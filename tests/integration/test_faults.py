"""Faults: a killed verifier worker, a failing RM, a client that hangs up. Everyone else is answered."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from hero_service.reward_model.base import RMItem, RMScore
from hero_service.settings import Settings

from .conftest import LengthRM, Served


class ExplodingRM(LengthRM):
    """Raises for any call that contains an ``EXPLODE`` response (a whole batch failing)."""

    async def score(self, items: Sequence[RMItem]) -> list[RMScore]:
        if any("EXPLODE" in item.response for item in items):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return await super().score(items)


def _spawned_workers() -> set[int]:
    """This process's multiprocessing 'spawn' children (the verifier workers)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == os.getpid() and b"spawn_main" in cmdline:
                out.add(int(entry.name))
    return out


def _group(i: int, n: int = 12) -> dict[str, Any]:
    """Fractions in unreduced forms, distinct per item, so each needs a worker: even k right, odd k wrong."""
    return {"reference": f"{i + 1}/7",
            "responses": [f"so \\boxed{{\\frac{{{2 * (i + 1) * (k + 1) + k % 2}}}{{{14 * (k + 1)}}}}}"
                          for k in range(n)]}


def test_a_failing_rm_costs_only_its_scores(make_server: Callable[..., Served]) -> None:
    served = make_server(Settings(verifier_workers=1), reward_model=ExplodingRM())

    async def both() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=60) as client:
            return list(await asyncio.gather(
                client.post("/score", json={"groups": [{"reference": "1",
                                                        "responses": ["EXPLODE \\boxed{1}", "\\boxed{2}"]}]}),
                client.post("/score", json={"groups": [_group(3)]})))

    bad, good = asyncio.run(both())
    assert bad.status_code == 200
    group = bad.json()["groups"][0]
    assert group["rm_status"] == ["error", "error"]
    assert group["verifier"] == [1, 0]
    assert group["rewards"][0] > group["rewards"][1]
    assert good.status_code == 200
    assert good.json()["groups"][0]["rm_status"] == ["ok"] * 12
    assert httpx.get(f"{served.base_url}/ready").status_code == 200
    assert "hero_rm_errors_total 2.0" in httpx.get(f"{served.base_url}/metrics").text


def test_killing_verifier_workers_mid_traffic_loses_nothing(make_server: Callable[..., Served]) -> None:
    before = _spawned_workers()
    served = make_server(Settings(verifier_workers=2, verifier_timeout_s=3), reward_model=LengthRM())
    stop = threading.Event()
    killed: list[int] = []

    def killer() -> None:
        while not stop.is_set():
            for pid in sorted(_spawned_workers() - before - set(killed))[:1]:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.15)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=120) as client:
            return list(await asyncio.gather(*(client.post("/score", json={"groups": [_group(i)]})
                                               for i in range(24))))

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        replies = asyncio.run(burst())
    finally:
        stop.set()
        thread.join()
    assert killed, "no worker was killed"
    assert all(r.status_code == 200 for r in replies)
    statuses = [s for r in replies for s in r.json()["groups"][0]["verifier_status"]]
    assert len(statuses) == 24 * 12
    assert set(statuses) <= {"ok", "error", "timeout"}
    # The pool replaced its workers: a request after the storm is graded normally.
    after = httpx.post(f"{served.base_url}/score", timeout=60, json={"groups": [_group(99)]}).json()
    assert after["groups"][0]["verifier_status"] == ["ok"] * 12
    assert after["groups"][0]["verifier"] == [1, 0] * 6
    assert httpx.get(f"{served.base_url}/ready").status_code == 200


def test_a_client_that_hangs_up_does_not_break_its_group(make_server: Callable[..., Served]) -> None:
    served = make_server(Settings(verifier_workers=1, group_deadline_s=30), reward_model=LengthRM())
    part = {"id": "hangup", "reference": "1", "group_size": 2}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{served.base_url}/score", timeout=1.0,  # a group's parts share their params (else 409)
                   json={"groups": [{**part, "responses": ["\\boxed{1}"]}], "params": {"weighting": False}})
    reply = httpx.post(f"{served.base_url}/score", timeout=60,
                       json={"groups": [{**part, "responses": ["\\boxed{2}"]}], "params": {"weighting": False}})
    assert reply.status_code == 200
    group = reply.json()["groups"][0]
    assert group["partial"] is False
    assert group["group_size"] == 2
    assert group["verifier"] == [0]
    assert httpx.get(f"{served.base_url}/ready").status_code == 200


class SlowRM(LengthRM):
    """Takes longer than the request deadline for responses that ask for it."""

    async def score(self, items: Sequence[RMItem]) -> list[RMScore]:
        if any("SLOW" in item.response for item in items):
            await asyncio.sleep(5)
        return await super().score(items)


def test_the_request_deadline(make_server: Callable[..., Served]) -> None:
    served = make_server(Settings(verifier_workers=1, group_deadline_s=0.5, request_timeout_s=1.5),
                         reward_model=SlowRM())
    slow = httpx.post(f"{served.base_url}/score", timeout=30,
                      json={"groups": [{"reference": "1", "responses": ["SLOW \\boxed{1}"]}]})
    assert slow.status_code == 503
    assert "HERO_REQUEST_TIMEOUT_S" in slow.json()["detail"]
    assert "retry-after" in slow.headers
    orlhf = httpx.post(f"{served.base_url}/get_reward", timeout=30,
                       json={"query": ["Q SLOW \\boxed{1}"], "prompts": ["Q"], "labels": ["1"]})
    assert orlhf.status_code == 200
    assert orlhf.json()["rewards"] == [0.0]
    assert orlhf.json()["extra_logs"]["server_error"] == [1.0]
    fast = httpx.post(f"{served.base_url}/score", timeout=30,
                      json={"groups": [{"reference": "1", "responses": ["\\boxed{1}"]}]})
    assert fast.status_code == 200


def test_probes_can_be_closed_too(make_server: Callable[..., Served]) -> None:
    served = make_server(Settings(verifier_workers=1, api_keys="k", protect_probes=True), reward_model=LengthRM())
    for path in ("/health", "/metrics"):
        assert httpx.get(f"{served.base_url}{path}").status_code == 401
        assert httpx.get(f"{served.base_url}{path}", headers={"Authorization": "Bearer k"}).status_code == 200
