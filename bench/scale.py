"""What shared group state costs: per-sample traffic over 1, 2 and 3 replicas sharing one Redis, against
one replica with in-memory state.

Every configuration gets the same OpenRLHF-style traffic: ``--groups`` groups of ``--size`` samples, one
``POST /get_reward?group_size=N`` per sample, spread round-robin over the replicas; ``--inflight`` groups
are in flight at once (all samples of a group are sent together). Reported per configuration: per-part
latency p50/p99 (request sent -> reward back; a part waits for its whole group, so this is the group's
latency), the p50/p99 added over the in-memory replica, and groups per second.

Each replica is a real ``hero-reward serve`` process with the tiny random Llama RM from
tests/conftest.py on CPU (``--model PATH`` for another RM); Redis is a local ``redis-server``.

    python bench/scale.py                        # memory-1, redis-1, redis-2, redis-3
    python bench/scale.py --groups 400 --size 8 --inflight 16
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def replicas(n: int, model: Path, state_url: str | None, workers: int) -> Iterator[list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
    env.update({"HERO_RM_MODEL": str(model), "HERO_RM_DEVICE": "cpu", "HERO_VERIFIER_WORKERS": str(workers),
                "HERO_LOG_LEVEL": "warning", "HF_HUB_OFFLINE": "1"})
    if state_url is not None:
        env["HERO_STATE_URL"] = state_url
    procs, urls = [], []
    try:
        for _ in range(n):
            port = free_port()
            procs.append(subprocess.Popen([sys.executable, "-m", "hero_service", "serve", "--port", str(port)],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 300
        for url, proc in zip(urls, procs, strict=True):
            while True:
                try:
                    if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"replica {url} never became ready")
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


def sample(group: int, k: int) -> dict[str, Any]:
    prompt = f"<|start_header_id|>user<|end_header_id|>\n\nRun {group}: what is {group % 97} + 1?<|eot_id|>"
    words = "We add the numbers carefully. " * (4 + (group * 7 + k) % 9)
    response = f"{words}The answer is \\boxed{{{group % 97 + k % 3}}}."
    return {"query": [prompt + response], "prompts": [prompt], "labels": [str(group % 97)]}


async def drive(urls: list[str], groups: int, size: int, inflight: int, offset: int) -> tuple[list[float], float]:
    """Send the traffic; per-part latencies (s) and the wall time."""
    latencies: list[float] = []
    targets = itertools.cycle(urls)
    gate = asyncio.Semaphore(inflight)
    query = f"group_size={size}&session=bench"

    async def one_group(client: httpx.AsyncClient, g: int) -> None:
        async with gate:
            async def part(k: int) -> None:
                started = time.perf_counter()
                reply = await client.post(f"{next(targets)}/get_reward?{query}", json=sample(offset + g, k))
                reply.raise_for_status()
                if reply.json()["extra_logs"]["partial"] != [0.0]:
                    raise RuntimeError("a group was scored partial")
                latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(part(k) for k in range(size)))

    limits = httpx.Limits(max_connections=inflight * size + 8)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one_group(client, g) for g in range(groups)))
        return latencies, time.perf_counter() - started


async def store_round_trips(url: str, stores: int, groups: int, size: int, inflight: int) -> list[float]:
    """The assembly alone, in-process: per-part seconds from join to result over ``stores`` RedisStores
    (0: the in-memory assembler), parts spread round-robin, no HTTP and no heavy work."""
    from hero_service.groups.assembler import GroupAssembler
    from hero_service.groups.store import Codec, GroupStore, MemoryStore, RedisStore

    async def close(_gid: str, parts: list[list[float]], _partial: bool) -> list[float]:
        return [v for p in parts for v in p]

    members: list[GroupStore[list[float], list[float]]]
    if stores == 0:
        members = [MemoryStore(GroupAssembler[list[float], list[float]](
            deadline_s=60, close=close))]
    else:
        members = [RedisStore(url=url, password=None, prefix=f"bench{stores}", ttl_s=120, deadline_s=60,
                              codec=Codec(list, list, list, list), close=close) for _ in range(stores)]
    for member in members:
        await member.start()
    latencies: list[float] = []
    gate = asyncio.Semaphore(inflight)
    turn = itertools.cycle(members)

    async def part(g: int, k: int) -> None:
        started = time.perf_counter()
        claim = await next(turn).join(f"g{g}", size, 1, [float(k)] * 4, None)
        await claim.result()
        latencies.append(time.perf_counter() - started)

    async def group(g: int) -> None:
        async with gate:
            await asyncio.gather(*(part(g, k) for k in range(size)))

    await asyncio.gather(*(group(g) for g in range(groups)))
    for member in members:
        await member.close()
    return latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--inflight", type=int, default=8, help="groups in flight at once")
    parser.add_argument("--warmup", type=int, default=20, help="groups sent first and not counted")
    parser.add_argument("--workers", type=int, default=1, help="verifier processes per replica")
    parser.add_argument("--model", type=Path, default=None, help="an RM directory; default: the tiny Llama RM")
    parser.add_argument("--configs", default="memory-1,redis-1,redis-2,redis-3")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            sys.path.insert(0, str(ROOT))
            from tests.conftest import build_tiny_llama_rm

            model = build_tiny_llama_rm(Path(tmp) / "tiny-llama-rm")
        results: dict[str, dict[str, float]] = {}
        with redis_server() as url:
            for config in args.configs.split(","):
                kind, n = config.split("-")
                with replicas(int(n), model, url if kind == "redis" else None, args.workers) as urls:
                    asyncio.run(drive(urls, args.warmup, args.size, args.inflight, offset=10**6))
                    lat, wall = asyncio.run(drive(urls, args.groups, args.size, args.inflight, offset=0))
                results[config] = {"p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99),
                                   "groups_per_s": args.groups / wall}
        store: dict[str, dict[str, float]] = {}
        with redis_server() as url:
            for n in (0, 1, 2, 3):
                lat = asyncio.run(store_round_trips(url, n, args.groups * 5, args.size, args.inflight))
                store["memory" if n == 0 else f"redis-{n}"] = {"p50_ms": 1000 * pct(lat, 50),
                                                               "p99_ms": 1000 * pct(lat, 99)}
    print("assembly alone, in-process (join -> result per part, no HTTP, no heavy work):")
    for config, r in store.items():
        print(f"  {config:<8} p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms")
    base = results.get("memory-1")
    print(f"{args.groups} groups x {args.size} samples, {args.inflight} groups in flight, one POST per sample")
    print(f"{'config':<10} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} {'groups/s':>9}")
    for config, r in results.items():
        added = ("", "") if base is None else (f"{r['p50_ms'] - base['p50_ms']:+.1f}",
                                                f"{r['p99_ms'] - base['p99_ms']:+.1f}")
        print(f"{config:<10} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {added[0]:>8} {added[1]:>8} "
              f"{r['groups_per_s']:>9.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"http": results, "store": store}, indent=2))


if __name__ == "__main__":
    main()
