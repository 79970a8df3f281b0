"""CPU benchmark of the reward-model path: does dynamic batching cost or earn anything?

The same ``--items`` (prompt, response) pairs of 100-600 tokens, 8 responses per prompt, scored four ways:

a. one ``POST /score`` holding every group (the app from ``hero_service.app.create_app``, in-process);
b. one ``POST /score`` per response, all sent at once (the batcher must merge them back);
c. a naive server: a FastAPI route that runs one forward pass per request, same concurrent load as (b);
d. the model's forward pass alone over the batches the batcher would cut, in-process, no server.

Targets: b/a >= 0.8 (per-response requests lose little) and a/d >= 0.85 (the server costs little); b/c
shows what batching buys over a forward pass per request. Each mode reports items per wall-clock second and
items per CPU-second of this process (all threads; the verifier's worker processes are not counted); on a
shared machine the CPU figure is the one to compare. The rounds interleave the modes.

    python bench/rm.py                   # the embedded MiniLM scorer
    python bench/rm.py --model tiny      # the tiny random Llama RM from tests/conftest.py
    python bench/rm.py --model PATH      # any local sequence-classification RM
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import torch
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from hero_service.app import create_app
from hero_service.reward_model import build_reward_model
from hero_service.reward_model.base import RMItem
from hero_service.reward_model.batcher import cut_batches
from hero_service.reward_model.engine import TorchRewardModel
from hero_service.settings import Settings

WORDS = (
    "we", "first", "compute", "the", "sum", "of", "both", "sides", "then", "divide", "by", "two", "so",
    "value", "x", "is", "found", "after", "check", "each", "step", "carefully", "because", "equation",
    "must", "hold", "for", "every", "integer", "and", "total", "follows", "therefore", "gives", "=",
)
GROUP = 8


def make_groups(n_items: int, seed: int) -> list[dict[str, Any]]:
    """Prompts of 20-60 words and responses of 80-540 words (100-600 tokens together), 8 per prompt."""
    rng = random.Random(seed)
    groups = []
    for g in range(n_items // GROUP):
        answer = rng.randint(1, 999)
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(20, 60))) + f" What is the value of x{g}?"
        responses = []
        for _ in range(GROUP):
            body = " ".join(rng.choices(WORDS, k=rng.randint(80, 540)))
            final = answer if rng.random() < 0.5 else rng.randint(1, 999)
            responses.append(f"{body}. The answer is \\boxed{{{final}}}.")
        groups.append({"prompt": prompt, "reference": str(answer), "responses": responses})
    return groups


def items_of(groups: Sequence[dict[str, Any]]) -> list[RMItem]:
    return [RMItem(g["prompt"], r, g["reference"]) for g in groups for r in g["responses"]]


async def ready(client: httpx.AsyncClient) -> None:
    for _ in range(1200):
        if (await client.get("/ready")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the app did not become ready in 120 s")


def check(response: httpx.Response, expected: int) -> None:
    response.raise_for_status()
    got = sum(len(g["rewards"]) for g in response.json()["groups"])
    if got != expected:
        raise RuntimeError(f"expected {expected} rewards, got {got}")


def per_response_bodies(groups: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"groups": [{**g, "responses": [r]}], "params": params} for g in groups for r in g["responses"]]


async def one_request(client: httpx.AsyncClient, groups: list[dict[str, Any]], n: int) -> None:
    """(a), or with the naive app one request holding everything."""
    check(await client.post("/score", json={"groups": groups, "params": {"mode": "rm"}}), n)


async def concurrent_requests(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> None:
    """(b) and (c): every response in its own request, all in flight at once."""
    replies = await asyncio.gather(*(client.post("/score", json=b) for b in bodies))
    for reply in replies:
        check(reply, 1)


def naive_app(rm: TorchRewardModel[Any]) -> FastAPI:
    """What one writes without a batcher: a sync route, one forward pass per request (FastAPI threads)."""
    app = FastAPI()

    @app.post("/score")
    def score(body: dict[str, Any]) -> dict[str, Any]:
        items = [RMItem(g["prompt"], r, g["reference"]) for g in body["groups"] for r in g["responses"]]
        with torch.inference_mode():
            scores = rm.forward(rm.encode(items))
        return {"groups": [{"rewards": scores}]}

    return app


def forward_only(rm: TorchRewardModel[Any], groups: list[dict[str, Any]]) -> tuple[int, Callable[[], None]]:
    """(d) the forward passes alone, over the batches the batcher would cut from all the items."""
    encoded = rm.encode(items_of(groups))
    batches = cut_batches(encoded, lambda e: e.length, rm.limits)  # rows per item included

    def run() -> None:
        with torch.inference_mode():
            for batch in batches:
                rm.forward(batch)

    return len(batches), run


def tiny_model_dir() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    conftest: Any = importlib.import_module("conftest")
    path: Path = conftest.build_tiny_llama_rm(Path(tempfile.mkdtemp(prefix="hero-bench-tiny-")))
    return path


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm", help="minilm, tiny, or a local RM path")
    parser.add_argument("--items", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    model = None if args.model == "minilm" else str(tiny_model_dir()) if args.model == "tiny" else args.model
    settings = Settings(rm_model=model, rm_device="cpu", verifier_workers=1)
    groups = make_groups(args.items, args.seed)
    n = sum(len(g["responses"]) for g in groups)

    rm = build_reward_model(settings)  # for (c) and (d); the app loads its own copy
    assert isinstance(rm, TorchRewardModel)
    rm.load()
    lengths = [e.length for e in rm.encode(items_of(groups))]
    n_batches, run_forward = forward_only(rm, groups)
    print(f"model={rm.info.model_id} kind={rm.info.kind} items={n} torch_threads={torch.get_num_threads()} "
          f"cpus={os.cpu_count()}")
    print(f"tokens per item after truncation to {rm.max_length}: mean {statistics.mean(lengths):.0f}, "
          f"min {min(lengths)}, max {max(lengths)}; {n_batches} batches; {rm.limits}")

    bodies = per_response_bodies(groups, {"mode": "rm"})
    app = create_app(settings)
    async with contextlib.AsyncExitStack() as stack:
        manager = await stack.enter_async_context(LifespanManager(app, startup_timeout=120, shutdown_timeout=60))
        server = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://hero", timeout=600))
        naive = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=naive_app(rm)), base_url="http://naive", timeout=600))
        await ready(server)
        modes: dict[str, tuple[str, Callable[[], Awaitable[None]]]] = {
            "a": ("one /score request with every group", lambda: one_request(server, groups, n)),
            "b": (f"{n} concurrent requests, one response each", lambda: concurrent_requests(server, bodies)),
            "c": (f"naive server, {n} concurrent requests", lambda: concurrent_requests(naive, bodies)),
            "d": (f"forward passes only ({n_batches} batches)", lambda: asyncio.to_thread(run_forward)),
        }
        # Rounds interleave the modes so that a noisy neighbour on the machine hits them all alike; the
        # first round is a warm-up. CPU seconds (this process, all threads) are counted too: on a shared
        # machine the wall clock mostly measures how much CPU the scheduler lent us, and a process with
        # more runnable threads (the naive server's thread pool) is lent more.
        wall: dict[str, list[float]] = {k: [] for k in modes}
        cpu: dict[str, list[float]] = {k: [] for k in modes}
        for round_ in range(args.repeat + 1):
            for key, (_, work) in modes.items():
                t0, c0 = time.perf_counter(), time.process_time()
                await work()
                rate, cpu_rate = n / (time.perf_counter() - t0), n / (time.process_time() - c0)
                note = "  (warm-up)" if not round_ else ""
                print(f"  round {round_} ({key}) {rate:8.1f} items/s {cpu_rate:8.1f} items/cpu-s{note}", flush=True)
                if round_:
                    wall[key].append(rate)
                    cpu[key].append(cpu_rate)

    best = {k: max(v) for k, v in wall.items()}
    best_cpu = {k: max(v) for k, v in cpu.items()}
    print(f"  {'':<50} {'items/s':>8} {'items/cpu-s':>12}")
    for key, (label, _) in modes.items():
        print(f"  ({key}) {label:<46} {best[key]:8.1f} {best_cpu[key]:12.1f}")
    ratios = {name: {"b/a": r["b"] / r["a"], "a/d": r["a"] / r["d"], "b/c": r["b"] / r["c"]}
              for name, r in (("wall", best), ("cpu", best_cpu))}
    for name, values in ratios.items():
        print(f"  {name:>4}: " + "   ".join(f"{k} = {v:.2f}" for k, v in values.items()))
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "items": n, "items_per_s": wall,
                                         "items_per_cpu_s": cpu, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
