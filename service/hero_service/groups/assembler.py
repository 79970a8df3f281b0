"""Group assembly: parts of a rollout group, from any requests in any order, become one group.

A plain class with no web import. A part joins with its raw results already computed (the heavy
work starts when its request arrives); the group closes when its parts add up to ``group_size``, or
at the deadline after its first part (then it is *partial*), or on ``flush()`` at shutdown. Closing
awaits ``close(group_id, payloads, partial)`` once (in a task of its own, as the Redis store does) and
hands its result to every part's ticket.

A group is fixed by its first part: a part that disagrees with it on ``group_size`` or on the
parameters is refused with ``ConflictError`` (it could only be scored with someone else's settings),
and a retried ``part_key`` must carry the content ``digest`` of its first sending.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from hero_service.errors import ConflictError

P = TypeVar("P")
R = TypeVar("R")

log = logging.getLogger(__name__)


def check_group(group_id: str, size: int, params: Mapping[str, Any], group_size: int,
                group_params: Mapping[str, Any]) -> None:
    """Raise ``ConflictError`` naming the first thing a part says differently from its open group."""
    if size != group_size:
        raise ConflictError("group_size", f"group {group_id!r} is open with group_size {group_size}; "
                            f"this part says {size}")
    for key in sorted(set(params) | set(group_params)):
        if params.get(key) != group_params.get(key):
            raise ConflictError(f"params.{key}", f"group {group_id!r} is open with {key}="
                                f"{group_params.get(key)!r}; this part says {params.get(key)!r}")


def check_retry(group_id: str, part_key: str, digest: str, known_digest: str) -> None:
    """A part key seen before must come back with the same content; else it is someone else's part."""
    if digest != known_digest:
        raise ConflictError("part_id", f"part_id {part_key!r} of group {group_id!r} was sent before with "
                            "other content (responses, prompt, reference, group_size or params); "
                            "a retry must resend the same part, a new part needs a new part_id")


@dataclass(eq=False, slots=True)
class Claim(Generic[R]):
    """One part's claim on its group's result: responses ``offset .. offset + count``. Both stores hand
    out this type; the shared (Redis) store also fills ``gen``/``token``/``due`` and reads the result
    back through ``fetch`` when its published message was missed."""

    group_id: str
    offset: int
    future: asyncio.Future[tuple[R, bool]]
    count: int = 0
    """Responses of this part; 0 where unknown (a retried part's claim read back from Redis)."""
    digest: str = ""
    gen: str = ""
    """The group's generation in the shared store (an id reused after its group closed opens another)."""
    token: str = ""
    due: float = math.inf
    """``time.monotonic()`` of the group's deadline, once known."""
    fetch: Callable[[Claim[R]], Awaitable[tuple[R, bool]]] | None = None

    async def result(self) -> tuple[R, bool]:
        """The group's result and whether it was partial. Cancelling the waiter leaves the group be."""
        if self.fetch is not None:
            return await self.fetch(self)
        return await asyncio.shield(self.future)


@dataclass(eq=False, slots=True)
class _Group(Generic[P, R]):
    group_id: str
    size: int
    started: float
    params: Mapping[str, Any] = field(default_factory=dict)
    received: int = 0
    payloads: list[P] = field(default_factory=list)
    tickets: list[Claim[R]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    closed: bool = False


class GroupAssembler(Generic[P, R]):
    """Joins parts by group id; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        deadline_s: float,
        close: Callable[[str, list[P], bool], Awaitable[R]],
        on_partial: Callable[[str, int, int], None] | None = None,
        remember_parts: int = 16384,
    ) -> None:
        self._deadline_s = deadline_s
        self._close = close
        self._on_partial = on_partial
        self._open: dict[str, _Group[P, R]] = {}
        self._flushed = False
        # Keyed parts of open and recently closed groups, so a retried part is answered, not re-added.
        self._parts: OrderedDict[tuple[str, str], Claim[R]] = OrderedDict()
        self._remember_parts = remember_parts
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Groups that have some parts but are not complete yet."""
        return len(self._open)

    def seen(self, group_id: str, part_key: str, digest: str = "") -> Claim[R] | None:
        """The ticket of a part already joined under ``part_key`` (a client's retry), if any;
        ``ConflictError`` if that part had another content ``digest``."""
        known = self._parts.get((group_id, part_key))
        if known is not None:
            check_retry(group_id, part_key, digest, known.digest)
        return known

    def add(
        self,
        group_id: str,
        size: int,
        count: int,
        payload: P,
        part_key: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        digest: str = "",
    ) -> Claim[R]:
        """Join a part of ``count`` responses to group ``group_id`` of ``size`` responses.

        A part whose ``part_key`` was seen before for this group gets the first one's ticket back (if
        its ``digest`` matches). ``params`` must equal those of the group's first part.
        """
        if count < 1 or count > size:
            raise ValueError(f"a part of {count} responses cannot belong to a group of {size}")
        if part_key is not None and (known := self.seen(group_id, part_key, digest)) is not None:
            return known
        params = dict(params or {})
        loop = asyncio.get_running_loop()
        group = self._open.get(group_id)
        if group is not None:
            check_group(group_id, size, params, group.size, group.params)
        if group is not None and group.received + count > group.size:
            # The id is being reused (the next step, or a duplicated prompt): the parts that overflow
            # start a new group, and the old one closes as partial when its deadline comes.
            log.info("group %s: part overflows group_size %d; starting a new group", group_id, group.size)
            self._open.pop(group_id)
            group = None
        if group is None:
            group = _Group[P, R](group_id=group_id, size=size, started=time.monotonic(), params=params)
            group.timer = loop.call_later(self._deadline_s, self._expire, group)
            self._open[group_id] = group
        ticket = Claim[R](group_id, group.received, loop.create_future(), count, digest)
        if part_key is not None:
            self._parts[(group_id, part_key)] = ticket
            while len(self._parts) > self._remember_parts:
                self._parts.popitem(last=False)
        group.received += count
        group.payloads.append(payload)
        group.tickets.append(ticket)
        if group.received == group.size:
            self._finish(group, partial=False)
        elif self._flushed:
            # Shutting down: nobody may be left to send the other parts, so answer with what is here.
            self._finish(group, partial=True)
        return ticket

    async def flush(self) -> None:
        """Close every waiting group now (as partial) and wait until their parts are answered.
        Parts that join afterwards are answered at once."""
        self._flushed = True
        groups = list(self._open.values())
        for group in groups:
            self._finish(group, partial=True)
        waiters = [t.future for g in groups for t in g.tickets]
        if waiters:
            await asyncio.gather(*waiters, return_exceptions=True)

    def _expire(self, group: _Group[P, R]) -> None:
        if not group.closed:
            self._finish(group, partial=True)

    def _finish(self, group: _Group[P, R], *, partial: bool) -> None:
        group.closed = True
        if group.timer is not None:
            group.timer.cancel()
        if self._open.get(group.group_id) is group:
            del self._open[group.group_id]
        if partial and self._on_partial is not None:
            self._on_partial(group.group_id, group.received, group.size)
        task = asyncio.get_running_loop().create_task(self._settle(group, partial))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _settle(self, group: _Group[P, R], partial: bool) -> None:
        try:
            result = await self._close(group.group_id, group.payloads, partial)
        except Exception as exc:  # one bad group must not strand the waiters of its parts
            log.exception("group %s: scoring failed", group.group_id)
            for ticket in group.tickets:
                if not ticket.future.done():
                    ticket.future.set_exception(exc)
            return
        for ticket in group.tickets:
            if not ticket.future.done():
                ticket.future.set_result((result, partial))
