"""HeroClient and AsyncHeroClient against a scripted MockTransport: every test runs on both."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pydantic
import pytest

from hero_client import (
    AsyncHeroClient,
    AuthenticationError,
    DecodingError,
    HeroClient,
    HeroStatusError,
    InvalidRequestError,
    OverloadedError,
    Retries,
    ScoredResponse,
    TransportError,
)

from .client_fakes import FAST, FakeHero, reward_of, status

Client = HeroClient | AsyncHeroClient
MakeClient = Callable[..., Client]

GROUP = {"prompt": "1+1?", "reference": "2", "responses": ["\\boxed{2}", "\\boxed{3}", "two"]}


async def call(value: Any) -> Any:
    """The same test body drives both clients: await what the async one returns."""
    return await value if inspect.isawaitable(value) else value


@pytest.fixture(params=["sync", "async"])
async def make_client(request: pytest.FixtureRequest, fake: FakeHero) -> AsyncIterator[MakeClient]:
    made: list[Client] = []

    def make(base_url: str | list[str] = "http://hero.test", **kwargs: Any) -> Client:
        kwargs.setdefault("retries", FAST)
        cls = HeroClient if request.param == "sync" else AsyncHeroClient
        client = cls(base_url, transport=fake.transport(), **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await call(client.close() if isinstance(client, HeroClient) else client.aclose())


async def test_score_sends_groups_and_params_and_parses_the_answer(make_client: MakeClient,
                                                                   fake: FakeHero) -> None:
    result = await call(make_client().score([GROUP], {"mode": "hero", "alpha": 0.1}))

    assert result.groups[0].rewards == [reward_of(r) for r in GROUP["responses"]]
    assert result.groups[0].verifier == [1, 0, 0]
    (request,) = fake.requests
    assert (request.method, str(request.url)) == ("POST", "http://hero.test/score")
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    # Unset parameters stay off the wire so the server's defaults apply.
    assert body["params"] == {"mode": "hero", "alpha": 0.1}
    assert body["groups"][0]["responses"] == GROUP["responses"]


async def test_score_one_sends_a_part_and_returns_its_reward(make_client: MakeClient, fake: FakeHero) -> None:
    scored = await call(make_client().score_one("Q", 2, "\\boxed{2}", group_id="g-1", group_size=8))

    assert isinstance(scored, ScoredResponse)
    assert scored.reward == reward_of("\\boxed{2}")
    assert (scored.group_id, scored.group_size, scored.verifier) == ("g-1", 8, 1)
    assert scored.graded
    group = fake.bodies()[0]["groups"][0]
    part_id = group.pop("part_id")
    assert len(part_id) == 32
    assert group == {"id": "g-1", "prompt": "Q", "reference": "2", "responses": ["\\boxed{2}"], "group_size": 8}


async def test_a_retried_part_carries_the_same_part_id(make_client: MakeClient, fake: FakeHero) -> None:
    fake.fail(status(503, "busy", retry_after="0"))
    await call(make_client().score_one("Q", 2, "\\boxed{2}", group_id="g-1", group_size=8))
    first, retry = (body["groups"][0]["part_id"] for body in fake.bodies())
    assert first == retry
    await call(make_client().score_one("Q", 2, "\\boxed{2}", group_id="g-1", group_size=8))
    assert fake.bodies()[-1]["groups"][0]["part_id"] != first
    # A complete group is not a part and carries no part id.
    await call(make_client().score([GROUP]))
    assert "part_id" not in fake.bodies()[-1]["groups"][0]


@pytest.mark.parametrize("code", [503, 429])
async def test_overload_is_retried_after_the_servers_retry_after(make_client: MakeClient, fake: FakeHero,
                                                                  code: int) -> None:
    fake.fail(status(code, "busy", retry_after="0.3"))
    client = make_client(retries=Retries(3, backoff=0.0, jitter=0.0))

    started = time.monotonic()
    result = await call(client.score([GROUP]))

    assert time.monotonic() - started >= 0.3  # waited as told, although backoff=0
    assert len(fake.requests) == 2
    assert result.groups[0].rewards[0] == reward_of(GROUP["responses"][0])


async def test_overload_that_persists_raises_with_retry_after(make_client: MakeClient, fake: FakeHero) -> None:
    fake.fail(*[status(503, "warming up", retry_after="0") for _ in range(3)])

    with pytest.raises(OverloadedError) as info:
        await call(make_client().score([GROUP]))

    assert len(fake.requests) == 3  # FAST allows three attempts
    assert (info.value.status_code, info.value.retry_after, info.value.detail) == (503, 0.0, "warming up")


async def test_422_is_not_retried_and_carries_the_field(make_client: MakeClient, fake: FakeHero) -> None:
    detail = [{"loc": ["body", "params", "alpha"], "msg": "alpha + beta must be < 1", "type": "value_error"}]
    fake.fail(status(422, detail))

    with pytest.raises(InvalidRequestError) as info:
        await call(make_client().score([GROUP]))

    assert len(fake.requests) == 1
    assert info.value.status_code == 422
    assert info.value.detail[0]["loc"] == ["body", "params", "alpha"]


@pytest.mark.parametrize(("code", "error"), [(401, AuthenticationError), (413, InvalidRequestError),
                                             (500, HeroStatusError), (404, HeroStatusError)])
async def test_other_errors_are_not_retried(make_client: MakeClient, fake: FakeHero, code: int,
                                            error: type[HeroStatusError]) -> None:
    fake.fail(status(code))

    with pytest.raises(error) as info:
        await call(make_client().score([GROUP]))

    assert type(info.value) is error
    assert len(fake.requests) == 1


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
async def test_transport_errors_are_retried_then_raised(make_client: MakeClient, fake: FakeHero,
                                                        exc: Exception) -> None:
    fake.fail(exc, exc, exc)

    with pytest.raises(TransportError) as info:
        await call(make_client().score([GROUP]))

    assert len(fake.requests) == 3
    assert isinstance(info.value.__cause__, type(exc))


async def test_a_transport_error_then_success_succeeds(make_client: MakeClient, fake: FakeHero) -> None:
    fake.fail(httpx.ConnectError("refused"))

    result = await call(make_client().score([GROUP]))

    assert len(fake.requests) == 2
    assert len(result.groups) == 1


async def test_requests_go_round_robin_and_a_retry_fails_over(make_client: MakeClient, fake: FakeHero) -> None:
    client = make_client(["http://a.test", "http://b.test/"])

    for _ in range(3):
        await call(client.score([GROUP]))
    fake.fail(httpx.ConnectError("a is down"))
    await call(client.score([GROUP]))

    hosts = [r.url.host for r in fake.requests]
    assert hosts == ["a.test", "b.test", "a.test", "b.test", "a.test"]
    assert all(r.url.path == "/score" for r in fake.requests)  # the trailing slash is not doubled


async def test_api_key_is_sent_as_bearer(make_client: MakeClient, fake: FakeHero) -> None:
    await call(make_client(api_key="s3cret").score([GROUP]))
    await call(make_client().score([GROUP]))

    assert fake.requests[0].headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in fake.requests[1].headers


async def test_timeout_is_passed_to_httpx(make_client: MakeClient, fake: FakeHero) -> None:
    await call(make_client(timeout=httpx.Timeout(7.0, connect=1.5)).score([GROUP]))
    await call(make_client(timeout=3.0).health())

    assert fake.requests[0].extensions["timeout"] == {"connect": 1.5, "read": 7.0, "write": 7.0, "pool": 7.0}
    assert fake.requests[1].extensions["timeout"] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


async def test_ready_reads_200_and_503_without_retrying(make_client: MakeClient, fake: FakeHero) -> None:
    client = make_client()
    fake.fail(status(503, "loading", retry_after="5"))

    assert await call(client.ready()) is False
    assert await call(client.ready()) is True
    assert len(fake.requests) == 2


async def test_health_returns_the_status_even_on_503(make_client: MakeClient, fake: FakeHero) -> None:
    fake.fail(httpx.Response(503, json={"status": "starting", "reason": "model failed"}))

    health = await call(make_client().health())

    assert (health.status, health.reason) == ("starting", "model failed")


async def test_get_reward_sends_openrlhf_body_and_query(make_client: MakeClient, fake: FakeHero) -> None:
    answer = await call(make_client().get_reward(["pq"], ["p"], [3], group_size=4, mode="verifier"))

    assert answer.rewards == [reward_of("pq")]
    request = fake.requests[0]
    assert dict(request.url.params) == {"group_size": "4", "mode": "verifier"}
    assert json.loads(request.content) == {"query": ["pq"], "prompts": ["p"], "labels": [3]}


async def test_an_answer_that_is_not_the_wire_format_is_a_decoding_error(make_client: MakeClient,
                                                                         fake: FakeHero) -> None:
    fake.fail(httpx.Response(200, json={"groups": "nope"}))

    with pytest.raises(DecodingError):
        await call(make_client().score([GROUP]))


async def test_an_undecodable_body_is_a_decoding_error_and_not_retried(make_client: MakeClient,
                                                                      fake: FakeHero) -> None:
    fake.fail(httpx.DecodingError("bad gzip"))

    with pytest.raises(DecodingError):
        await call(make_client().score([GROUP]))

    assert len(fake.requests) == 1


async def test_invalid_groups_fail_before_sending(make_client: MakeClient, fake: FakeHero) -> None:
    with pytest.raises(pydantic.ValidationError, match="group_size"):
        await call(make_client().score([{**GROUP, "group_size": 2}]))  # 3 responses > group_size

    assert fake.requests == []


def test_error_messages_do_not_leak_the_query_string() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"detail": "bad key"})

    with HeroClient("http://hero.test", transport=httpx.MockTransport(handler)) as client, \
            pytest.raises(AuthenticationError) as info:
        client.get_reward(["q"], ["p"], ["l"], key="s3cret")

    assert "s3cret" not in str(info.value)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        HeroClient("hero.test:8000")
    with pytest.raises(ValueError, match="at least one"):
        HeroClient([])


def test_backoff_doubles_is_capped_and_yields_to_retry_after() -> None:
    retries = Retries(5, backoff=0.5, max_backoff=3.0, jitter=0.0)

    assert [retries.wait_seconds(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert retries.wait_seconds(1, retry_after=2.5) == 2.5
    assert retries.wait_seconds(1, retry_after=100.0) == 3.0


def test_jitter_only_stretches_the_wait() -> None:
    retries = Retries(backoff=1.0, jitter=0.5)
    waits = [retries.wait_seconds(1) for _ in range(200)]

    assert all(1.0 <= w <= 1.5 for w in waits)
    assert len(set(waits)) > 1


def test_retries_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        Retries(0)
