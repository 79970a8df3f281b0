"""Hostile RM traffic against a real ``hero-reward serve`` process (the embedded MiniLM default).

Two scenarios, each on a fresh server:

``large``  one request holding a single response of ``--mb`` MB (plus a short one), and a one-response
           request sent 0.5 s after it. Reports the server's RSS before, its peak while scoring and after,
           and how long each request took.
``refused`` a first request of ``--first`` groups x 8 (admitted), then one of 2,000 groups x 8 that the full
           queue refuses (429). Reports ``hero_queue_size`` 1 s after the refusal, the items the model was
           asked to score in all (``hero_batch_size`` sum) against the first request's, and how long a
           one-response request sent after the refusal waited.

    python bench/rm_hostile.py large --mb 20
    python bench/rm_hostile.py refused

RSS is the server process's own (``/proc/PID/status``), sampled every 20 ms; the verifier's worker
processes are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

SMALL = {"groups": [{"prompt": "What is 6 * 7?", "reference": "42", "responses": ["6 * 7 = \\boxed{42}"]}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else float("nan")


@contextlib.contextmanager
def server(**env: str) -> Iterator[tuple[str, int]]:
    port = _free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
    full_env.update({"HERO_VERIFIER_WORKERS": "2", "HF_HUB_OFFLINE": "1", "HERO_LOG_LEVEL": "warning", **env})
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "hero_service", "serve", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=full_env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/ready", timeout=5).status_code == 200:
                        break
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError("server never became ready")
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read().decode(errors="replace"))
            yield base, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=60)


async def _sample(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(0.02)


async def _timed(client: httpx.AsyncClient, body: object, delay: float = 0.0) -> tuple[float, int]:
    await asyncio.sleep(delay)
    t0 = time.perf_counter()
    reply = await client.post("/score", json=body)
    return time.perf_counter() - t0, reply.status_code


async def large(base: str, pid: int, mb: float) -> None:
    words = "so we add the two numbers and check the result step by step "
    big = (words * int(mb * 1e6 / len(words) + 1))[: int(mb * 1e6)] + " \\boxed{42}"
    body = {"groups": [{"prompt": "What is 6 * 7?", "reference": "42", "responses": [big, "\\boxed{42}"]}]}
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        await client.post("/score", json=SMALL)
        before = rss_mb(pid)
        peak, stop = [before], asyncio.Event()
        sampler = asyncio.create_task(_sample(pid, peak, stop))
        (t_big, s_big), (t_small, s_small) = await asyncio.gather(
            _timed(client, body), _timed(client, SMALL, delay=0.5))
        stop.set()
        await sampler
        await asyncio.sleep(1.0)
        after = rss_mb(pid)
    print(f"large: {mb:g} MB response: status {s_big} in {t_big:.1f} s; one-response request beside it: "
          f"status {s_small} in {t_small:.2f} s")
    print(f"large: server RSS before {before:.0f} MB, peak {peak[0]:.0f} MB (+{peak[0] - before:.0f}), "
          f"1 s after {after:.0f} MB")


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else float("nan")


async def refused(base: str, first: int) -> None:
    def groups(n: int, tag: str) -> dict[str, object]:
        return {"groups": [{"reference": str(i), "responses": [f"{tag} {i} so \\boxed{{{i + k}}}" for k in range(8)]}
                           for i in range(n)]}

    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        await client.post("/score", json=SMALL)
        forwarded0 = _metric((await client.get("/metrics")).text, "hero_batch_size_sum")
        first_task = asyncio.create_task(client.post("/score", json=groups(first, "first")))
        while _metric((await client.get("/metrics")).text, "hero_queue_size") < 1:
            await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        reply = await client.post("/score", json=groups(2000, "second"))
        refused_in = time.perf_counter() - t0
        await asyncio.sleep(1.0)
        queued = _metric((await client.get("/metrics")).text, "hero_queue_size")
        t_small, s_small = await _timed(client, SMALL)
        first_reply = await first_task
        for _ in range(6000):  # wait until the model is idle to count every item it scored
            if _metric((await client.get("/metrics")).text, "hero_queue_size") == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        forwarded = _metric((await client.get("/metrics")).text, "hero_batch_size_sum") - forwarded0
    print(f"refused: 2,000 x 8 answered {reply.status_code} in {refused_in:.2f} s; hero_queue_size 1 s later: "
          f"{queued:.0f} (first request: {first * 8} items, status {first_reply.status_code})")
    print(f"refused: items through the model: {forwarded:.0f} (first request {first * 8} + 1 small); "
          f"one-response request after the refusal: status {s_small} in {t_small:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["large", "refused"])
    parser.add_argument("--mb", type=float, default=20.0, help="size of the large response (large)")
    parser.add_argument("--first", type=int, default=100, help="groups of 8 in the admitted request (refused)")
    args = parser.parse_args()
    with server() as (base, pid):
        if args.scenario == "large":
            asyncio.run(large(base, pid, args.mb))
        else:
            asyncio.run(refused(base, args.first))


if __name__ == "__main__":
    main()
