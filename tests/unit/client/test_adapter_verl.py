"""veRL's compute_score against the fake server: fixed keys, numpy inputs, derived group ids."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest

from hero_client import AsyncHeroClient, Retries
from hero_client.integrations import AdapterSettings
from hero_client.integrations.verl import RESULT_KEYS, compute_score, result_dict

from .client_fakes import FakeHero, reward_of, status

np = pytest.importorskip("numpy")


@pytest.fixture(autouse=True)
def fake_network(monkeypatch: pytest.MonkeyPatch, fake: FakeHero) -> None:
    """Every client the adapter makes talks to the fake server."""

    def async_client(self: AdapterSettings, transport: httpx.AsyncBaseTransport | None = None) -> AsyncHeroClient:
        return AsyncHeroClient(self.urls, transport=fake.transport(), retries=Retries(2, backoff=0.0))

    monkeypatch.setattr(AdapterSettings, "async_client", async_client)


async def score(solution: str = "\\boxed{42}", ground_truth: Any = "42", **kwargs: Any) -> dict[str, float]:
    kwargs.setdefault("extra_info", {"index": 0, "question": "6*7?"})
    kwargs.setdefault("group_size", 4)
    return await compute_score("math", solution, ground_truth, **kwargs)


async def test_the_result_is_the_reward_plus_logged_keys(fake: FakeHero) -> None:
    result = await score()

    assert list(result) == list(RESULT_KEYS)
    assert result["score"] == reward_of("\\boxed{42}")
    assert (result["acc"], result["weight"], result["error"], result["graded"]) == (1.0, 1.5, 0.0, 1.0)
    group = fake.bodies()[0]["groups"][0]
    assert (group["prompt"], group["reference"], group["group_size"]) == ("6*7?", "42", 4)


async def test_the_keys_are_the_same_when_the_server_fails(fake: FakeHero) -> None:
    fake.fail(status(500, "boom"))
    failed = await score()
    fake.verifier_status = "error"
    ungraded = await score()

    assert list(failed) == list(ungraded) == list(RESULT_KEYS)
    assert (failed["score"], failed["error"]) == (0.0, 1.0)
    assert ungraded["graded"] == 0.0
    assert all(isinstance(v, float) for v in failed.values())  # veRL averages them


async def test_numpy_inputs_are_converted(fake: FakeHero) -> None:
    info = {"index": np.int64(3), "question": np.str_("Q"), "tags": np.array([1, 2]),
            "rollout_reward_scores": {}, "num_turns": np.int32(2)}

    await score(ground_truth=np.array(["42"], dtype=object), extra_info=info)
    await score(ground_truth=np.int64(7), extra_info=info)
    await score(ground_truth=np.array([1.5, 2.0]), extra_info=info)

    assert [b["groups"][0]["reference"] for b in fake.bodies()] == ["42", "7", "[1.5, 2.0]"]
    assert fake.bodies()[0]["groups"][0]["prompt"] == "Q"


async def test_responses_to_one_prompt_share_a_group_id(fake: FakeHero) -> None:
    await score("a")
    await score("b")
    await score("a", extra_info={"index": 1, "question": "6*7?"})  # another dataset row
    await score("a", ground_truth="41")

    ids = [b["groups"][0]["id"] for b in fake.bodies()]
    assert ids[0] == ids[1]
    assert len(set(ids)) == 3


async def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeHero) -> None:
    monkeypatch.setenv("HERO_URL", "http://a.test,http://b.test")
    monkeypatch.setenv("HERO_GROUP_SIZE", "8")
    monkeypatch.setenv("HERO_PARAMS", '{"alpha": 0.1}')
    monkeypatch.setenv("HERO_MODE", "verifier")

    await compute_score("math", "x", "1", {"question": "q"})
    await compute_score("math", "x", "1", {"question": "q"}, mode="hero")  # reward_kwargs win

    assert [r.url.host for r in fake.requests] == ["a.test", "b.test"]
    assert fake.bodies()[0]["groups"][0]["group_size"] == 8
    assert [b["params"] for b in fake.bodies()] == [{"mode": "verifier", "alpha": 0.1},
                                                    {"mode": "hero", "alpha": 0.1}]


async def test_without_a_group_size_it_warns_and_scores_alone(fake: FakeHero) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await compute_score("math", "x", "1", {"question": "q"})

    assert any("HERO_GROUP_SIZE" in str(w.message) for w in caught)
    assert fake.bodies()[0]["groups"][0]["group_size"] == 1


def test_result_dict_of_nothing_is_an_error_with_every_key() -> None:
    assert result_dict(None) == dict.fromkeys(RESULT_KEYS, 0.0) | {"error": 1.0}



def test_verls_raw_prompt_becomes_chat_messages() -> None:
    from hero_client.integrations.verl import _chat_prompt

    # agent_loop stores it as np.array([messages] * n); a DataProto item then holds an object array.
    raw = np.array([[{"role": "user", "content": "Q", "extra": np.int64(1)}]])[0]
    multimodal = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]}]

    assert [m.model_dump() for m in _chat_prompt(raw)] == [{"role": "user", "content": "Q"}]
    assert [m.content for m in _chat_prompt(multimodal)] == ["Q"]
    assert _chat_prompt(None) is None
