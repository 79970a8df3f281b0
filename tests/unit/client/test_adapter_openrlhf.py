"""OpenRLHF adapter: the --reward.remote_url builder, and the launch grouping behind its agent file."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pydantic
import pytest

from hero_client import HeroError
from hero_client.integrations import openrlhf as adapter
from hero_client.integrations._launch import LaunchGroups

from .client_fakes import reward_of


def test_remote_url_puts_route_group_size_params_and_key_in_the_url() -> None:
    url = adapter.remote_url("http://hero:8000/", group_size=8, api_key="k", alpha=0.1, weighting=False)

    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("hero:8000", "/get_reward")
    assert parse_qs(parts.query) == {"group_size": ["8"], "mode": ["hero"], "alpha": ["0.1"],
                                     "weighting": ["false"], "key": ["k"]}


def test_remote_url_joins_several_servers_and_escapes_commas() -> None:
    url = adapter.remote_url(["http://a:1/get_reward", "http://b:2"], group_size=4, mode="verifier",
                             api_key="x,y")

    # OpenRLHF splits --reward.remote_url on commas: exactly one per server.
    first, second = url.split(",")
    assert first.startswith("http://a:1/get_reward?") and second.startswith("http://b:2/get_reward?")
    assert parse_qs(urlsplit(second).query)["key"] == ["x,y"]


def test_remote_url_rejects_typos_and_bad_bases() -> None:
    with pytest.raises(pydantic.ValidationError, match="alpah"):
        adapter.remote_url("http://hero:8000", group_size=8, alpah=0.1)
    with pytest.raises(ValueError, match="http"):
        adapter.remote_url("hero:8000", group_size=8)
    with pytest.raises(ValueError, match="group_size"):
        adapter.remote_url("http://hero:8000", group_size=0)


class Recorder:
    """A post function that answers like /get_reward (reward = len(query) / 10) and records each call."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[list[str], list[str], list[Any]]] = []
        self.fail = fail

    async def __call__(self, queries: list[str], prompts: list[str], labels: list[Any]) -> dict[str, Any]:
        self.calls.append((queries, prompts, labels))
        await asyncio.sleep(0)
        if self.fail:
            raise HeroError("down")
        return {"rewards": [reward_of(q) for q in queries], "scores": [1.0] * len(queries),
                "extra_logs": {"verifier": [1.0] * len(queries)}}


async def _sample(groups: LaunchGroups, prompt: str, label: Any, query: str | None, delay: float) -> Any:
    """One OpenRLHF sample: enter at start, generate for ``delay``, then submit (or leave on failure)."""
    slot = groups.enter(prompt, label)
    try:
        await asyncio.sleep(delay)
        return None if query is None else await groups.submit(slot, query)
    finally:
        groups.leave(slot)


async def test_samples_started_together_are_scored_as_one_group_when_the_last_is_in() -> None:
    post = Recorder()
    groups = LaunchGroups(post)
    first = [_sample(groups, "P", {"a": 1}, f"P{k}", 0.03 * (3 - k)) for k in range(3)]
    other = [_sample(groups, "Q", 2, f"Q{k}", 0.01) for k in range(2)]
    results = await asyncio.gather(*first, *other)
    # One request per prompt, sent when its slowest sample (P0) is in; queries in start order.
    assert sorted(post.calls) == [(["P0", "P1", "P2"], ["P"] * 3, [{"a": 1}] * 3), (["Q0", "Q1"], ["Q"] * 2, [2] * 2)]
    assert [r["rewards"] for r in results] == [[reward_of(q)] for q in ("P0", "P1", "P2", "Q0", "Q1")]
    assert all(r["extra_logs"] == {"verifier": [1.0], "server_error": [0.0]} for r in results)


async def test_a_prompt_started_again_later_is_another_group() -> None:
    post = Recorder()
    groups = LaunchGroups(post)
    early = [asyncio.ensure_future(_sample(groups, "P", "1", f"a{k}", 0.05)) for k in range(2)]
    await asyncio.sleep(0.01)  # a later turn: OpenRLHF's second generate_responses for the same prompt
    late = [_sample(groups, "P", "1", f"b{k}", 0.0) for k in range(2)]
    await asyncio.gather(*early, *late)
    assert sorted(call[0] for call in post.calls) == [["a0", "a1"], ["b0", "b1"]]


async def test_a_sample_that_fails_to_generate_does_not_hold_its_group() -> None:
    post = Recorder()
    groups = LaunchGroups(post)
    results = await asyncio.gather(*(_sample(groups, "P", "1", None if k == 1 else f"P{k}", 0.01) for k in range(3)))
    assert results[1] is None
    assert post.calls == [(["P0", "P2"], ["P", "P"], ["1", "1"])]


async def test_a_failed_request_answers_zeros_flagged_with_the_servers_log_keys() -> None:
    groups = LaunchGroups(Recorder(fail=True))
    results = await asyncio.gather(*(_sample(groups, "P", "1", f"P{k}", 0.0) for k in range(2)))
    for result in results:
        assert result["rewards"] == result["scores"] == [0.0]
        assert result["extra_logs"]["server_error"] == result["extra_logs"]["ungradable"] == [1.0]
        assert set(result["extra_logs"]) == {"verifier", "rm_score", "weight", "partial", "ungradable", "truncated",
                                             "prefix_mismatch", "server_error"}


async def test_a_launch_whose_samples_all_failed_sends_nothing() -> None:
    post = Recorder()
    groups = LaunchGroups(post)
    assert await asyncio.gather(*(_sample(groups, "P", "1", None, 0.0) for _ in range(2))) == [None, None]
    await asyncio.sleep(0.01)
    assert post.calls == []
