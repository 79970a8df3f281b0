"""Per-request verifier policy (params.verifier) and per-mode work (params.compute), through a real app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hero_client.schemas import ScoreResponse
from hero_service.settings import Settings

from .conftest import LengthRM, Served

AUTH = {"Authorization": "Bearer k2"}


def _score(served: Served, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    reply = httpx.post(f"{served.base_url}/score", json=body, headers=headers or {}, timeout=60)
    assert reply.status_code == 200, reply.text
    ScoreResponse.model_validate(reply.json())  # the reply shape stays valid
    result: dict[str, Any] = reply.json()
    return result


@pytest.mark.parametrize(
    ("reference", "response", "lenient", "strict"),
    [
        # Settled in the parent (literal fast path) and in a worker (sympy), each under both policies.
        ("5", "so \\boxed{x=5}", {"assignment": True}, {"assignment": False}),
        ("0.5", "so \\boxed{50\\%}", {"percent": "fraction"}, {"percent": "number"}),
    ],
)
def test_policy_per_request_gives_its_own_verdict_and_cache(
    length_server: Served, reference: str, response: str, lenient: dict[str, Any], strict: dict[str, Any]
) -> None:
    def verdict(policy: dict[str, Any]) -> int:
        body = {"groups": [{"reference": reference, "responses": [response]}],
                "params": {"mode": "verifier", "verifier": policy}}
        reply = _score(length_server, body, AUTH)
        for key, value in policy.items():
            assert reply["params"]["verifier"][key] == value
        result: int = reply["groups"][0]["verifier"][0]
        return result

    # Alternate, so that a verdict cached under one policy would show up under the other.
    assert [verdict(lenient), verdict(strict), verdict(lenient), verdict(strict)] == [1, 0, 1, 0]


@pytest.mark.parametrize(
    ("verifier", "field"),
    [({"percent": "sometimes"}, "percent"), ({"approximate_digits": -1}, "approximate_digits"),
     ({"max_answer_chars": 0}, "max_answer_chars"), ({"strictness": 1}, "strictness")],
)
def test_bad_policy_gets_422_naming_the_field(length_server: Served, verifier: dict[str, Any], field: str) -> None:
    body = {"groups": [{"reference": "1", "responses": ["\\boxed{1}"]}], "params": {"verifier": verifier}}
    reply = httpx.post(f"{length_server.base_url}/score", json=body, headers=AUTH, timeout=30)
    assert reply.status_code == 422
    assert any(d["loc"][-3:] == ["params", "verifier", field] for d in reply.json()["detail"])


def test_mode_verifier_never_calls_the_rm(make_server: Callable[..., Served]) -> None:
    rm = LengthRM()
    served = make_server(Settings(verifier_workers=1), reward_model=rm)
    before = rm.calls
    group = {"reference": "42", "responses": ["\\boxed{42}", "\\boxed{41}", "<answer>42</answer>", "42"]}
    reply = _score(served, {"groups": [group], "params": {"mode": "verifier", "session": "v"}})
    assert rm.calls == before
    out = reply["groups"][0]
    assert out["rewards"] == [1.0, 0.0, 1.0, 1.0]
    assert out["verifier"] == [1, 0, 1, 1]
    assert out["rm_scores"] == [None] * 4
    assert out["rm_status"] == ["skipped"] * 4
    # No RM spread was measured, so the session's sigma_ref is not moved by these groups.
    info = httpx.get(f"{served.base_url}/info").json()
    assert info["defaults"]["compute"] == "needed"
    hero = _score(served, {"groups": [group], "params": {"session": "v"}})
    assert hero["sigma_ref"] == pytest.approx(hero["groups"][0]["sigma"])

    asked = _score(served, {"groups": [group], "params": {"mode": "verifier", "compute": "all"}})
    assert rm.calls == before + 2
    assert asked["groups"][0]["rm_scores"] == [len(r) / 10 for r in group["responses"]]
    assert asked["groups"][0]["rewards"] == [1.0, 0.0, 1.0, 1.0]


def test_mode_rm_needs_no_verifier(length_server: Served) -> None:
    group = {"reference": "42", "responses": ["\\boxed{42}", "\\boxed{41} is it"]}
    out = _score(length_server, {"groups": [group], "params": {"mode": "rm"}}, AUTH)["groups"][0]
    assert out["verifier_status"] == ["skipped", "skipped"]
    assert out["rewards"] == [len(r) / 10 for r in group["responses"]]
    asked = _score(length_server, {"groups": [group], "params": {"mode": "rm", "compute": "all"}}, AUTH)
    assert asked["groups"][0]["verifier"] == [1, 0]
    assert asked["groups"][0]["rewards"] == out["rewards"]


def test_get_reward_takes_the_policy_as_json_in_the_url(length_server: Served) -> None:
    body = {"query": ["Q: 1/2? A: so \\boxed{50\\%}"], "prompts": ["Q: 1/2? A:"], "labels": ["0.5"]}

    def reward(policy: str) -> float:
        reply = httpx.post(f"{length_server.base_url}/get_reward", params={
            "key": "k1", "mode": "verifier", "verifier": policy}, json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        value: float = reply.json()["rewards"][0]
        return value

    assert [reward('{"percent": "fraction"}'), reward('{"percent": "number"}')] == [1.0, 0.0]
    for policy, named in (('{"percent": "sometimes"}', "percent"), ("{not json", "verifier"),
                          ("[" * 2000, "verifier"), ('{"units": true}' + " " * 3000, "verifier")):
        bad = httpx.post(f"{length_server.base_url}/get_reward", params={
            "key": "k1", "verifier": policy}, json=body, timeout=60)
        assert bad.status_code == 422
        assert "verifier" in bad.text and named in bad.text
