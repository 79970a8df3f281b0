"""OpenRLHF's own reward client (``SingleTurnAgentExecutor``), pointed at a real server two ways."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import hero_client.integrations.openrlhf as adapter

agent = pytest.importorskip("openrlhf.utils.agent")

PROMPT = "<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n"
RESPONSES = ["\\boxed{42}<|im_end|>", "It is \\boxed{41}<|im_end|>", "\\boxed{42}.<|im_end|>", "no idea<|im_end|>"]


async def _group(fetch: Any) -> list[dict[str, Any]]:
    """OpenRLHF >= 0.9.1 sends each sample of a prompt in its own concurrent request."""
    answers = await asyncio.gather(*(fetch([PROMPT + r], [PROMPT], ["42"]) for r in RESPONSES))
    return [a[0] for a in answers]


def _check_group(results: list[dict[str, Any]]) -> None:
    rewards = [r["rewards"][0] for r in results]
    assert [r["scores"][0] for r in results] == [1.0, 0.0, 1.0, 0.0]  # the verifier, for dynamic filtering
    assert min(rewards[0], rewards[2]) > max(rewards[1], rewards[3])
    assert all(r["extra_logs"]["partial"] == [0.0] for r in results)  # the four requests formed one group


def test_openrlhf_http_client_with_the_built_url(embedded_server: Any) -> None:
    url = adapter.remote_url(embedded_server.base_url, group_size=4, mode="hero")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=url.split(","))

    _check_group(asyncio.run(_group(executor._fetch_rewards_via_http)))


def test_openrlhf_loads_the_adapter_file_as_its_reward_func(embedded_server: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERO_URL", embedded_server.base_url)
    monkeypatch.setenv("HERO_GROUP_SIZE", "4")
    # OpenRLHF decides by the ".py" suffix and imports the file from its path.
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=[adapter.__file__])

    results = asyncio.run(_group(executor._fetch_rewards_via_func))

    _check_group(results)
    assert all(r["extra_logs"]["server_error"] == [0.0] for r in results)


def test_openrlhf_reaches_a_keyed_server_through_the_url(make_server: Any) -> None:
    from hero_service.settings import Settings

    served = make_server(Settings(verifier_workers=1, api_keys="k1", mode="verifier"))
    url = adapter.remote_url(served.base_url, group_size=1, mode="verifier", api_key="k1")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=[url])

    (answer,) = asyncio.run(executor._fetch_rewards_via_http([PROMPT + RESPONSES[0]], [PROMPT], ["42"]))

    assert answer["rewards"] == [1.0]
