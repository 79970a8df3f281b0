"""The README's serve command as a real process: it comes up ready, scores, logs, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable

import httpx

from .conftest import Process


def test_serve_scores_and_shuts_down_on_sigterm(start: Callable[..., Process]) -> None:
    server = start()
    request = {"groups": [{"id": "g1", "prompt": "What is 6 * 7?", "reference": "42",
                           "responses": ["6 * 7 = 42, so \\boxed{42}.", "\\boxed{41}"]}]}
    body = httpx.post(f"{server.base_url}/score", json=request, timeout=60).json()
    assert body["groups"][0]["verifier"] == [1, 0]
    assert body["groups"][0]["rewards"][0] > body["groups"][0]["rewards"][1]
    server.proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once its graceful shutdown is done, so -SIGTERM is a clean exit.
    assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log.read_text()


def test_json_logs_carry_the_request_id_and_never_the_key(start: Callable[..., Process]) -> None:
    secret = "s3cret-key-value"
    server = start(HERO_API_KEYS=secret, HERO_LOG_FORMAT="json")
    reply = httpx.post(f"{server.base_url}/get_reward?key={secret}&group_size=1", timeout=60,
                       json={"query": ["Q \\boxed{1}"], "prompts": ["Q"], "labels": ["1"]},
                       headers={"X-Request-ID": "trace-123"})
    assert reply.status_code == 200
    assert reply.headers["x-request-id"] == "trace-123"
    assert httpx.post(f"{server.base_url}/score", json={"groups": []}).status_code == 401
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=60)
    text = server.log.read_text()
    assert secret not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert records, text
    access = [r for r in records if r["logger"] == "hero_service.access"]
    assert any(r["request_id"] == "trace-123" and "/get_reward 200" in r["message"] for r in access)


def test_invalid_settings_exit_with_a_fix_it_message() -> None:
    env = {**os.environ, "HERO_ALPHA": "0.7", "HERO_BETA": "0.6"}
    done = subprocess.run([sys.executable, "-m", "hero_service", "serve"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "HERO_ALPHA + HERO_BETA must be < 1" in done.stderr


def test_sigterm_lets_requests_in_flight_finish(start: Callable[..., Process]) -> None:
    import asyncio

    server = start()
    groups = [{"reference": str(i), "responses": [f"{'work ' * 200}\\boxed{{{i + k % 2}}}" for k in range(16)]}
              for i in range(8)]

    async def traffic() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
            flight = [asyncio.create_task(client.post("/score", json={"groups": [g]})) for g in groups]
            in_flight = f'hero_requests_in_flight{{route="/score"}} {float(len(groups))}'
            for _ in range(600):
                if in_flight in (await client.get("/metrics")).text:
                    break
                await asyncio.sleep(0.01)
            server.proc.send_signal(signal.SIGTERM)
            return list(await asyncio.gather(*flight))

    replies = asyncio.run(traffic())
    assert [r.status_code for r in replies] == [200] * len(groups)
    assert all(len(r.json()["groups"][0]["rewards"]) == 16 for r in replies)
    assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)


def test_a_plain_asgi_server_drains_on_sigterm(start: Callable[..., Process]) -> None:
    """``uvicorn --factory hero_service.app:create_app`` (no hero-reward serve): the lifespan drains, so a
    part whose group is still missing its other part is scored with what arrived, not cut off."""
    import asyncio

    # Without the drain the part would wait for its group's deadline (120 s here).
    server = start(factory=True, HERO_GROUP_DEADLINE_S="120")
    part = {"groups": [{"id": "g-drain", "group_size": 2, "prompt": "What is 6 * 7?", "reference": "42",
                        "responses": ["6 * 7 = 42, so \\boxed{42}."]}]}

    async def traffic() -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=200) as client:
            waiting = asyncio.create_task(client.post("/score", json=part))
            in_flight = 'hero_requests_in_flight{route="/score"} 1.0'
            for _ in range(600):
                if in_flight in (await client.get("/metrics")).text:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the part never reached the server")
            started = asyncio.get_running_loop().time()
            server.proc.send_signal(signal.SIGTERM)
            reply = await waiting
            # Answered by the drain, long before the group's deadline.
            assert asyncio.get_running_loop().time() - started < 30
            return reply

    reply = asyncio.run(traffic())
    assert reply.status_code == 200, reply.text
    group = reply.json()["groups"][0]
    assert group["verifier"] == [1] and len(group["rewards"]) == 1
    assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
