"""The rules every group store must keep, as scenarios over HTTP against one server or several replicas.

Run by ``test_group_assembly.py`` (one server, groups in memory) and by
``shared_state/test_group_rules_shared.py`` (replicas sharing Redis). Each scenario sends the parts of a
group to the given base URLs in turn, so with two replicas every group is split across them. The servers
must use the deterministic ``LengthRM`` (score = len(response) / 10) and a long group deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import httpx

# Short enough that a part left waiting for the deadline fails the test instead of passing late.
PROMPT_TIMEOUT_S = 15.0


def _part(gid: str, size: int, responses: list[str], part_id: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"id": gid, "reference": "1", "group_size": size, "responses": responses}
    if part_id is not None:
        part["part_id"] = part_id
    return part


class Sender:
    """Posts one part per request, to the servers in turn."""

    def __init__(self, client: httpx.AsyncClient, urls: list[str]) -> None:
        self._client = client
        self._urls = itertools.cycle(urls)

    async def post(self, part: dict[str, Any], **params: Any) -> httpx.Response:
        return await self._client.post(f"{next(self._urls)}/score", json={"groups": [part], "params": params})

    def start(self, part: dict[str, Any], **params: Any) -> asyncio.Task[httpx.Response]:
        return asyncio.create_task(self.post(part, **params))


async def _waiting(task: asyncio.Task[httpx.Response]) -> None:
    """Let a part reach its group (and check it is still waiting there)."""
    await asyncio.sleep(0.5)
    assert not task.done(), task.result().text


async def sessions_stay_apart(urls: list[str]) -> None:
    """Two trainers (sessions A and B, other modes) reuse one group id: each gets its own group."""
    gid = f"shared-{uuid.uuid4().hex[:8]}"
    a_params = {"session": "A", "mode": "hero", "sigma_ref": 0.4}
    b_params = {"session": "B", "mode": "rm"}
    async with httpx.AsyncClient(timeout=PROMPT_TIMEOUT_S) as client:
        send = Sender(client, urls)
        a1 = send.start(_part(gid, 2, ["\\boxed{1}"]), **a_params)
        b1 = send.start(_part(gid, 2, ["I say \\boxed{2}"]), **b_params)
        await _waiting(a1)
        await _waiting(b1)
        a2 = send.start(_part(gid, 2, ["so \\boxed{3}"]), **a_params)
        b2 = send.start(_part(gid, 2, ["\\boxed{1} is it"]), **b_params)
        replies = await asyncio.gather(a1, b1, a2, b2)
    a1r, b1r, a2r, b2r = (r.json() for r in replies)
    assert [r.status_code for r in replies] == [200] * 4
    # B's group holds B's two responses only, scored in rm mode: the RM score is the reward.
    assert b1r["params"]["mode"] == b2r["params"]["mode"] == "rm"
    assert b1r["groups"][0]["rewards"] == [len("I say \\boxed{2}") / 10]
    assert b2r["groups"][0]["rewards"] == [len("\\boxed{1} is it") / 10]
    assert a1r["params"]["mode"] == "hero"
    assert a1r["groups"][0]["verifier"] + a2r["groups"][0]["verifier"] == [1, 0]
    assert not any(r["groups"][0]["partial"] for r in (a1r, b1r, a2r, b2r))


async def conflicting_params_are_refused(urls: list[str]) -> None:
    """A part whose params disagree with its open group is refused at once, naming the field."""
    gid = f"mixed-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=PROMPT_TIMEOUT_S) as client:
        send = Sender(client, urls)
        first = send.start(_part(gid, 2, ["\\boxed{1}"]), mode="hero", session="s")
        await _waiting(first)
        started = time.monotonic()
        refused = await send.post(_part(gid, 2, ["\\boxed{2}"]), mode="rm", session="s")
        assert refused.status_code == 409, refused.text
        assert time.monotonic() - started < 5
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", "params", "mode"]
        assert "'hero'" in error["msg"] and "'rm'" in error["msg"]
        # The group is untouched: a matching part completes it.
        second = await send.post(_part(gid, 2, ["\\boxed{2}"]), mode="hero", session="s")
        done = (await first).json()["groups"][0]
    assert second.status_code == 200
    assert done["partial"] is False and done["group_size"] == 2


async def conflicting_group_size_is_refused(urls: list[str]) -> None:
    """A part that says another group_size is refused at once (it used to wait for the deadline)."""
    gid = f"sizes-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=PROMPT_TIMEOUT_S) as client:
        send = Sender(client, urls)
        first = send.start(_part(gid, 3, ["\\boxed{1}"]))
        await _waiting(first)
        refused = await send.post(_part(gid, 2, ["\\boxed{2}"]))
        assert refused.status_code == 409, refused.text
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", "groups", 0, "group_size"]
        rest = await send.post(_part(gid, 3, ["\\boxed{2}", "\\boxed{3}"]))
        done = (await first).json()["groups"][0]
    assert rest.status_code == 200 and len(rest.json()["groups"][0]["rewards"]) == 2
    assert done["partial"] is False and len(done["rewards"]) == 1


async def a_reused_part_id_needs_the_same_content(urls: list[str]) -> None:
    """A retry is answered from the first sending; the same part_id with other content is a 409,
    and every reply carries exactly one reward per response it sent."""
    gid = f"reuse-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=PROMPT_TIMEOUT_S) as client:
        send = Sender(client, urls)
        first = send.start(_part(gid, 4, ["\\boxed{1}", "a \\boxed{2}", "b \\boxed{1}"], "pa"))
        await _waiting(first)
        other = await send.post(_part(gid, 4, ["\\boxed{9}", "a \\boxed{2}", "b \\boxed{1}"], "pa"))
        more = await send.post(_part(gid, 4, ["\\boxed{1}", "a \\boxed{2}", "b \\boxed{1}", "c"], "pa"))
        for refused in (other, more):
            assert refused.status_code == 409, refused.text
            assert refused.json()["detail"][0]["loc"] == ["body", "groups", 0, "part_id"]
        retry = send.start(_part(gid, 4, ["\\boxed{1}", "a \\boxed{2}", "b \\boxed{1}"], "pa"))
        last = await send.post(_part(gid, 4, ["\\boxed{3}"], "pb"))
        replies = [(await first), (await retry), last]
    bodies = [r.json()["groups"][0] for r in replies]
    assert [r.status_code for r in replies] == [200] * 3
    assert [len(b["rewards"]) for b in bodies] == [3, 3, 1]
    assert bodies[0] == bodies[1]
    assert bodies[0]["verifier"] + bodies[2]["verifier"] == [1, 0, 1, 0]
    assert not any(b["partial"] for b in bodies)
