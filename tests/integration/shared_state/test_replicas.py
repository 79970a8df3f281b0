"""Three replica processes sharing one Redis, fed OpenRLHF-style single-sample traffic."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from hero_service.app import create_app
from hero_service.settings import Settings
from tests.integration.conftest import LengthRM, Served
from tests.ports import free_port

from .conftest import Redis, Replica

PROMPTS = [f"<|im_start|>user\nProblem {i}: what is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n"
           for i in range(12)]
SIZE = 8


def sample(i: int, k: int) -> str:
    answer = 2 * i if (i + k) % 3 else 2 * i + 1
    return f"{'Let me think. ' * ((i * 7 + k * 3) % 11)}The answer is \\boxed{{{answer}}}."


def per_sample(i: int, k: int) -> dict[str, Any]:
    return {"query": [PROMPTS[i] + sample(i, k) + "<|im_end|>"], "prompts": [PROMPTS[i]], "labels": [2 * i]}


async def send_round_robin(urls: list[str], order: list[tuple[int, int]], query: str,
                           ) -> list[httpx.Response | Exception]:
    """One POST per sample, spread over ``urls`` in turn, all in flight at once."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=256)) as client:
        targets = itertools.cycle(urls)
        return await asyncio.gather(*(client.post(f"{next(targets)}/get_reward?{query}", json=per_sample(i, k))
                                      for i, k in order), return_exceptions=True)


def test_three_replicas_answer_like_one_server(
    redis_server: Redis, replicas: Callable[..., list[Replica]], make_server: Callable[..., Served]
) -> None:
    pool = replicas(3, state_url=redis_server.url, group_deadline_s="30")
    single = make_server(Settings(verifier_workers=1), reward_model=LengthRM())
    whole = httpx.post(f"{single.base_url}/score", timeout=60, json={
        "groups": [{"prompt": p, "reference": str(2 * i), "responses": [sample(i, k) for k in range(SIZE)]}
                   for i, p in enumerate(PROMPTS)],
        "params": {"sigma_ref": 0.4}}).json()

    order = [(i, k) for k in range(SIZE) for i in range(len(PROMPTS))]  # groups interleave
    replies = asyncio.run(send_round_robin([r.base_url for r in pool], order,
                                           f"group_size={SIZE}&sigma_ref=0.4"))
    for (i, k), reply in zip(order, replies, strict=True):
        assert isinstance(reply, httpx.Response) and reply.status_code == 200, reply
        body = reply.json()
        assert body["rewards"][0] == pytest.approx(whole["groups"][i]["rewards"][k], abs=1e-9), (i, k)
        assert body["extra_logs"]["partial"] == [0.0]
    # Every replica scored parts, and the groups were closed on more than one of them.
    metrics = [httpx.get(f"{r.base_url}/metrics").text for r in pool]
    assert all("hero_verifier_outcomes_total" in m for m in metrics)
    assert all("hero_partial_groups_total 0.0" in m for m in metrics)
    assert sum('hero_reward_count{stratum="correct"}' in m for m in metrics) >= 2


def test_a_running_sigma_ref_is_shared(redis_server: Redis, replicas: Callable[..., list[Replica]]) -> None:
    pool = replicas(2, state_url=redis_server.url)
    first = [{"prompt": "p", "reference": "1", "responses": ["a", "bbb"]}]
    # One complete group on replica 0 starts the session; replica 1 then weights with its value.
    a = httpx.post(f"{pool[0].base_url}/score", json={"groups": first, "params": {"session": "s"}}).json()
    b = httpx.post(f"{pool[1].base_url}/score", json={"groups": first, "params": {"session": "s"}}).json()
    assert a["sigma_ref"] == pytest.approx(0.1)  # warm start: the first group's own sigma
    assert b["sigma_ref"] == pytest.approx(0.1)  # the shared running mean, not a fresh warm start


def test_a_replica_killed_mid_traffic_leaves_the_others_answering(
    redis_server: Redis, replicas: Callable[..., list[Replica]]
) -> None:
    pool = replicas(3, state_url=redis_server.url, group_deadline_s="2")
    urls = [r.base_url for r in pool]
    order = [(i, k) for k in range(SIZE) for i in range(len(PROMPTS))]
    target = [n % 3 for n in range(len(order))]  # round robin; replica 2 is the one killed
    split = 6 * len(PROMPTS)  # samples 0-5 of every prompt before the kill, 6-7 after

    async def traffic() -> list[httpx.Response | BaseException]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=256)) as client:
            def post(n: int) -> asyncio.Task[httpx.Response]:
                i, k = order[n]
                return asyncio.create_task(client.post(f"{urls[target[n]]}/get_reward?group_size={SIZE}",
                                                       json=per_sample(i, k)))
            before = [post(n) for n in range(split)]
            await asyncio.sleep(1.0)  # every part has joined its group; none is complete
            await asyncio.to_thread(pool[2].kill)
            after = [post(n) for n in range(split, len(order))]
            return await asyncio.gather(*before, *after, return_exceptions=True)

    replies = asyncio.run(traffic())
    survivors = [(order[n][0], r) for n, r in enumerate(replies) if target[n] != 2]
    assert all(isinstance(r, httpx.Response) and r.status_code == 200 for _, r in survivors), survivors
    # The parts sent to the dead replica after its death never joined: their groups were closed at
    # the deadline by a survivor, as partial, with the parts that did join (the dead one's earlier
    # parts included, since their raw results were already in Redis).
    lost = {order[n][0] for n in range(split, len(order)) if target[n] == 2}
    assert lost and all(not isinstance(replies[n], httpx.Response) for n in range(split, len(order))
                        if target[n] == 2)
    for i, reply in survivors:
        assert isinstance(reply, httpx.Response)
        logs = reply.json()["extra_logs"]
        assert logs["partial"] == [1.0 if i in lost else 0.0], i
        assert isinstance(reply.json()["rewards"][0], float)


def test_redis_lost_while_running(redis_server: Redis, replicas: Callable[..., list[Replica]]) -> None:
    (replica,) = replicas(1, state_url=redis_server.url)
    url = replica.base_url
    redis_server.stop()
    part = httpx.post(f"{url}/get_reward?group_size=2", json=per_sample(0, 0), timeout=30)
    assert part.status_code == 503 and int(part.headers["Retry-After"]) >= 1
    assert "unreachable" in part.json()["detail"]
    # A complete group needs nobody else: it is still scored here, sigma_ref from this replica alone.
    whole = httpx.post(f"{url}/score", timeout=30, json={
        "groups": [{"prompt": "p", "reference": "1", "responses": ["a", "bbb"]}]})
    assert whole.status_code == 200 and len(whole.json()["groups"][0]["rewards"]) == 2
    assert httpx.get(f"{url}/ready").status_code == 200  # still serving complete groups
    assert 'hero_state_errors_total{error="ConnectionError"}' in httpx.get(f"{url}/metrics").text
    assert "unreachable" in replica.log.read_text()
    # Redis is back: the parts are assembled again (the clients' retries succeed).
    redis_server.start()
    replies = asyncio.run(send_round_robin([url], [(0, 0), (0, 1)], "group_size=2"))
    assert [getattr(r, "status_code", r) for r in replies] == [200, 200]
    assert all(r.json()["extra_logs"]["partial"] == [0.0] for r in replies if isinstance(r, httpx.Response))


async def test_redis_unreachable_at_start_keeps_ready_503() -> None:
    settings = Settings(verifier_workers=1, state_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(settings, reward_model=LengthRM())
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hero") as client:
            for _ in range(100):
                ready = await client.get("/ready")
                if "unreachable" in (ready.json().get("reason") or ""):
                    break
                await asyncio.sleep(0.1)
            assert ready.status_code == 503
            assert "state backend redis://127.0.0.1" in ready.json()["reason"]
            assert ready.headers["Retry-After"]
