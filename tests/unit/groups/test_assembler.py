"""Group assembly: parts in any order, the deadline, overflow into a new group, shutdown flush."""

from __future__ import annotations

import asyncio

import pytest

from hero_service.errors import ConflictError
from hero_service.groups.assembler import GroupAssembler


class Recorder:
    """A close callback that concatenates the parts' payloads and remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[list[str]], bool]] = []

    async def __call__(self, group_id: str, payloads: list[list[str]], partial: bool) -> list[str]:
        self.calls.append((group_id, payloads, partial))
        return [item for payload in payloads for item in payload]


def make(deadline_s: float = 10.0) -> tuple[GroupAssembler[list[str], list[str]], Recorder]:
    recorder = Recorder()
    return GroupAssembler(deadline_s=deadline_s, close=recorder), recorder


async def test_parts_in_any_order_close_once_with_every_offset() -> None:
    assembler, recorder = make()
    second = assembler.add("g", 4, 1, ["c"])
    first = assembler.add("g", 4, 2, ["a", "b"])
    assert assembler.waiting == 1
    assert not first.future.done()
    last = assembler.add("g", 4, 1, ["d"])
    results = [await t.result() for t in (second, first, last)]
    assert all(r == (["c", "a", "b", "d"], False) for r in results)
    assert [(t.offset, t.count) for t in (second, first, last)] == [(0, 1), (1, 2), (3, 1)]
    assert len(recorder.calls) == 1
    assert assembler.waiting == 0


async def test_deadline_scores_a_partial_group() -> None:
    partials: list[tuple[str, int, int]] = []
    recorder = Recorder()
    assembler = GroupAssembler[list[str], list[str]](
        deadline_s=0.05, close=recorder, on_partial=lambda *a: partials.append(a))
    ticket = assembler.add("g", 3, 1, ["a"])
    result, partial = await asyncio.wait_for(ticket.result(), 2)
    assert (result, partial) == (["a"], True)
    assert partials == [("g", 1, 3)]
    # A late part of the closed group starts a new one instead of reopening it.
    late = assembler.add("g", 3, 1, ["b"])
    assert not late.future.done()
    assert assembler.waiting == 1


async def test_parts_beyond_group_size_start_a_new_group() -> None:
    assembler, recorder = make()
    tickets = [assembler.add("g", 2, 1, [str(i)]) for i in range(4)]
    results = [await t.result() for t in tickets]
    assert [r[0] for r in results] == [["0", "1"], ["0", "1"], ["2", "3"], ["2", "3"]]
    assert len(recorder.calls) == 2


async def test_an_overflowing_part_leaves_the_old_group_to_its_deadline() -> None:
    assembler, _ = make(deadline_s=0.05)
    old = assembler.add("g", 3, 2, ["a", "b"])
    new = assembler.add("g", 3, 2, ["c", "d"])
    assert await asyncio.wait_for(old.result(), 2) == (["a", "b"], True)
    assert await asyncio.wait_for(new.result(), 2) == (["c", "d"], True)


async def test_flush_answers_every_waiting_part() -> None:
    assembler, recorder = make(deadline_s=60)
    tickets = [assembler.add("x", 4, 1, ["1"]), assembler.add("y", 4, 2, ["2", "3"])]
    await assembler.flush()
    assert [t.future.result() for t in tickets] == [(["1"], True), (["2", "3"], True)]
    assert {c[0] for c in recorder.calls} == {"x", "y"}
    assert assembler.waiting == 0


async def test_a_failing_close_fails_only_its_own_group() -> None:
    async def close(group_id: str, payloads: list[list[str]], partial: bool) -> list[str]:
        if group_id == "bad":
            raise RuntimeError("boom")
        return [p for payload in payloads for p in payload]

    assembler = GroupAssembler[list[str], list[str]](deadline_s=10, close=close)
    bad = assembler.add("bad", 1, 1, ["x"])
    good = assembler.add("good", 1, 1, ["y"])
    with pytest.raises(RuntimeError):
        await bad.result()
    assert await good.result() == (["y"], False)


async def test_a_cancelled_waiter_does_not_break_the_group() -> None:
    assembler, _ = make()
    first = assembler.add("g", 2, 1, ["a"])
    waiter = asyncio.create_task(first.result())
    await asyncio.sleep(0)
    waiter.cancel()
    second = assembler.add("g", 2, 1, ["b"])
    assert await second.result() == (["a", "b"], False)


async def test_rejects_a_part_larger_than_its_group() -> None:
    assembler, _ = make()
    with pytest.raises(ValueError, match="cannot belong"):
        assembler.add("g", 1, 2, ["a", "b"])


async def test_parts_joining_after_flush_are_answered_at_once() -> None:
    assembler, _ = make(deadline_s=60)
    await assembler.flush()
    late = assembler.add("g", 4, 1, ["a"])
    # Closed at once (the close is awaited in its own task), not at the 60 s deadline.
    assert await asyncio.wait_for(late.result(), 1) == (["a"], True)


async def test_a_retried_part_is_answered_not_counted_twice() -> None:
    assembler, recorder = make()
    first = assembler.add("g", 2, 1, ["a"], part_key="p1")
    again = assembler.add("g", 2, 1, ["a"], part_key="p1")
    assert again is first
    assert assembler.seen("g", "p1") is first
    other = assembler.add("g", 2, 1, ["b"], part_key="p2")
    assert await other.result() == (["a", "b"], False)
    # After the group closed, a late retry still gets the group's answer.
    assert await assembler.add("g", 2, 1, ["a"], part_key="p1").result() == (["a", "b"], False)
    assert len(recorder.calls) == 1


async def test_a_part_that_disagrees_with_its_group_is_refused_naming_the_field() -> None:
    assembler, _ = make()
    first = assembler.add("g", 3, 1, ["a"], params={"mode": "hero", "alpha": 0.05})
    with pytest.raises(ConflictError) as size:
        assembler.add("g", 2, 1, ["b"], params={"mode": "hero", "alpha": 0.05})
    with pytest.raises(ConflictError) as mode:
        assembler.add("g", 3, 1, ["b"], params={"mode": "rm", "alpha": 0.05})
    assert (size.value.field, mode.value.field) == ("group_size", "params.mode")
    assert "'hero'" in mode.value.message and "'rm'" in mode.value.message
    # The refused parts left no trace: two matching parts complete the group.
    assembler.add("g", 3, 2, ["b", "c"], params={"mode": "hero", "alpha": 0.05})
    assert await first.result() == (["a", "b", "c"], False)


async def test_a_part_key_resent_with_other_content_is_refused() -> None:
    assembler, _ = make()
    first = assembler.add("g", 2, 1, ["a"], part_key="p1", digest="d1")
    assert assembler.add("g", 2, 1, ["a"], part_key="p1", digest="d1") is first
    with pytest.raises(ConflictError) as reused:
        assembler.add("g", 2, 1, ["x"], part_key="p1", digest="d2")
    assert reused.value.field == "part_id"
    with pytest.raises(ConflictError):
        assembler.seen("g", "p1", "d2")
    assert assembler.waiting == 1 and not first.future.done()
