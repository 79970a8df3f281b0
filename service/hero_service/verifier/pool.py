"""Verification in sandboxed worker processes (pebble), with dedup, a verdict cache and batching.

The parent extracts answers (cheap, linear regexes) and settles exact literal matches itself, so
only distinct unresolved (reference, answer) pairs cross to a worker, a few per task. Each worker
has an address-space and a CPU rlimit and a per-item itimer; the parent adds a wall-clock deadline
per task, and pebble terminates (SIGTERM, then SIGKILL) a worker that overruns it. A failed
multi-item task is retried one item per task, so only the guilty item ends as ``timeout``/``error``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import resource
import signal
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict
from types import FrameType

from pebble import ProcessExpired, ProcessPool

from hero_service.verifier.engine import DISPLAY_CHARS, judge
from hero_service.verifier.extract import extract_answer
from hero_service.verifier.literal import fast_verdict
from hero_service.verifier.verdict import Verdict, VerifierPolicy, VerifierStatus, VerifyRequest

log = logging.getLogger(__name__)

Key = tuple[str, str]
Outcome = tuple[bool, VerifierStatus]
# A verdict depends on the policy it was reached under: the cache and in-flight table are keyed by both.
PolicyKey = tuple[VerifierPolicy, str, str]

_GRACE_S = 0.75
"""Parent-side slack over the in-worker deadline (IPC, scheduling) before a worker is killed."""
_CACHEABLE: frozenset[str] = frozenset({"ok", "unparsable"})


class VerifierPool:
    """Grade many (reference, response) pairs concurrently; safe to share between requests."""

    def __init__(
        self,
        *,
        workers: int,
        timeout_s: float,
        max_tasks: int,
        memory_mb: int,
        policy: VerifierPolicy = VerifierPolicy(),  # noqa: B008 - frozen, so a shared default is safe
        batch_size: int = 8,
        cache_size: int = 65536,
    ) -> None:
        if workers < 1 or timeout_s <= 0 or max_tasks < 1 or memory_mb < 64 or batch_size < 1:
            raise ValueError("workers, timeout_s, max_tasks, memory_mb and batch_size must be positive")
        self._workers = workers
        self._timeout_s = timeout_s
        self._max_tasks = max_tasks
        self._memory_mb = memory_mb
        self._policy = policy
        self._batch_size = batch_size
        self._cache_size = cache_size
        self._cache: OrderedDict[PolicyKey, Outcome] = OrderedDict()
        self._inflight: dict[PolicyKey, asyncio.Future[Outcome]] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._pool: ProcessPool | None = None

    @property
    def ready(self) -> bool:
        return self._pool is not None and self._pool.active

    @property
    def policy(self) -> VerifierPolicy:
        return self._policy

    def describe(self) -> dict[str, object]:
        return {
            "engine": "hero_service.verifier (latex2sympy2_extended + sympy, exact-first)",
            "workers": self._workers,
            "timeout_s": self._timeout_s,
            "max_tasks": self._max_tasks,
            "memory_mb": self._memory_mb,
            "batch_size": self._batch_size,
            "cache_size": self._cache_size,
            "policy": asdict(self._policy),
        }

    async def start(self) -> None:
        """Spawn and warm the workers (each imports sympy and loads the ANTLR grammar once)."""
        if self._pool is not None:
            return
        # spawn, not fork: the server process has threads (event loop helpers, torch), and forking
        # a threaded process can deadlock the child.
        self._pool = ProcessPool(
            max_workers=self._workers,
            max_tasks=self._max_tasks,
            initializer=_init_worker,
            initargs=(self._memory_mb,),
            context=multiprocessing.get_context("spawn"),
        )
        warm = [self._pool.schedule(_ping, timeout=120.0) for _ in range(self._workers)]
        await asyncio.gather(*(asyncio.wrap_future(f) for f in warm))

    async def close(self) -> None:
        """Stop the workers; a hung one is killed rather than waited for."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.stop()  # type: ignore[no-untyped-call]
        await asyncio.to_thread(pool.join, 10.0)

    async def verify(self, items: Sequence[VerifyRequest], policy: VerifierPolicy | None = None) -> list[Verdict]:
        """One Verdict per item, in order, under ``policy`` (default: the pool's). Per-item problems
        become statuses, never exceptions."""
        policy = self._policy if policy is None else policy
        answers = await self._extract(items)
        keys = [None if a is None else (item.reference, a) for item, a in zip(items, answers, strict=True)]
        known: dict[Key, Outcome] = {}
        waiting: dict[Key, asyncio.Future[Outcome]] = {}
        for key in keys:
            if key is None or key in known or key in waiting:
                continue
            cached = (policy, *key)
            if cached in self._cache:
                self._cache.move_to_end(cached)
                known[key] = self._cache[cached]
            elif cached in self._inflight:  # another request is already verifying this pair
                waiting[key] = self._inflight[cached]
        fresh = sorted({k for k in keys if k is not None and k not in known and k not in waiting})
        if fresh:
            loop = asyncio.get_running_loop()
            own = {k: loop.create_future() for k in fresh}
            self._inflight.update({(policy, *k): f for k, f in own.items()})
            waiting.update(own)
            # A task of its own: a caller that is cancelled (client gone) must not cancel work that
            # concurrent requests for the same pairs are waiting on.
            task = asyncio.ensure_future(self._resolve(own, policy))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for key, future in waiting.items():
            known[key] = await asyncio.shield(future)
        return [Verdict(False, "no_answer") if key is None
                else Verdict(known[key][0], known[key][1], key[1][:DISPLAY_CHARS]) for key in keys]

    async def _resolve(self, own: dict[Key, asyncio.Future[Outcome]], policy: VerifierPolicy) -> None:
        """Verify ``own``'s pairs and settle every one of its futures, whatever happens."""
        results: dict[Key, Outcome] = {}
        try:
            results = await self._run(list(own), policy)
        except Exception:  # a bug here must cost these items ("error"), never the service
            log.exception("verifier pool failed on %d pairs", len(own))
        finally:
            for key, future in own.items():
                outcome = results.get(key, (False, "error"))
                self._remember((policy, *key), outcome)
                self._inflight.pop((policy, *key), None)
                if not future.done():
                    future.set_result(outcome)

    async def _extract(self, items: Sequence[VerifyRequest]) -> list[str | None]:
        # Megabyte responses would hold the event loop for milliseconds; move big jobs off it.
        if sum(len(i.response) for i in items) > 256_000:
            return await asyncio.to_thread(lambda: [extract_answer(i.response, i.extract) for i in items])
        return [extract_answer(i.response, i.extract) for i in items]

    def _remember(self, key: PolicyKey, outcome: Outcome) -> None:
        if outcome[1] not in _CACHEABLE:
            return
        self._cache[key] = outcome
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _run(self, keys: list[Key], policy: VerifierPolicy) -> dict[Key, Outcome]:
        results: dict[Key, Outcome] = {}
        remote: list[Key] = []
        for key in keys:
            fast = _fast(key, policy)
            if fast is None:
                remote.append(key)
            else:
                results[key] = fast
        # At least one batch per worker (when there is work for each), at most batch_size per batch.
        count = max(math.ceil(len(remote) / self._batch_size), min(self._workers, len(remote)))
        batches = [remote[i::count] for i in range(count)] if remote else []
        for batch_results in await asyncio.gather(*(self._run_batch(b, policy) for b in batches)):
            results.update(batch_results)
        return results

    async def _run_batch(self, batch: list[Key], policy: VerifierPolicy) -> dict[Key, Outcome]:
        try:
            outcomes = await self._submit(batch, policy)
            return dict(zip(batch, outcomes, strict=True))
        except (FutureTimeout, ProcessExpired, OSError, RuntimeError) as exc:
            if len(batch) == 1:
                return {batch[0]: (False, "timeout" if isinstance(exc, FutureTimeout) else "error")}
        # Someone in the batch hung or crashed the worker: find out who, one item per task.
        singles = await asyncio.gather(*(self._run_batch([key], policy) for key in batch))
        return {k: v for single in singles for k, v in single.items()}

    async def _submit(self, batch: list[Key], policy: VerifierPolicy) -> list[Outcome]:
        pool = self._pool
        if pool is None or not pool.active:
            raise RuntimeError("verifier pool is not running")
        deadline = self._timeout_s * len(batch) + _GRACE_S
        future = pool.schedule(_judge_batch, args=(batch, policy, self._timeout_s), timeout=deadline)
        return await asyncio.wrap_future(future)


def _fast(key: Key, policy: VerifierPolicy) -> Outcome | None:
    reference, answer = key
    if len(answer) > policy.max_answer_chars or len(reference) > policy.max_answer_chars:
        return (False, "unparsable")
    try:
        verdict = fast_verdict(reference, answer, policy)
    except (ValueError, ArithmeticError):
        return None
    return None if verdict is None else (verdict, "ok")


# --- worker side ----------------------------------------------------------------------------------


class _Deadline(BaseException):
    """Raised by the per-item itimer; BaseException so library ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _Deadline


def _init_worker(memory_mb: int) -> None:
    """Runs once in each fresh worker: rlimits, signal handler, warm caches."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    # The parent owns shutdown; a Ctrl-C in the terminal must not print tracebacks from every worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # ANTLR builds its prediction tables lazily: the first parse of each construct costs 10-70 ms.
    # Paying that here keeps it off the first requests.
    for reference, answer in _WARM_UP:
        judge(reference, answer, VerifierPolicy())


_WARM_UP: tuple[Key, ...] = (
    ("\\frac{1}{2}", "0.5+x-x"), ("2\\sqrt{3}", "\\sqrt{12}"), ("\\frac{\\pi}{2}", "\\dfrac{\\pi}{3}"),
    ("(1, 2]", "[1,2)"), ("(-\\infty, 2] \\cup (3, 4)", "x > 2"), ("\\{1, 2\\}", "(1,2)"),
    ("y = 2x+3", "2x - y + 3 = 0"), ("x^2+2x+1", "(x+1)^2"), ("3+4i", "4i+3"), ("25\\%", "0.25"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}"),
    ("1\\frac{1}{10}", "1 \\frac{1}{9}"), ("e^{2}", "\\ln 3"), ("\\sin 30^\\circ", "\\cos(x)"),
    ("1.5 \\times 10^{3}", "3!"), ("\\text{east}", "\\text{(B)}"), ("\\pm 2", "2, -2"),
    ("\\binom{5}{2}", "|x-1|"), ("\\log_2 8", "\\sqrt[3]{x}"), ("x \\ge 2", "1 < x \\le 2"),
)


def _ping() -> bool:
    return True


def _judge_batch(batch: list[Key], policy: VerifierPolicy, timeout_s: float) -> list[Outcome]:
    """Worker entry point: each item gets ``timeout_s`` of wall time; the batch gets a CPU cap."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_now = usage.ru_utime + usage.ru_stime
    # RLIMIT_CPU counts the process lifetime, so re-arm it per task: SIGXCPU kills a worker stuck in
    # C code (big-integer arithmetic) that the itimer cannot interrupt.
    soft = math.ceil(cpu_now + timeout_s * len(batch) + 2)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    out: list[Outcome] = []
    for reference, answer in batch:
        result: Outcome
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            try:
                result = judge(reference, answer, policy)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Deadline:
            result = (False, "timeout")
        except MemoryError:
            result = (False, "error")
        out.append(result)
    return out
