"""POST /score and the probes, through a real app, a real verifier pool and a real socket."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from hero_service.settings import Settings

from .conftest import LengthRM, Served

AUTH = {"Authorization": "Bearer k2"}

EXAMPLE = {
    "groups": [{
        "id": "g1",
        "prompt": "What is 6 * 7?",
        "reference": "42",
        "responses": ["6 * 7 = 42, so the answer is \\boxed{42}.", "I think it is \\boxed{41}."],
        "group_size": 2,
    }],
    "params": {"mode": "hero", "alpha": 0.05, "beta": 0.05},
}


def recompute(group: dict[str, Any], params: dict[str, Any], sigma_ref: float) -> list[float]:
    """Eq. 3-5 written out independently of the server's code."""
    v = np.array(group["verifier"])
    s = np.array(group["rm_scores"], dtype=float)
    r_hat = np.zeros_like(s)
    for outcome, low, width in ((0, -params["alpha"], 2 * params["alpha"]),
                                (1, 1 - params["beta"], 2 * params["beta"])):
        mask = v == outcome
        if not mask.any():
            continue
        part = s[mask]
        spread = part.max() - part.min()
        z = (part - part.min()) / (spread + params["eps"]) if spread > params["eps"] else np.full_like(
            part, params["singleton_z"])
        r_hat[mask] = low + width * z
    sigma = float(np.std(s))
    sigmoid = 1 / (1 + math.exp(-params["k"] * (sigma - sigma_ref)))
    w = params["w_min"] + (params["w_max"] - params["w_min"]) * sigmoid
    return list(w * r_hat)


def test_probes_and_info(embedded_server: Served) -> None:
    base = embedded_server.base_url
    assert httpx.get(f"{base}/health").json() == {"status": "ok", "reason": None}
    assert httpx.get(f"{base}/ready").status_code == 200
    info = httpx.get(f"{base}/info").json()
    assert info["model"]["kind"] == "reference-similarity"
    assert "minilm" in info["model"]["model_id"].lower()
    assert info["defaults"]["w_max"] == 3.0
    assert info["versions"]["torch"] != "absent"


def test_the_readme_example_scores_right_above_wrong(embedded_server: Served) -> None:
    response = httpx.post(f"{embedded_server.base_url}/score", json=EXAMPLE, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    group = body["groups"][0]
    assert group["verifier"] == [1, 0]
    assert group["verifier_status"] == ["ok", "ok"]
    assert group["rewards"][0] > group["rewards"][1]
    assert group["rewards"] == pytest.approx(recompute(group, body["params"], body["sigma_ref"]), abs=1e-9)


def test_recomputing_eq_3_to_5_reproduces_every_reward(length_server: Served) -> None:
    responses = [f"{'x' * n} so \\boxed{{{ans}}}" for n, ans in
                 [(1, 7), (5, 7), (9, 3), (30, 7), (3, 2), (14, 7), (0, 9), (22, 1)]]
    request = {"groups": [{"reference": "7", "responses": responses},
                          {"reference": "3", "responses": responses[:3]}],
               "params": {"session": "recompute", "alpha": 0.1, "beta": 0.1, "singleton_z": 0.5}}
    body = httpx.post(f"{length_server.base_url}/score", json=request, headers=AUTH, timeout=60).json()
    for group in body["groups"]:
        expected = recompute(group, body["params"], body["sigma_ref"])
        assert group["rewards"] == pytest.approx(expected, abs=1e-9)
        assert group["sigma_ref"] == body["sigma_ref"]
    assert body["groups"][0]["verifier"] == [1, 1, 0, 1, 0, 1, 0, 0]
    # The first request of a session warm-starts sigma_ref with the mean of its groups' sigmas.
    assert body["sigma_ref"] == pytest.approx(np.mean([g["sigma"] for g in body["groups"]]), abs=1e-12)


def test_sigma_ref_runs_per_session_and_can_be_pinned(length_server: Served) -> None:
    base = length_server.base_url

    def score(params: dict[str, Any], responses: list[str]) -> dict[str, Any]:
        request = {"groups": [{"reference": "1", "responses": responses}], "params": params}
        return httpx.post(f"{base}/score", json=request, headers=AUTH, timeout=60).json()  # type: ignore[no-any-return]

    first = score({"session": "ema"}, ["a", "abc"])  # scores 0.1, 0.3: sigma 0.1
    assert first["sigma_ref"] == pytest.approx(0.1)
    second = score({"session": "ema"}, ["a", "abcde"])  # sigma 0.2: uses the old value, then moves it
    assert second["sigma_ref"] == pytest.approx(0.1)
    third = score({"session": "ema"}, ["a"])
    momentum = 0.9 ** (1 / 512)
    assert third["sigma_ref"] == pytest.approx(momentum * 0.1 + (1 - momentum) * 0.2)
    pinned = score({"session": "ema", "sigma_ref": 5.0}, ["a", "abc"])
    assert pinned["sigma_ref"] == 5.0
    # The pinned request left the session alone: the next one sees the EMA after ``third`` (sigma 0).
    assert score({"session": "ema"}, ["a"])["sigma_ref"] == pytest.approx(momentum * third["sigma_ref"])


def test_every_response_gets_exactly_one_reward_whatever_it_contains(length_server: Served) -> None:
    responses = ["", "\\boxed{7}", "no answer here", "\\boxed{" * 2000, "RM-FAILS \\boxed{7}",
                 "\x00\\boxed{7}", "x" * 200_000, "\\boxed{7}" * 500]
    request = {"groups": [{"reference": "7", "responses": responses}]}
    response = httpx.post(f"{length_server.base_url}/score", json=request, headers=AUTH, timeout=120)
    assert response.status_code == 200, response.text
    group = response.json()["groups"][0]
    for key in ("rewards", "verifier", "verifier_status", "rm_scores", "rm_status", "normalized"):
        assert len(group[key]) == len(responses), key
    assert all(math.isfinite(r) for r in group["rewards"])
    assert group["verifier_status"][2] == "no_answer"
    assert group["verifier"][1] == 1
    assert group["rm_status"][4] == "error" and group["rm_scores"][4] is None


def test_parts_from_two_requests_equal_one_complete_group(length_server: Served) -> None:
    base = length_server.base_url
    responses = ["\\boxed{2}", "\\boxed{3} because", "so \\boxed{2} ok", "\\boxed{5}"]
    params = {"sigma_ref": 0.3}
    whole = httpx.post(f"{base}/score", headers=AUTH, timeout=60, json={
        "groups": [{"id": "w", "reference": "2", "responses": responses}], "params": params}).json()

    async def parts() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            replies = await asyncio.gather(*(
                client.post("/score", json={"groups": [{"id": "p", "reference": "2", "group_size": 4,
                                                        "responses": chunk}], "params": params})
                for chunk in (responses[2:], responses[:2])))
        return [r.json() for r in replies]

    late, early = asyncio.run(parts())
    got = early["groups"][0]["rewards"] + late["groups"][0]["rewards"]
    assert got == pytest.approx(whole["groups"][0]["rewards"], abs=1e-12)
    assert not early["groups"][0]["partial"]
    assert early["groups"][0]["group_size"] == 4


def test_a_missing_part_is_scored_partial_at_the_deadline(length_server: Served) -> None:
    reply = httpx.post(f"{length_server.base_url}/score", headers=AUTH, timeout=60, json={
        "groups": [{"id": "lonely", "reference": "1", "group_size": 8, "responses": ["\\boxed{1}"]}]})
    group = reply.json()["groups"][0]
    assert group["partial"] is True
    assert group["group_size"] == 1
    metrics = httpx.get(f"{length_server.base_url}/metrics").text
    assert "hero_partial_groups_total" in metrics


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"groups": [{"reference": "1", "responses": "not a list"}]}, ["body", "groups", 0, "responses"]),
        ({"groups": [{"reference": "1", "responses": []}]}, ["body", "groups", 0, "responses"]),
        ({"groups": [{"responses": ["a"]}]}, ["body", "groups", 0, "reference"]),
        ({"groups": [], "params": {"alpha": 2}}, ["body", "params", "alpha"]),
        ({"groups": [], "params": {"alpha": 0.6, "beta": 0.5}}, ["body", "params", "beta"]),
        ({"groups": [], "params": {"w_min": 2, "w_max": 1}}, ["body", "params", "w_max"]),
        ({"groups": [], "params": {"mode": "magic"}}, ["body", "params", "mode"]),
        ({"groups": [{"reference": "1", "responses": ["a", "b"], "group_size": 1}]}, ["body", "groups", 0]),
        ({"groups": [{"reference": "1", "responses": ["a"], "group_size": 2}]}, ["body", "groups", 0]),
    ],
)
def test_bad_input_gets_422_naming_the_field(length_server: Served, body: dict[str, Any],
                                             loc: list[Any]) -> None:
    reply = httpx.post(f"{length_server.base_url}/score", json=body, headers=AUTH, timeout=30)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"] == loc


def test_malformed_json_gets_422(length_server: Served) -> None:
    reply = httpx.post(f"{length_server.base_url}/score", content=b'{"groups": [', headers={
        **AUTH, "content-type": "application/json"}, timeout=30)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["type"] == "json_invalid"


def test_oversize_body_gets_413(length_server: Served) -> None:
    body = json.dumps({"groups": [{"reference": "1", "responses": ["x" * 600_000]}]})
    reply = httpx.post(f"{length_server.base_url}/score", content=body, headers={
        **AUTH, "content-type": "application/json"}, timeout=30)
    assert reply.status_code == 413
    assert "HERO_MAX_BODY_MB" in reply.json()["detail"]


def test_api_keys(length_server: Served) -> None:
    base = length_server.base_url
    one = {"groups": [{"reference": "1", "responses": ["\\boxed{1}"]}]}
    assert httpx.post(f"{base}/score", json=one).status_code == 401
    assert httpx.post(f"{base}/score", json=one, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.post(f"{base}/score", json=one, headers={"Authorization": "Bearer k1"}).status_code == 200
    assert httpx.post(f"{base}/score?key=k1", json=one).status_code == 401  # only /get_reward reads ?key=
    orlhf = {"query": ["Q \\boxed{1}"], "prompts": ["Q"], "labels": ["1"]}
    assert httpx.post(f"{base}/get_reward", json=orlhf).status_code == 401
    assert httpx.post(f"{base}/get_reward?key=k1", json=orlhf).status_code == 200
    # The probes and metrics stay open.
    assert httpx.get(f"{base}/ready").status_code == 200
    assert httpx.get(f"{base}/metrics").status_code == 200
    assert httpx.get(f"{base}/info").status_code == 401
    assert httpx.get(f"{base}/info", headers=AUTH).status_code == 200


def test_get_reward_follows_the_openrlhf_contract(length_server: Served) -> None:
    base = length_server.base_url
    prompts = ["<|user|>1+1?<|assistant|>", "<|user|>2+2?<|assistant|>"]
    request = {"query": [prompts[0] + "\\boxed{2}<|im_end|>", prompts[1] + "\\boxed{5}</s>",
                         prompts[0] + "hmm \\boxed{3}"],
               "prompts": [prompts[0], prompts[1], prompts[0]], "labels": ["2", 4, "2"]}
    reply = httpx.post(f"{base}/get_reward?key=k1&mode=verifier", json=request, timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["rewards"] == [1.0, 0.0, 0.0]
    assert body["scores"] == [1.0, 0.0, 0.0]
    assert set(body["extra_logs"]) >= {"verifier", "rm_score", "ungradable", "partial"}
    assert all(len(v) == 3 for v in body["extra_logs"].values())
    empty = httpx.post(f"{base}/get_reward?key=k1", json={"query": [], "prompts": [], "labels": []})
    assert empty.status_code == 200
    assert empty.json()["rewards"] == []
    assert all(v == [] for v in empty.json()["extra_logs"].values())
    bad = httpx.post(f"{base}/get_reward?key=k1&alpha=0.9&beta=0.9", json=request)
    assert bad.status_code == 422


def test_metrics_expose_the_families(length_server: Served) -> None:
    httpx.post(f"{length_server.base_url}/score", headers=AUTH, timeout=60,
               json={"groups": [{"reference": "1", "responses": ["\\boxed{1}", "none"]}]})
    text = httpx.get(f"{length_server.base_url}/metrics").text
    for family in ("hero_requests_total", "hero_request_duration_seconds", "hero_verifier_outcomes_total",
                   "hero_reward_bucket", "hero_sigma_ref", "hero_groups_waiting",
                   "process_resident_memory_bytes"):
        assert family in text, family
    assert 'hero_verifier_outcomes_total{status="no_answer"}' in text
    assert "x-request-id" in httpx.get(f"{length_server.base_url}/health").headers


@pytest.mark.parametrize(("groups", "per_group", "setting"),
                         [(51, 1, "HERO_MAX_GROUPS"), (3, 70, "HERO_MAX_RESPONSES")])
def test_too_many_groups_or_responses_get_413_naming_the_limit(
        length_server: Served, groups: int, per_group: int, setting: str) -> None:
    body = {"groups": [{"reference": "1", "responses": ["\\boxed{1}"] * per_group}] * groups}
    reply = httpx.post(f"{length_server.base_url}/score", json=body, headers=AUTH, timeout=30)
    assert reply.status_code == 413
    assert setting in reply.json()["detail"]


def test_verifier_policy_settings_reach_the_workers(length_server: Served,
                                                     make_server: Callable[..., Served]) -> None:
    request = {"groups": [{"reference": "5", "responses": ["so \\boxed{x=5}"]}]}
    lenient = httpx.post(f"{length_server.base_url}/score", json=request, headers=AUTH, timeout=60).json()
    assert lenient["groups"][0]["verifier"] == [1]
    strict = make_server(Settings(verifier_workers=1, verifier_assignment=False), reward_model=LengthRM())
    assert httpx.post(f"{strict.base_url}/score", json=request, timeout=60).json()["groups"][0]["verifier"] == [0]
    info = httpx.get(f"{strict.base_url}/info").json()
    assert info["verifier"]["policy"]["assignment"] is False
