"""Input that JSON parsers accept but strict JSON cannot echo back: non-finite numbers, lone surrogates."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hero_service.settings import Settings

from .conftest import LengthRM, Served

AUTH = {"Authorization": "Bearer k2", "content-type": "application/json"}
BOX = "\\boxed{7}"


def _post(served: Served, path: str, body: dict[str, Any]) -> httpx.Response:
    # json.dumps writes NaN/Infinity and escapes lone surrogates as \ud800, as a hostile client would send them.
    return httpx.post(f"{served.base_url}{path}", content=json.dumps(body).encode(), headers=AUTH, timeout=60)


def _strict_json(reply: httpx.Response) -> Any:
    """The body parsed as RFC 8259 JSON: no NaN/Infinity, valid UTF-8."""
    def refuse(name: str) -> None:
        raise AssertionError(f"non-JSON constant {name} in {reply.text[:200]}")

    return json.loads(reply.content.decode("utf-8"), parse_constant=refuse)


GROUP = {"reference": "7", "responses": [BOX, "no"]}


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/score", {"groups": [GROUP], "params": {"alpha": float("nan")}}, ["body", "params", "alpha"]),
        ("/score", {"groups": [GROUP], "params": {"sigma_ref": float("inf")}}, ["body", "params", "sigma_ref"]),
        ("/score", {"groups": [{"reference": "7", "responses": [float("nan")]}]},
         ["body", "groups", 0, "responses", 0]),
        ("/score", {"groups": [{**GROUP, "group_size": float("-inf")}]}, ["body", "groups", 0, "group_size"]),
        ("/get_reward?key=k1", {"query": [float("nan")]}, ["body", "query", 0]),
        ("/get_reward?key=k1&sigma_ref=inf", {"query": ["q"]}, ["query", "sigma_ref"]),
        ("/get_reward?key=k1", {"query": ["q"], "labels": [float("nan")], "prompts": {"a": float("inf")}},
         ["body", "prompts"]),
        ("/score", {"groups": [{**GROUP, "id": "g\ud800"}]}, ["body", "groups", 0, "id"]),
        ("/score", {"groups": [{**GROUP, "id": "g", "part_id": "\udfff"}]}, ["body", "groups", 0, "part_id"]),
        ("/score", {"groups": [GROUP], "params": {"session": "s\ud800"}}, ["body", "params", "session"]),
    ],
)
def test_bad_numbers_and_identifiers_get_a_json_422_naming_the_field(
    length_server: Served, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    reply = _post(length_server, path, body)
    assert reply.status_code == 422, reply.text
    assert loc in [error["loc"] for error in _strict_json(reply)["detail"]]


def test_lone_surrogates_in_text_are_scored_with_the_code_point_replaced(length_server: Served) -> None:
    responses = ["\\boxed{7\ud800}", "bad \udc00 outside, then \\boxed{7}", BOX, "\\boxed{3}"]
    body = {"groups": [{"id": "sur", "prompt": [{"role": "user", "content": "7?\ud800"}], "reference": "7",
                        "responses": responses}]}
    reply = _post(length_server, "/score", body)
    assert reply.status_code == 200, reply.text
    group = _strict_json(reply)["groups"][0]
    assert len(group["rewards"]) == 4
    assert group["rm_status"] == ["ok"] * 4
    assert group["answers"][0] == "7\ufffd"
    assert group["verifier"][1:] == [1, 1, 0]


def test_lone_surrogates_reach_neither_the_tokenizer_nor_the_verifier(embedded_server: Served) -> None:
    """With the real MiniLM tokenizer: a bad code point costs no other response its reward."""
    responses = ["\\boxed{42\ud800}", "42 \ud800 so \\boxed{42}", "\\boxed{41}"]
    body = {"groups": [{"prompt": "6*7?\udfff", "reference": "42", "responses": responses}]}
    reply = httpx.post(f"{embedded_server.base_url}/score", content=json.dumps(body).encode(),
                       headers={"content-type": "application/json"}, timeout=60)
    assert reply.status_code == 200, reply.text
    group = _strict_json(reply)["groups"][0]
    assert group["rm_status"] == ["ok"] * 3
    assert all(score is not None for score in group["rm_scores"])
    assert group["verifier"][1:] == [1, 0]


def test_openrlhf_text_with_lone_surrogates_is_scored(embedded_server: Served) -> None:
    body = {"query": ["Q\ud800 so \\boxed{2}", "Q\ud800 hmm \udfff \\boxed{3}"], "prompts": ["Q\ud800", "Q\ud800"],
            "labels": ["2", "2"]}
    reply = httpx.post(f"{embedded_server.base_url}/get_reward", content=json.dumps(body).encode(),
                       headers={"content-type": "application/json"}, timeout=60)
    assert reply.status_code == 200, reply.text
    out = _strict_json(reply)
    assert out["extra_logs"]["ungradable"] == [0.0, 0.0]
    assert out["extra_logs"]["verifier"] == [1.0, 0.0]


def test_a_forged_request_id_is_replaced_not_logged(length_server: Served) -> None:
    base = length_server.base_url
    forged = "abc] ERROR hero_service.scorer [forged"
    reply = httpx.get(f"{base}/health", headers={"X-Request-ID": forged})
    assert reply.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["x-request-id"])
    assert httpx.get(f"{base}/health", headers={"X-Request-ID": "trainer-7:42"}).headers["x-request-id"] == (
        "trainer-7:42")


def test_sigma_ref_series_are_bounded_and_dropped_with_their_session(
    make_server: Callable[..., Served],
) -> None:
    served = make_server(Settings(verifier_workers=1, max_sessions=3), reward_model=LengthRM())
    for name in ["s0", "s1", "s2", "s0", "s3", "s4"]:  # s0 used again, so s1 and s2 are the ones evicted
        body = {"groups": [{"reference": "1", "responses": ["\\boxed{1}", "no"]}], "params": {"session": name}}
        assert httpx.post(f"{served.base_url}/score", json=body, timeout=60).status_code == 200
    text = httpx.get(f"{served.base_url}/metrics").text
    series = re.findall(r'^hero_sigma_ref\{session="([^"]+)"\}', text, re.MULTILINE)
    assert sorted(series) == ["s0", "s3", "s4"]
    assert set(served.app.state.hero.scorer.sigma.snapshot()) == set(series)

