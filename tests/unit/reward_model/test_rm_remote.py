"""The remote RM backend against fake engines (httpx.MockTransport): balancing, failover, retries,
timeouts, overload and health. No network, no model: a fake encoder stands in for the tokenizer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from hero_service.errors import QueueFullError
from hero_service.reward_model.base import EngineHealth, RemoteEngine, RMItem
from hero_service.reward_model.remote import Balancer, RemoteConfig, RemoteRewardModel, parse_classify
from hero_service.settings import Settings

A, B = "http://engine-a:8000", "http://engine-b:8000"
MODEL = "org/tiny-rm"


@dataclass(frozen=True)
class Enc:
    ids: list[int]
    truncated: bool = False


class FakeEncoder:
    """Encodes a response as its characters' code points; ``!`` in it marks the item truncated."""

    def __init__(self, max_length: int = 4096, input_layout: str = "chat") -> None:
        self.max_length = max_length
        self.input_layout = input_layout
        self.loaded = False

    def load_tokenizer(self) -> None:
        self.loaded = True

    @property
    def end_tokens(self) -> list[str]:
        return ["</s>"]

    def encode(self, items: Any) -> list[Enc]:
        return [Enc([ord(c) for c in item.response][: self.max_length], "!" in item.response) for item in items]


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class Engines:
    """Fake vLLM servers by host: each answers /health, /v1/models and /classify (value = sum of ids)."""

    down: set[str] = field(default_factory=set)
    classify_status: dict[str, int] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    max_model_len: int = 1024
    calls: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    hang: set[str] = field(default_factory=set)
    gate: asyncio.Event | None = None
    in_flight: int = 0
    peak: int = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/health":
            return httpx.Response(200)
        if request.url.path == "/v1/models":
            served = self.models.get(host, MODEL)
            return httpx.Response(200, json={"data": [{"id": served, "max_model_len": self.max_model_len}]})
        assert request.url.path == "/classify"
        self.calls.append(host)
        if host in self.hang:
            raise httpx.ReadTimeout("timed out", request=request)
        status = self.classify_status.get(host, 200)
        if status != 200:
            return httpx.Response(status, text="no", headers={"Retry-After": "7"})
        payload = json.loads(request.content)
        self.bodies.append(payload)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
        finally:
            self.in_flight -= 1
        data = [{"index": i, "probs": [float(sum(ids))], "num_classes": 1} for i, ids in enumerate(payload["input"])]
        return httpx.Response(200, json={"data": data[::-1]})  # out of order: the parser must sort


@pytest.fixture
def engines() -> Engines:
    return Engines()


@pytest.fixture
async def rm_factory(engines: Engines) -> AsyncIterator[Callable[..., Awaitable[RemoteRewardModel]]]:
    """Start remote RMs on the fake engines (two URLs unless told); all close at the end."""
    started: list[RemoteRewardModel] = []

    async def make(urls: tuple[str, ...] = (A, B), **overrides: Any) -> RemoteRewardModel:
        config = RemoteConfig(urls=urls, served_model=MODEL, backoff_s=0.0, health_interval_s=3600, **overrides)
        rm = RemoteRewardModel(MODEL, FakeEncoder(), config, transport=httpx.MockTransport(engines))
        await rm.start()
        started.append(rm)
        return rm

    yield make
    for rm in started:
        await rm.close()


def items(*responses: str) -> list[RMItem]:
    return [RMItem("q", r) for r in responses]


async def test_sends_token_ids_raw_and_reads_values_in_order(rm_factory: Any, engines: Engines) -> None:
    rm = await rm_factory()
    scores = await rm.score(items("ab", "c", "d!"))
    assert [s.score for s in scores] == [ord("a") + ord("b"), ord("c"), ord("d") + ord("!")]
    assert [s.truncated for s in scores] == [False, False, True]
    [body] = engines.bodies
    assert body == {"model": MODEL, "input": [[97, 98], [99], [100, 33]], "use_activation": False}


async def test_calls_are_spread_over_healthy_engines(rm_factory: Any, engines: Engines) -> None:
    rm = await rm_factory()
    await asyncio.gather(*(rm.score(items("x")) for _ in range(10)))
    assert engines.calls.count(A) == engines.calls.count(B) == 5


async def test_balancer_prefers_fewest_in_flight_and_skips_unhealthy() -> None:
    balancer = Balancer([A, B, "http://c:1"])
    a, b, c = balancer.endpoints
    a.healthy = b.healthy = True
    a.in_flight = 3
    assert {balancer.pick().url for _ in range(6)} == {B}  # c is not healthy, a is busier
    assert balancer.pick(tried=[b]) is a  # a retry goes elsewhere
    a.healthy = b.healthy = False
    assert {balancer.pick().url for _ in range(6)} == {B, "http://c:1"}  # none healthy: try them all
    assert balancer.unavailable_reason is not None and "not checked yet" in balancer.unavailable_reason


async def test_a_refused_engine_fails_over_and_is_marked_down(rm_factory: Any, engines: Engines) -> None:
    rm = await rm_factory()
    assert rm.unavailable_reason is None
    engines.down.add(A)
    scores = await asyncio.gather(*(rm.score(items("x")) for _ in range(6)))
    assert all(s[0].status == "ok" for s in scores)
    assert rm.balancer.endpoints[0].healthy is False
    assert rm.unavailable_reason is None  # B still serves
    assert engines.calls.count(B) == 6


async def test_every_engine_down_gives_error_status_and_an_unavailable_reason(
    rm_factory: Any, engines: Engines
) -> None:
    rm = await rm_factory()
    engines.down.update({A, B})
    scores = await rm.score(items("x", "y"))
    assert [(s.score, s.status) for s in scores] == [(None, "error"), (None, "error")]
    assert isinstance(rm, EngineHealth)
    reason = rm.unavailable_reason
    assert reason is not None and A in reason and "ConnectError" in reason
    engines.down.clear()
    await rm.check_health()  # what the poller does
    assert rm.unavailable_reason is None
    assert (await rm.score(items("x")))[0].status == "ok"


async def test_retries_are_bounded(rm_factory: Any, engines: Engines) -> None:
    rm = await rm_factory(retries=3)
    engines.classify_status.update({A: 500, B: 502})
    [score] = await rm.score(items("x"))
    assert score.status == "error"
    assert len(engines.calls) == 4
    assert set(engines.calls) == {A, B}


async def test_a_timeout_is_retried_on_the_other_engine(rm_factory: Any, engines: Engines) -> None:
    rm = await rm_factory(retries=1)
    engines.hang.add(A)
    results = [await rm.score(items("x")) for _ in range(4)]
    assert all(r[0].status == "ok" for r in results)
    assert engines.calls.count(B) == 4
    engines.hang.add(B)
    [score] = await rm.score(items("x"))
    assert score.status == "error"


async def test_the_call_timeout_is_the_setting() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": MODEL}]})
        if request.url.path == "/health":
            return httpx.Response(200)
        return httpx.Response(200, json={"data": [{"index": 0, "probs": [1.5]}]})

    rm = RemoteRewardModel(MODEL, FakeEncoder(), RemoteConfig(urls=(A,), served_model=MODEL, timeout_s=2.5),
                           transport=httpx.MockTransport(handler))
    await rm.start()
    try:
        assert (await rm.score(items("x")))[0].score == 1.5
    finally:
        await rm.close()
    assert seen[-1]["read"] == 2.5


async def test_a_rejected_input_is_not_retried(rm_factory: Any, engines: Engines) -> None:
    rm = await rm_factory(retries=3)
    engines.classify_status.update({A: 400, B: 400})
    [score] = await rm.score(items("x"))
    assert score.status == "error"
    assert len(engines.calls) == 1


async def test_every_engine_busy_is_a_429(rm_factory: Any, engines: Engines) -> None:
    rm = await rm_factory(retries=1)
    engines.classify_status.update({A: 429, B: 429})
    with pytest.raises(QueueFullError) as caught:
        await rm.score(items("x"))
    assert caught.value.retry_after == 7


async def test_items_past_max_queue_are_refused(rm_factory: Any, engines: Engines) -> None:
    engines.gate = asyncio.Event()
    rm = await rm_factory(max_queue=3)
    first = asyncio.create_task(rm.score(items("a", "b")))
    while not engines.bodies:
        await asyncio.sleep(0)
    with pytest.raises(QueueFullError):
        await rm.score(items("c", "d"))
    engines.gate.set()
    assert len(await first) == 2
    assert len(await rm.score(items("c", "d"))) == 2  # room again


async def test_calls_in_flight_are_bounded_and_large_requests_are_cut(rm_factory: Any, engines: Engines) -> None:
    engines.gate = asyncio.Event()
    rm = await rm_factory(concurrency=2, max_batch_size=2)
    task = asyncio.gather(*(rm.score(items(*"abcde")) for _ in range(3)))
    for _ in range(200):  # the fake tokenizer runs on a thread
        await asyncio.sleep(0.005)
    assert engines.in_flight == 2
    engines.gate.set()
    results = await task
    assert engines.peak == 2
    assert [[s.score for s in r] for r in results] == [[float(ord(c)) for c in "abcde"]] * 3
    assert sorted(len(b["input"]) for b in engines.bodies) == [1, 1, 1, 2, 2, 2, 2, 2, 2]


async def test_an_engine_serving_another_model_is_not_healthy(rm_factory: Any, engines: Engines) -> None:
    engines.models[A] = "other/model"
    rm = await rm_factory()
    assert rm.balancer.endpoints[0].healthy is False
    assert rm.balancer.endpoints[1].healthy is True
    engines.models[B] = "other/model"
    rm2 = await rm_factory()
    engines.models.pop(A)
    await rm2.check_health()
    assert rm2.unavailable_reason is None  # A serves the model now
    engines.down.add(A)
    await rm2.check_health()
    engines.down.clear()
    engines.models[A] = "third/model"  # an engine that comes back is checked again
    await rm2.check_health()
    reason = rm2.unavailable_reason
    assert reason is not None and "HERO_RM_SERVED_MODEL" in reason and "other/model" in reason
    assert "third/model" in reason


async def test_max_length_follows_the_engines_max_model_len(rm_factory: Any, engines: Engines) -> None:
    engines.max_model_len = 3
    rm = await rm_factory()
    assert rm.info.max_length == 3
    [score] = await rm.score(items("abcdef"))
    assert score.score == ord("a") + ord("b") + ord("c")


async def test_info_names_the_engine(rm_factory: Any) -> None:
    rm = await rm_factory(urls=("http://user:secret@engine-a:8000", B))
    engine = rm.info.runtime
    assert isinstance(engine, RemoteEngine)
    assert engine.name == "vllm"
    assert engine.served_model == MODEL
    assert list(engine.urls) == ["http://***@engine-a:8000", B]
    assert "secret" not in str(rm.info)
    assert list(rm.info.end_tokens) == ["</s>"]


def test_parse_classify_rejects_a_short_answer() -> None:
    from hero_service.reward_model.remote import EngineError

    assert parse_classify({"data": [{"index": 1, "probs": [2.0]}, {"index": 0, "probs": [1.0]}]}, 2) == [1.0, 2.0]
    with pytest.raises(EngineError, match="1 values for 2"):
        parse_classify({"data": [{"index": 0, "probs": [1.0]}]}, 2)
    with pytest.raises(EngineError, match="unexpected"):
        parse_classify({"error": "boom"}, 1)


def test_settings_need_a_model_and_logits_for_a_remote_engine() -> None:
    with pytest.raises(ValueError, match="HERO_RM_URL needs HERO_RM_MODEL"):
        Settings(rm_url=A)
    with pytest.raises(ValueError, match="HERO_RM_OUTPUT=score"):
        Settings(rm_url=A, rm_model=MODEL, rm_output="score")
    with pytest.raises(ValueError, match="http:// or https://"):
        Settings(rm_url="engine-a:8000", rm_model=MODEL)
    assert Settings(rm_url=f" {A}/, {B} ", rm_model=MODEL).rm_url_list == [A, B]


async def test_a_text_pair_rm_is_refused_at_start(engines: Engines) -> None:
    # A text-pair RM reads segment ids as well; token ids alone would score something it was not trained on.
    config = RemoteConfig(urls=(A,), served_model=MODEL, backoff_s=0.0, health_interval_s=3600)
    rm = RemoteRewardModel(MODEL, FakeEncoder(input_layout="pair"), config, transport=httpx.MockTransport(engines))
    with pytest.raises(ValueError, match="unset HERO_RM_URL"):
        await rm.start()
    await rm.close()
