"""Load: 64 concurrent clients for 60 s of mixed /score and /get_reward traffic against the tiny RM."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from .conftest import Process

CLIENTS = 64
DURATION_S = 60.0
MAX_RSS_GROWTH_MB = 150.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _responses(rng: random.Random, answer: int, n: int) -> list[str]:
    out = []
    for _ in range(n):
        guess = answer if rng.random() < 0.6 else answer + rng.randint(1, 3)
        out.append(f"{'Step. ' * rng.randint(0, 60)}So the answer is \\boxed{{{guess}}}.")
    return out


async def _client(base: str, seed: int, stop_at: float, latencies: list[float],
                  errors: list[str], rewards: list[int]) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        step = 0
        while time.monotonic() < stop_at:
            answer = rng.randint(1, 500)
            started = time.perf_counter()
            if step % 2:
                prompt = f"<|user|>client {seed} step {step}: compute {answer}<|assistant|>"
                queries = [prompt + r + "</s>" for r in _responses(rng, answer, 4)]
                reply = await client.post("/get_reward", params={"group_size": 4}, json={
                    "query": queries, "prompts": [prompt] * 4, "labels": [answer] * 4})
                got = len(reply.json().get("rewards", [])) if reply.status_code == 200 else 0
                expected = 4
            else:
                groups = [{"prompt": f"q{seed}-{step}-{g}", "reference": str(answer),
                           "responses": _responses(rng, answer, 8)} for g in range(2)]
                reply = await client.post("/score", json={"groups": groups})
                got = sum(len(g["rewards"]) for g in reply.json()["groups"]) if reply.status_code == 200 else 0
                expected = 16
            latencies.append(time.perf_counter() - started)
            if reply.status_code != 200 or got != expected:
                errors.append(f"{reply.status_code}: {reply.text[:200]}")
            rewards.append(got)
            step += 1


def test_64_clients_for_60_seconds(start: Callable[..., Process], tiny_llama_rm_dir: Path) -> None:
    server = start(HERO_RM_MODEL=str(tiny_llama_rm_dir))
    base = server.base_url
    httpx.post(f"{base}/score", timeout=60, json={"groups": [{"reference": "1", "responses": ["\\boxed{1}"]}]})
    rss_before = rss_mb(server.proc.pid)
    latencies: list[float] = []
    errors: list[str] = []
    rewards: list[int] = []

    async def run() -> None:
        stop_at = time.monotonic() + DURATION_S
        await asyncio.gather(*(_client(base, seed, stop_at, latencies, errors, rewards)
                               for seed in range(CLIENTS)))

    asyncio.run(run())
    rss_after = rss_mb(server.proc.pid)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print(f"\nload: {len(latencies)} requests, {sum(rewards)} rewards, {len(errors)} errors, "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, RSS {rss_before:.0f} -> {rss_after:.0f} MB")
    assert not errors, errors[:5]
    assert len(latencies) > CLIENTS
    assert rss_after - rss_before < MAX_RSS_GROWTH_MB
