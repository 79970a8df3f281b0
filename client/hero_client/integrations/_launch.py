"""Samples started together are one group: the grouping behind the OpenRLHF agent adapter. Pure asyncio.

OpenRLHF (>= 0.9.1) starts the n samples of a prompt together: ``generate_responses`` gathers n
``execute`` calls, whose first steps all run in one turn of the event loop. So the samples of one
prompt and label that start in the same turn are that prompt's group, whatever n is (training or
evaluation), and a prompt repeated in a batch starts twice, as two groups.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hero_client.ids import to_jsonable

__all__ = ["LaunchGroups", "Post", "Slot", "failed_answer"]

log = logging.getLogger(__name__)

Post = Callable[[list[str], list[str], list[Any]], Awaitable[dict[str, Any]]]


@dataclass(eq=False, slots=True)
class Slot:
    """One sample of a launch: its query once generated, and its reward dict once scored."""

    batch: _Launch
    query: str | None = None
    gone: bool = False
    future: asyncio.Future[dict[str, Any]] | None = None


@dataclass(eq=False, slots=True)
class _Launch:
    """The samples of one prompt and label started in one event-loop turn: one group."""

    prompt: str
    label: Any
    slots: list[Slot] = field(default_factory=list)
    sealed: bool = False
    posted: bool = False


class LaunchGroups:
    """Groups samples by the event-loop turn in which they start, and scores each group once.

    ``enter(prompt, label)`` when a sample starts (OpenRLHF starts a prompt's n samples together),
    ``submit(slot, query)`` when its response is there, ``leave(slot)`` if it ends without one. When
    every sample of a launch has submitted or left, ``post(queries, prompts, labels)`` scores them in
    one ``/get_reward`` request, where they form one group. Pure asyncio: no threads, no group size.
    """

    def __init__(self, post: Post) -> None:
        self._post = post
        self._starting: dict[tuple[str, str], _Launch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def enter(self, prompt: str, label: Any) -> Slot:
        key = (prompt, json.dumps(to_jsonable(label), sort_keys=True))
        launch = self._starting.get(key)
        if launch is None:
            launch = self._starting[key] = _Launch(prompt, label)
            # Every sample started in this turn is in by the next one.
            asyncio.get_running_loop().call_soon(self._seal, key, launch)
        slot = Slot(launch)
        launch.slots.append(slot)
        return slot

    async def submit(self, slot: Slot, query: str) -> dict[str, Any]:
        """The sample's reward dict (per-sample lists of length 1), once its group is scored."""
        if slot.future is None:
            slot.future = asyncio.get_running_loop().create_future()
            slot.query = query
            self._maybe_post(slot.batch)
        return await asyncio.shield(slot.future)

    def leave(self, slot: Slot) -> None:
        """The sample will not ask for a reward (its generation failed): its group goes on without it."""
        if slot.future is None and not slot.gone:
            slot.gone = True
            self._maybe_post(slot.batch)

    def _seal(self, key: tuple[str, str], launch: _Launch) -> None:
        if self._starting.get(key) is launch:
            del self._starting[key]
        launch.sealed = True
        self._maybe_post(launch)

    def _maybe_post(self, launch: _Launch) -> None:
        if launch.posted or not launch.sealed or any(s.future is None and not s.gone for s in launch.slots):
            return
        launch.posted = True
        if all(s.future is None for s in launch.slots):
            return  # every sample of the launch failed to generate: nothing to score
        task = asyncio.get_running_loop().create_task(self._score(launch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _score(self, launch: _Launch) -> None:
        slots = [s for s in launch.slots if s.future is not None]
        queries = [s.query or "" for s in slots]
        try:
            answer = await self._post(queries, [launch.prompt] * len(slots), [launch.label] * len(slots))
        except Exception as exc:  # noqa: BLE001 - every waiter must get an answer, whatever failed
            log.warning("hero-reward: %d samples not scored (reward 0, server_error=1): %s", len(slots), exc)
            answer = failed_answer(len(slots))
        for k, slot in enumerate(slots):
            assert slot.future is not None
            if not slot.future.done():
                slot.future.set_result(_item(answer, k))


def _item(answer: dict[str, Any], k: int) -> dict[str, Any]:
    logs = {key: [values[k]] for key, values in answer.get("extra_logs", {}).items()}
    logs.setdefault("server_error", [0.0])
    return {"rewards": [answer["rewards"][k]], "scores": [answer["scores"][k]], "extra_logs": logs}


def failed_answer(count: int) -> dict[str, Any]:
    """Zeros flagged ``server_error`` with the server's log keys: OpenRLHF turns a missing reward into a
    crash of the run and merges the samples' logs key by key."""
    keys = ("verifier", "rm_score", "weight", "partial", "ungradable", "truncated", "prefix_mismatch",
            "server_error")
    logs = {key: [0.0] * count for key in keys}
    logs["ungradable"] = logs["server_error"] = [1.0] * count
    return {"rewards": [0.0] * count, "scores": [0.0] * count, "extra_logs": logs}
