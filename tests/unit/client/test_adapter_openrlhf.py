"""OpenRLHF adapter: the --reward.remote_url builder, and reward_func against the fake server."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pydantic
import pytest

from hero_client import HeroClient, Retries
from hero_client.integrations import AdapterSettings
from hero_client.integrations import openrlhf as adapter

from .client_fakes import FakeHero, reward_of, status


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


@pytest.fixture
def env_reward(monkeypatch: pytest.MonkeyPatch, fake: FakeHero) -> Iterator[None]:
    """reward_func as OpenRLHF calls it, configured by the environment, talking to the fake server."""

    def client(self: AdapterSettings, transport: httpx.BaseTransport | None = None) -> HeroClient:
        return HeroClient(self.urls, api_key=self.api_key, transport=fake.transport(),
                          retries=Retries(2, backoff=0.0))

    monkeypatch.setattr(AdapterSettings, "client", client)
    monkeypatch.setenv("HERO_URL", "http://hero.test")
    monkeypatch.setenv("HERO_GROUP_SIZE", "8")
    monkeypatch.setenv("HERO_API_KEY", "k1")
    adapter._reward_for.cache_clear()
    yield
    adapter._reward_for.cache_clear()


@pytest.mark.usefixtures("env_reward")
def test_reward_func_posts_to_get_reward_with_header_auth(fake: FakeHero) -> None:
    out = adapter.reward_func(["<q>p r"], ["<q>p"], [{"answer": 3}])

    assert out["rewards"] == [reward_of("<q>p r")]
    assert out["extra_logs"] == {"verifier": [1.0], "server_error": [0.0]}
    request = fake.requests[0]
    assert (request.url.path, dict(request.url.params)) == ("/get_reward", {"group_size": "8"})
    assert request.headers["authorization"] == "Bearer k1"


@pytest.mark.usefixtures("env_reward")
def test_reward_func_reuses_one_client_per_configuration() -> None:
    adapter.reward_func(["a"], ["a"], [""])
    adapter.reward_func(["b"], ["b"], [""])

    assert adapter._reward_for.cache_info().currsize == 1


@pytest.mark.usefixtures("env_reward")
def test_reward_func_answers_zeros_with_the_same_keys_when_the_server_fails(fake: FakeHero) -> None:
    good = adapter.reward_func(["a"], ["a"], [""])
    fake.fail(status(503, retry_after="0"), status(503, retry_after="0"))
    failed = adapter.reward_func(["a", "b"], ["a", "b"], ["", ""])

    assert failed["rewards"] == failed["scores"] == [0.0, 0.0]
    # OpenRLHF merges per-sample logs by key: a failure must not change the key set.
    assert set(failed["extra_logs"]) == set(good["extra_logs"]) | {"ungradable"}
    assert failed["extra_logs"]["server_error"] == [1.0, 1.0]
