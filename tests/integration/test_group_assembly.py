"""Per-sample traffic (OpenRLHF >= 0.9.1) assembled into groups equals whole-group scoring."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hero_service.settings import Settings

from . import group_rules
from .conftest import LengthRM, Served

PROMPTS = [f"<|im_start|>user\nProblem {i}: what is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n"
           for i in range(16)]


def sample(i: int, k: int) -> str:
    answer = 2 * i if (i + k) % 3 else 2 * i + 1
    return f"{'Let me think. ' * ((i * 7 + k * 3) % 11)}The answer is \\boxed{{{answer}}}."


@pytest.fixture
def server(make_server: Callable[..., Served]) -> Served:
    return make_server(Settings(verifier_workers=2, group_deadline_s=60), reward_model=LengthRM())


def test_128_single_sample_posts_equal_one_score_request(server: Served) -> None:
    params = {"sigma_ref": 0.4, "session": "assembly"}
    whole = httpx.post(f"{server.base_url}/score", timeout=120, json={
        "groups": [{"prompt": p, "reference": str(2 * i), "responses": [sample(i, k) for k in range(8)]}
                   for i, p in enumerate(PROMPTS)],
        "params": params}).json()
    expected = {(i, k): whole["groups"][i]["rewards"][k] for i in range(16) for k in range(8)}

    order = [(i, k) for i in range(16) for k in range(8)]
    random.Random(7).shuffle(order)

    async def post_all() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=128)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits) as client:
            replies = await asyncio.gather(*(
                client.post("/get_reward?group_size=8&sigma_ref=0.4&session=assembly",
                            json={"query": [PROMPTS[i] + sample(i, k) + "<|im_end|>"],
                                  "prompts": [PROMPTS[i]], "labels": [2 * i]})
                for i, k in order))
        return [r.json() for r in replies]

    replies = asyncio.run(post_all())
    for (i, k), reply in zip(order, replies, strict=True):
        assert reply["rewards"][0] == pytest.approx(expected[(i, k)], abs=1e-6), (i, k)
        assert reply["extra_logs"]["partial"] == [0.0]
    assert httpx.get(f"{server.base_url}/metrics").text.count("hero_partial_groups_total 0.0") == 1


def test_a_duplicated_prompt_in_one_batch_forms_two_groups(server: Served) -> None:
    # OpenRLHF <= 0.9.0 sends the whole rollout batch: the same prompt twice means two groups of 2.
    prompt = PROMPTS[0]
    responses = ["\\boxed{0}", "x \\boxed{0}", "\\boxed{1}", "long long \\boxed{0}"]
    reply = httpx.post(f"{server.base_url}/get_reward?group_size=2&mode=rm", timeout=60, json={
        "query": [prompt + r for r in responses], "prompts": [prompt] * 4, "labels": ["0"] * 4}).json()
    assert reply["rewards"] == pytest.approx([len(r) / 10 for r in responses])
    # Each group of two is normalized on its own: both have a right and a wrong or two rights.
    hero = httpx.post(f"{server.base_url}/get_reward?group_size=2&weighting=false", timeout=60, json={
        "query": [prompt + r for r in responses], "prompts": [prompt] * 4, "labels": ["0"] * 4}).json()
    assert hero["rewards"][:2] == pytest.approx([0.95, 1.05], abs=1e-5)
    assert hero["rewards"][2:] == pytest.approx([-0.05, 0.95], abs=1e-5)


def test_shutdown_answers_parts_that_are_still_waiting(make_server: Callable[..., Served]) -> None:
    served = make_server(Settings(verifier_workers=1, group_deadline_s=600, request_timeout_s=900),
                         reward_model=LengthRM())

    def waiting_part() -> httpx.Response:
        return httpx.post(f"{served.base_url}/score", timeout=60, json={
            "groups": [{"id": "w", "reference": "1", "group_size": 4, "responses": ["\\boxed{1}"]}]})

    async def scenario() -> httpx.Response:
        reply = asyncio.create_task(asyncio.to_thread(waiting_part))
        for _ in range(400):
            metrics = await asyncio.to_thread(httpx.get, f"{served.base_url}/metrics")
            if "hero_groups_waiting 1.0" in metrics.text:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the part never started waiting")
        await asyncio.to_thread(served.stop)
        return await reply

    reply = asyncio.run(scenario())
    assert reply.status_code == 200
    group = reply.json()["groups"][0]
    assert group["partial"] is True
    assert group["verifier"] == [1]


def test_a_part_sent_twice_with_its_part_id_counts_once(server: Served) -> None:
    part = {"id": "retry", "reference": "1", "group_size": 2}

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            return list(await asyncio.gather(
                client.post("/score", json={"groups": [{**part, "part_id": "a", "responses": ["\\\\boxed{1}"]}]}),
                client.post("/score", json={"groups": [{**part, "part_id": "a", "responses": ["\\\\boxed{1}"]}]}),
                client.post("/score", json={"groups": [{**part, "part_id": "b", "responses": ["\\\\boxed{2}"]}]})))

    first, retry, other = (r.json()["groups"][0] for r in asyncio.run(send()))
    assert first == retry
    assert first["partial"] is False
    assert first["group_size"] == other["group_size"] == 2
    assert first["verifier"] + other["verifier"] in ([1, 0], [0, 1])


@pytest.mark.parametrize("scenario", [group_rules.sessions_stay_apart, group_rules.conflicting_params_are_refused,
                                      group_rules.conflicting_group_size_is_refused,
                                      group_rules.a_reused_part_id_needs_the_same_content],
                         ids=lambda f: f.__name__)
def test_group_rules_in_memory(server: Served, scenario: Callable[[list[str]], Any]) -> None:
    asyncio.run(scenario([server.base_url]))


def test_the_same_part_id_twice_in_one_request_is_a_422(server: Served) -> None:
    part = {"id": "dup", "reference": "1", "group_size": 3, "part_id": "p"}
    reply = httpx.post(f"{server.base_url}/score", timeout=10, json={"groups": [
        {**part, "responses": ["\\boxed{1}", "\\boxed{2}"]}, {**part, "responses": ["\\boxed{1}"]}]})
    assert reply.status_code == 422
    assert "groups[1].part_id 'p' repeats groups[0].part_id" in reply.text


def test_deepseeks_end_marker_never_reaches_the_rm(server: Served) -> None:
    prompt = "<\uff5cUser\uff5c>What is 1?<\uff5cAssistant\uff5c>"
    reply = httpx.post(f"{server.base_url}/get_reward?mode=rm", timeout=30, json={
        "query": [prompt + "\\boxed{1}<\uff5cend\u2581of\u2581sentence\uff5c>"], "prompts": [prompt], "labels": ["1"]})
    assert reply.json()["rewards"] == [len("\\boxed{1}") / 10]  # LengthRM: the marker would add 21 characters
