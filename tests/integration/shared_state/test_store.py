"""RedisStore and RedisSigma against a real Redis, two stores standing in for two replicas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hero_service.errors import ConflictError
from hero_service.groups.store import Codec, MemorySigma, RedisSigma, RedisStore
from hero_service.hero import SigmaTracker

from .conftest import Redis

CODEC: Codec[list[float], dict[str, Any]] = Codec(list, list, dict, dict)


class Closer:
    """A close function that records every call: the group is scored where this runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[list[float]], bool]] = []

    async def __call__(self, group_id: str, parts: list[list[float]], partial: bool) -> dict[str, Any]:
        self.calls.append((group_id, parts, partial))
        await asyncio.sleep(0)
        return {"values": [v for part in parts for v in part], "partial": partial}


def make_store(redis: Redis, closer: Closer, **kw: Any) -> RedisStore[list[float], dict[str, Any]]:
    options: dict[str, Any] = {"deadline_s": 5.0, "poll_s": 0.2, **kw}
    return RedisStore(url=redis.url, password=None, prefix="t", ttl_s=60, codec=CODEC, close=closer, **options)


@pytest.fixture
async def pair(redis_server: Redis, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any, Closer, Closer]]:
    """Two replicas on one Redis; the group deadline is 0.5 s unless the test passes another."""
    closers = Closer(), Closer()
    stores = [make_store(redis_server, c, deadline_s=getattr(request, "param", 0.5)) for c in closers]
    for store in stores:
        await store.start()
    yield stores[0], stores[1], closers[0], closers[1]
    for store in stores:
        await store.close()


# The race is between the two completing writes: a deadline that a loaded machine can reach between a group's
# two joins would close it partial and start a new group with the late part, a different (correct) outcome.
@pytest.mark.parametrize("pair", [60.0], indirect=True)
async def test_two_replicas_racing_to_close_score_each_group_once(pair: tuple[Any, Any, Closer, Closer]) -> None:
    a, b, ca, cb = pair
    # 200 groups of 2; the two parts of each join from the two replicas at the same moment.
    claims = await asyncio.gather(*(s.join(f"g{i}", 2, 1, [float(i), float(s is b)], None)
                                    for i in range(200) for s in (a, b)))
    results = await asyncio.gather(*(c.result() for c in claims))
    scored = [call[0] for call in ca.calls + cb.calls]
    assert sorted(scored) == sorted(f"g{i}" for i in range(200))  # each exactly once
    assert ca.calls and cb.calls  # both replicas won some closes
    for claim, (result, partial) in zip(claims, results, strict=True):
        assert not partial
        assert sorted(result["values"][::2]) == [float(claim.group_id[1:])] * 2
    assert sorted(c.offset for c in claims[:2]) == [0, 1]
    assert a.waiting == b.waiting == 0


async def test_the_deadline_closes_a_partial_group_once_across_replicas(pair: tuple[Any, Any, Closer, Closer]) -> None:
    a, b, ca, cb = pair
    claims = [await a.join("late", 3, 1, [1.0], None), await b.join("late", 3, 1, [2.0], None)]
    (ra, pa), (rb, pb) = await asyncio.wait_for(asyncio.gather(*(c.result() for c in claims)), 5)
    assert pa and pb and ra == rb == {"values": [1.0, 2.0], "partial": True}
    assert len(ca.calls) + len(cb.calls) == 1


async def test_parts_beyond_group_size_start_a_new_group(pair: tuple[Any, Any, Closer, Closer]) -> None:
    a, b, _, _ = pair
    first = [await a.join("reused", 2, 1, [1.0], None), await b.join("reused", 2, 1, [2.0], None)]
    # The next step reuses the id: two more parts, again one per replica, form their own group.
    second = [await b.join("reused", 2, 1, [3.0], None), await a.join("reused", 2, 1, [4.0], None)]
    assert [r[0]["values"] for r in await asyncio.gather(*(c.result() for c in first + second))] == [
        [1.0, 2.0], [1.0, 2.0], [3.0, 4.0], [3.0, 4.0]]
    # A group of 3 that receives 2 + 2: the second 2 overflow into a new group; both close as partial.
    over = [await a.join("over", 3, 2, [5.0, 6.0], None), await b.join("over", 3, 2, [7.0, 8.0], None)]
    outs = await asyncio.wait_for(asyncio.gather(*(c.result() for c in over)), 5)
    assert [o[0]["values"] for o in outs] == [[5.0, 6.0], [7.0, 8.0]] and all(o[1] for o in outs)


async def test_a_retried_part_is_answered_not_added_again(pair: tuple[Any, Any, Closer, Closer]) -> None:
    a, b, ca, cb = pair
    first = await a.join("retry", 2, 1, [1.0], "part-1")
    # The client timed out on replica a and retries the same part on replica b.
    assert (seen := await b.seen("retry", "part-1")) is not None
    again = await b.join("retry", 2, 1, [1.0], "part-1")
    assert again.offset == seen.offset == first.offset == 0
    other = await b.join("retry", 2, 1, [2.0], "part-2")
    outs = await asyncio.gather(first.result(), again.result(), other.result())
    assert [o[0]["values"] for o in outs] == [[1.0, 2.0]] * 3
    assert len(ca.calls) + len(cb.calls) == 1


async def test_flush_answers_waiting_groups_and_later_parts(pair: tuple[Any, Any, Closer, Closer]) -> None:
    a, _, _, _ = pair
    waiting = await a.join("shutdown", 4, 1, [1.0], None)
    await a.flush()
    assert await waiting.result() == ({"values": [1.0], "partial": True}, True)
    late = await a.join("after", 4, 1, [2.0], None)
    assert await asyncio.wait_for(late.result(), 2) == ({"values": [2.0], "partial": True}, True)


async def test_a_closer_that_dies_before_publishing_is_taken_over(redis_server: Redis) -> None:
    closer = Closer()
    store = make_store(redis_server, closer, deadline_s=0.2, lease_s=1)
    await store.start()
    try:
        claim = await store.join("orphan", 2, 1, [1.0], None)
        # Another replica won the close (its lease marker is set) and was killed before publishing.
        gen = claim.gen  # type: ignore[attr-defined]
        await store.redis.set(f"t:c:{gen}", 1, ex=1)
        result, partial = await asyncio.wait_for(claim.result(), 5)
        assert result["values"] == [1.0] and partial
        assert json.loads(await store.redis.get(f"t:r:{gen}"))["tokens"] == [claim.token]  # type: ignore[attr-defined]
    finally:
        await store.close()


async def test_every_key_has_a_ttl(pair: tuple[Any, Any, Closer, Closer]) -> None:
    a, b, _, _ = pair
    claims = [await a.join("ttl", 3, 1, [1.0], "k1"), await b.join("ttl", 3, 1, [2.0], "k2")]
    await asyncio.gather(*(c.result() for c in claims))
    await a.join("open", 3, 1, [1.0], None)
    keys = [k async for k in a.redis.scan_iter("t:*") if k != "t:n"]  # t:n: the one generation counter
    assert keys
    ttls = {k: await a.redis.ttl(k) for k in keys}
    assert all(0 < ttl <= 60 for ttl in ttls.values()), ttls


async def test_sigma_ref_in_redis_follows_the_sigma_tracker_rule(redis_server: Redis) -> None:
    store = make_store(redis_server, Closer())
    tracker = SigmaTracker(0.9)
    local = MemorySigma(SigmaTracker(0.9))
    book = RedisSigma(store, prefix="t", ttl_s=60, momentum=0.9, fallback=local)
    expected, got = [], []
    for sigmas in ([0.3, 0.5], [0.1], [0.7, 0.2, 0.4], [1.0 / 3]):
        expected.append(tracker.resolve("s", sigmas))
        tracker.observe("s", sigmas)
        got.append((await book.fold("s", sigmas))[0])
    assert got == pytest.approx(expected, rel=1e-12)
    assert local.tracker.current("s") is None  # Redis answered: the fallback stayed unused
    # A second replica's book reads the same running value.
    other = RedisSigma(store, prefix="t", ttl_s=60, momentum=0.9, fallback=MemorySigma(SigmaTracker(0.9)))
    assert (await other.fold("s", [0.5]))[0] == pytest.approx(tracker.current("s"), rel=1e-12)
    await store.close()


async def test_conflicts_and_part_digests_hold_across_replicas(pair: tuple[Any, Any, Closer, Closer]) -> None:
    a, b, ca, cb = pair
    first = await a.join("c", 3, 1, [1.0], "p1", {"mode": "hero"}, "d1")
    with pytest.raises(ConflictError) as size:
        await b.join("c", 2, 1, [2.0], "p2", {"mode": "hero"}, "d2")
    with pytest.raises(ConflictError) as mode:
        await b.join("c", 3, 1, [2.0], "p2", {"mode": "rm"}, "d2")
    with pytest.raises(ConflictError) as reused:
        await b.join("c", 3, 1, [9.0], "p1", {"mode": "hero"}, "other")
    with pytest.raises(ConflictError):
        await b.seen("c", "p1", "other")
    assert [e.value.field for e in (size, mode, reused)] == ["group_size", "params.mode", "part_id"]
    again = await b.join("c", 3, 1, [1.0], "p1", {"mode": "hero"}, "d1")
    assert again.offset == first.offset == 0
    rest = await b.join("c", 3, 2, [2.0, 3.0], "p2", {"mode": "hero"}, "d2")
    outs = await asyncio.gather(first.result(), again.result(), rest.result())
    assert list(outs) == [({"values": [1.0, 2.0, 3.0], "partial": False}, False)] * 3
    assert len(ca.calls) + len(cb.calls) == 1
