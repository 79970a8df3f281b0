"""Where groups are assembled and sigma_ref lives: in this process, or in Redis for many replicas.

``MemoryStore`` wraps the in-process ``GroupAssembler`` (one replica). ``RedisStore`` keeps every
group's record in Redis so that the parts of one group may land on different replicas: each replica
does the heavy work for its own parts, records their raw results with one atomic script, and the
write that completes the group (or the first deadline or flush to fire, on any replica holding a
part) wins the close, combines once and publishes the result to every replica's waiting parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hero_service.errors import ConflictError, StateUnavailableError
from hero_service.groups.assembler import Claim, GroupAssembler, check_group, check_retry
from hero_service.hero import SigmaTracker
from hero_service.logs import redact_url

P = TypeVar("P")
R = TypeVar("R")
P_contra = TypeVar("P_contra", contravariant=True)

log = logging.getLogger(__name__)


class GroupStore(Protocol[P_contra, R]):
    """What the scorer needs from group assembly, wherever the groups live."""

    @property
    def waiting(self) -> int: ...

    @property
    def not_ready_reason(self) -> str | None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def seen(self, group_id: str, part_key: str, digest: str = "") -> Claim[R] | None:
        """A retried part's claim; ``ConflictError`` if it was first sent with another ``digest``."""
        ...

    async def join(
        self, group_id: str, size: int, count: int, payload: P_contra, part_key: str | None,
        params: Mapping[str, Any] | None = None, digest: str = "",
    ) -> Claim[R]:
        """Join a part; ``ConflictError`` if it disagrees with its open group (see ``check_group``)."""
        ...

    async def flush(self) -> None: ...


class SigmaBook(Protocol):
    """Per-session running sigma_ref (see ``hero.SigmaTracker``)."""

    async def fold(self, session: str, sigmas: Sequence[float]) -> tuple[float, float]:
        """sigma_ref for these groups (the running value, or their mean to start), then fold them in.
        Returns (sigma_ref used, running value afterwards)."""
        ...


class MemoryStore(Generic[P, R]):
    """The in-process assembler behind the ``GroupStore`` interface."""

    def __init__(self, assembler: GroupAssembler[P, R]) -> None:
        self._assembler = assembler

    @property
    def waiting(self) -> int:
        return self._assembler.waiting

    @property
    def not_ready_reason(self) -> str | None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def seen(self, group_id: str, part_key: str, digest: str = "") -> Claim[R] | None:
        return self._assembler.seen(group_id, part_key, digest)

    async def join(self, group_id: str, size: int, count: int, payload: P, part_key: str | None,
                   params: Mapping[str, Any] | None = None, digest: str = "") -> Claim[R]:
        return self._assembler.add(group_id, size, count, payload, part_key=part_key, params=params, digest=digest)

    async def flush(self) -> None:
        await self._assembler.flush()


class MemorySigma:
    """``SigmaTracker`` behind the ``SigmaBook`` interface."""

    def __init__(self, tracker: SigmaTracker) -> None:
        self.tracker = tracker

    async def fold(self, session: str, sigmas: Sequence[float]) -> tuple[float, float]:
        return self.fold_now(session, sigmas)

    def fold_now(self, session: str, sigmas: Sequence[float]) -> tuple[float, float]:
        ref = self.tracker.resolve(session, sigmas)
        self.tracker.observe(session, sigmas)
        current = self.tracker.current(session)
        return ref, ref if current is None else current


# --- Redis ---------------------------------------------------------------------------------------

# KEYS: open-group hash, seen-parts hash, generation counter.  ARGV: size, count, token, entry,
# part_key ('' for none), ttl_s, now_ms, prefix, lease_s, params (canonical JSON), digest.  One atomic
# step: answer a known part_key (the caller compares digests), refuse a part that disagrees with the
# open group on size or params, start a new generation when there is no open group or this part would
# overflow it, append the part, and close the group when it is complete (the closed marker makes every
# close exactly-once).
_JOIN = """
local open, seen, counter = KEYS[1], KEYS[2], KEYS[3]
local size, count, token, entry = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local part_key, ttl, now, prefix, lease = ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], tonumber(ARGV[9])
local params, digest = ARGV[10], ARGV[11]
if part_key ~= '' then
  local known = redis.call('HGET', seen, part_key)
  if known then return {'seen', known} end
end
local gen = redis.call('HGET', open, 'gen')
local received = tonumber(redis.call('HGET', open, 'received') or '0')
local gsize = tonumber(redis.call('HGET', open, 'size') or size)
local started = redis.call('HGET', open, 'started')
if gen then
  local gparams = redis.call('HGET', open, 'params') or ''
  if gsize ~= size or gparams ~= params then return {'conflict', tostring(gsize), gparams} end
end
if gen and received + count > gsize then
  redis.call('DEL', open)
  gen = nil
end
local fresh = 0
if not gen then
  gen = tostring(redis.call('INCR', counter))
  received, gsize, started, fresh = 0, size, now, 1
  redis.call('HSET', open, 'gen', gen, 'received', 0, 'size', size, 'started', now, 'params', params)
end
local offset = received
received = received + count
redis.call('HSET', open, 'received', received)
redis.call('EXPIRE', open, ttl)
local parts = prefix .. ':p:' .. gen
redis.call('RPUSH', parts, entry)
redis.call('EXPIRE', parts, ttl)
local claim = gen .. ' ' .. offset .. ' ' .. token .. ' ' .. digest
if part_key ~= '' then
  redis.call('HSET', seen, part_key, claim)
  redis.call('EXPIRE', seen, ttl)
end
if received >= gsize and redis.call('SET', prefix .. ':c:' .. gen, 1, 'NX', 'EX', lease) then
  redis.call('DEL', open)
  return {'close', claim, started, gsize, redis.call('LRANGE', parts, 0, -1)}
end
return {'wait', claim, started, gsize, fresh}
"""

# KEYS: open-group hash, closed marker, parts list, result.  ARGV: gen, lease_s.  Close one
# generation early (deadline or flush): only the first caller, on any replica, gets the parts.  The
# marker is a lease: if the winner dies before publishing, a replica still waiting takes over later.
_CLOSE = """
if redis.call('EXISTS', KEYS[4]) == 1 then return false end
if not redis.call('SET', KEYS[2], 1, 'NX', 'EX', tonumber(ARGV[2])) then return false end
if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return redis.call('LRANGE', KEYS[3], 0, -1)
"""

# KEYS: the session's running value.  ARGV: momentum, ttl_s, sigma...  The SigmaTracker rule
# (warm start from the mean, then an EMA per group), atomically, so every replica agrees.  Floats
# travel as strings: Redis would truncate a Lua number reply to an integer.
_SIGMA = """
local m, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local cur = redis.call('GET', KEYS[1])
local ref, value
if cur then
  ref = tonumber(cur)
  value = ref
  for i = 3, #ARGV do value = m * value + (1 - m) * tonumber(ARGV[i]) end
else
  local sum = 0
  for i = 3, #ARGV do sum = sum + tonumber(ARGV[i]) end
  ref = sum / (#ARGV - 2)
  value = ref
end
redis.call('SET', KEYS[1], string.format('%.17g', value), 'EX', ttl)
return {string.format('%.17g', ref), string.format('%.17g', value)}
"""


@dataclass(frozen=True, slots=True)
class Codec(Generic[P, R]):
    """JSON-safe conversions of parts and results (never pickle: replicas need not trust each other's
    bytes more than their JSON)."""

    dump_part: Callable[[P], Any]
    load_part: Callable[[Any], P]
    dump_result: Callable[[R], Any]
    load_result: Callable[[Any], R]


@dataclass(eq=False, slots=True)
class _Held:
    """A generation this replica holds a part of: its deadline timer and its unanswered tokens."""

    group_id: str
    timer: asyncio.TimerHandle | None = None
    tokens: set[str] = field(default_factory=set)


class RedisStore(Generic[P, R]):
    """Groups assembled in Redis, shared by every replica that points at the same URL and prefix."""

    def __init__(
        self,
        *,
        url: str,
        password: str | None,
        prefix: str,
        ttl_s: float,
        deadline_s: float,
        codec: Codec[P, R],
        close: Callable[[str, list[P], bool], Awaitable[R]],
        on_partial: Callable[[str, int, int], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        poll_s: float = 1.0,
        lease_s: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        # A blocking pool: a burst of parts queues for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, password=password, decode_responses=True, socket_timeout=5, socket_connect_timeout=2,
            health_check_interval=10, max_connections=max_connections, timeout=5)
        self.redis: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self._url = url
        self._prefix = prefix
        self._ttl = max(1, math.ceil(ttl_s))
        self._deadline_s = deadline_s
        self._codec = codec
        self._close = close
        self._on_partial = on_partial
        self._on_error = on_error
        self._poll_s = poll_s
        self._lease = max(1, math.ceil(lease_s))
        self._join = self.redis.register_script(_JOIN)
        self._close_script = self.redis.register_script(_CLOSE)
        self._channel = f"{prefix}:done"
        self._futures: dict[str, asyncio.Future[tuple[R, bool]]] = {}
        self._held: dict[str, _Held] = {}
        self._reason: str | None = None  # set while Redis has not answered at start
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._flushed = False

    @property
    def waiting(self) -> int:
        return len(self._held)

    @property
    def not_ready_reason(self) -> str | None:
        return self._reason

    async def start(self) -> None:
        """Keep trying to reach Redis (not ready meanwhile), then listen for closed groups."""
        while True:
            try:
                await self.redis.ping()
                break
            except (RedisError, OSError) as exc:
                self._reason = f"state backend {redact_url(self._url)} unreachable: {exc}; retrying"
                log.warning("%s", self._reason)
                await asyncio.sleep(1.0)
        self._listener = asyncio.create_task(self._listen(), name="hero-state-listener")
        self._reason = None
        log.info("state backend: %s (prefix %r)", redact_url(self._url), self._prefix)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for held in self._held.values():
            if held.timer is not None:
                held.timer.cancel()
        await self.redis.aclose()

    async def seen(self, group_id: str, part_key: str, digest: str = "") -> Claim[R] | None:
        try:
            known = await self.redis.hget(self._key("k", group_id), part_key)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return None if known is None else self._claim(group_id, str(known), part_key, digest)

    async def join(self, group_id: str, size: int, count: int, payload: P, part_key: str | None,
                   params: Mapping[str, Any] | None = None, digest: str = "") -> Claim[R]:
        if count < 1 or count > size:
            raise ValueError(f"a part of {count} responses cannot belong to a group of {size}")
        if " " in digest:
            raise ValueError("a part digest may not contain spaces")
        wanted = dict(params or {})
        params_json = json.dumps(wanted, sort_keys=True, separators=(",", ":"))
        token = uuid.uuid4().hex
        entry = json.dumps({"t": token, "n": count, "p": self._codec.dump_part(payload)}, separators=(",", ":"))
        # Registered before the write: the close (and its message) may come before the reply does.
        future: asyncio.Future[tuple[R, bool]] = asyncio.get_running_loop().create_future()
        self._futures[token] = future
        try:
            reply = await self._join(
                keys=[self._key("g", group_id), self._key("k", group_id), f"{self._prefix}:n"],
                args=[size, count, token, entry, part_key or "", self._ttl, int(time.time() * 1000), self._prefix,
                      self._lease, params_json, digest])
        except (RedisError, OSError) as exc:
            self._futures.pop(token, None)
            raise self._unavailable(exc) from exc
        if reply[0] in ("seen", "conflict"):
            self._futures.pop(token, None)
        if reply[0] == "seen":
            return self._claim(group_id, reply[1], part_key or "", digest)
        if reply[0] == "conflict":
            check_group(group_id, size, wanted, int(reply[1]), json.loads(reply[2]) if reply[2] else {})
            # Equal values written differently (a float's repr) still make another group record.
            raise ConflictError("params", f"group {group_id!r} is open with other parameters")
        claim = self._claim(group_id, reply[1])
        held = self._held.setdefault(claim.gen, _Held(group_id))
        held.tokens.add(token)
        if reply[0] == "close":
            self._spawn(self._finish(group_id, claim.gen, reply[4], partial=False))
        elif self._flushed:
            # Shutting down: nobody may be left to send the other parts, so answer with what is here.
            self._spawn(self._close_early(group_id, claim.gen))
        else:
            remaining = max(0.0, self._deadline_s - (time.time() * 1000 - float(reply[2])) / 1000)
            claim.due = time.monotonic() + remaining
            if held.timer is None:
                # Every replica holding a part keeps the deadline, so a killed replica cannot strand
                # the others' parts.
                held.timer = asyncio.get_running_loop().call_later(
                    remaining, lambda: self._spawn(self._close_early(group_id, claim.gen)))
        return claim

    async def flush(self) -> None:
        """Close every group this replica holds a part of (as partial) and wait for their answers."""
        self._flushed = True
        for gen, held in list(self._held.items()):
            await self._close_early(held.group_id, gen)
        waiters = [f for f in self._futures.values() if not f.done()]
        if waiters:
            # Closing is combine + publish (the heavy work is done), so a lease is plenty; what is
            # still missing then (Redis gone) answers 503 and the client retries elsewhere.
            await asyncio.wait(waiters, timeout=self._lease)
        for future in waiters:
            if not future.done():
                future.set_exception(StateUnavailableError("shut down before the group's result arrived; retry"))

    async def wait(self, claim: Claim[R]) -> tuple[R, bool]:
        """The group's result: from the published message, or read back if that was missed."""
        while True:
            done, _ = await asyncio.wait([claim.future], timeout=self._poll_s)
            if done:
                return claim.future.result()
            try:
                stored = await self.redis.get(self._key("r", claim.gen))
            except (RedisError, OSError) as exc:
                raise self._unavailable(exc) from exc
            if stored is not None:
                self._resolve(json.loads(stored))
            elif time.monotonic() > claim.due:
                # Past the deadline and still nothing: the closer may have died before publishing;
                # once its lease runs out this takes the close over.
                await self._close_early(claim.group_id, claim.gen)

    # --- internals ---

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}:{kind}:{name}"

    def _claim(self, group_id: str, claim: str, part_key: str = "", digest: str | None = None) -> Claim[R]:
        """A claim from its stored form; given a ``digest``, a retry's content is checked against it."""
        gen, offset, token, known_digest = claim.split(" ")
        if digest is not None:
            check_retry(group_id, part_key, digest, known_digest)
        future = self._futures.get(token)
        if future is None:  # a retried part whose first attempt was answered (or made elsewhere)
            future = asyncio.get_running_loop().create_future()
            self._futures[token] = future
        return Claim(group_id, int(offset), future, gen=gen, token=token, fetch=self.wait)

    def _unavailable(self, exc: BaseException) -> StateUnavailableError:
        reason = f"state backend {redact_url(self._url)} unreachable: {type(exc).__name__}: {exc}"
        log.warning("%s", reason)
        if self._on_error is not None:
            self._on_error(type(exc).__name__)
        return StateUnavailableError(reason)

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_early(self, group_id: str, gen: str) -> None:
        try:
            parts = await self._close_script(
                keys=[self._key("g", group_id), self._key("c", gen), self._key("p", gen), self._key("r", gen)],
                args=[gen, self._lease])
        except (RedisError, OSError) as exc:
            self._unavailable(exc)
            return
        if parts:  # falsy: another replica (or the completing part) closed it
            await self._finish(group_id, gen, parts, partial=True)

    async def _finish(self, group_id: str, gen: str, entries: Sequence[str], *, partial: bool) -> None:
        """This replica won the close: combine once and publish the result to every replica."""
        parts = [json.loads(e) for e in entries]
        tokens = [p["t"] for p in parts]
        message: dict[str, Any] = {"g": gen, "tokens": tokens, "partial": partial}
        try:
            if partial and self._on_partial is not None:
                self._on_partial(group_id, sum(p["n"] for p in parts), 0)
            result = await self._close(group_id, [self._codec.load_part(p["p"]) for p in parts], partial)
            message["result"] = self._codec.dump_result(result)
        except Exception as exc:  # one bad group must not strand the waiters of its parts
            log.exception("group %s: scoring failed", group_id)
            message["error"] = f"{type(exc).__name__}: {exc}"
        else:
            # This replica's own parts get the result as it is, before the message that would also
            # reach them goes out: no JSON round trip here.
            self._resolve(message, (result,))
        text = json.dumps(message, separators=(",", ":"))
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self._key("r", gen), text, ex=self._ttl)
                pipe.publish(self._channel, text)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._unavailable(exc)
        self._resolve(message)  # an error: this replica's own parts are told without the round trip

    def _resolve(self, message: dict[str, Any], local: tuple[R] | None = None) -> None:
        """Answer the parts held here that ``message`` closes; ``local``: the result itself, when this
        replica produced it."""
        mine = [t for t in message["tokens"] if t in self._futures]
        held = self._held.pop(message["g"], None)
        if held is not None and held.timer is not None:
            held.timer.cancel()
        if not mine:
            return
        outcome: tuple[R, bool] | None = None
        error: Exception | None = None
        if "error" in message:
            error = RuntimeError(f"scoring the group failed: {message['error']}")
        else:
            result = local[0] if local is not None else self._codec.load_result(message["result"])
            outcome = (result, bool(message["partial"]))
        for token in mine:
            future = self._futures.pop(token)
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                assert outcome is not None
                future.set_result(outcome)

    async def _listen(self) -> None:
        """One subscription per replica; every closed group's message goes to the parts held here."""
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for raw in pubsub.listen():
                        if raw.get("type") == "message":
                            self._resolve(json.loads(raw["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: waiters poll the result keys meanwhile
                log.warning("state backend subscription lost (%s); resubscribing", exc)
                await asyncio.sleep(self._poll_s)


class RedisSigma:
    """sigma_ref per session in Redis; on a Redis error, this replica's own tracker answers."""

    def __init__(self, store: RedisStore[Any, Any], *, prefix: str, ttl_s: float, momentum: float,
                 fallback: MemorySigma, on_error: Callable[[str], None] | None = None) -> None:
        self._script = store.redis.register_script(_SIGMA)
        self._prefix = prefix
        self._ttl = max(1, math.ceil(ttl_s))
        self._momentum = momentum
        self._fallback = fallback
        self._on_error = on_error

    async def fold(self, session: str, sigmas: Sequence[float]) -> tuple[float, float]:
        if not sigmas:
            return self._fallback.fold_now(session, sigmas)
        try:
            ref, value = await self._script(keys=[f"{self._prefix}:s:{session}"],
                                            args=[repr(self._momentum), self._ttl, *map(repr, sigmas)])
        except (RedisError, OSError) as exc:
            log.warning("sigma_ref for session %r from this replica alone: state backend: %s", session, exc)
            if self._on_error is not None:
                self._on_error(type(exc).__name__)
            return self._fallback.fold_now(session, sigmas)
        return float(ref), float(value)
