"""The scoring pipeline: group entries -> verifier and RM concurrently -> assembly -> HERO rewards.

No web import and no wire type: the HTTP layer translates a request into group entries and
``ScoringParams`` and calls ``Scorer.score``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

from hero_service.errors import ConflictError, QueueFullError
from hero_service.groups.assembler import Claim
from hero_service.groups.backend import Groups
from hero_service.groups.records import Combined, Part, RawResults, merge
from hero_service.groups.store import GroupStore
from hero_service.hero import SigmaTracker, combine, group_sigma
from hero_service.metrics import Metrics
from hero_service.reward_model.base import RewardModel, RMItem, RMScore
from hero_service.scoring import GroupEntry, ScoredGroup, ScoreResult, ScoringParams
from hero_service.verifier import VerifierPool, VerifyRequest
from hero_service.verifier.verdict import Verdict, VerifierPolicy

log = logging.getLogger(__name__)


class Scorer:
    """Scores requests: the verifier and the RM concurrently, then the group store it is handed."""

    def __init__(
        self,
        *,
        verifier: VerifierPool,
        reward_model: RewardModel,
        metrics: Metrics,
        sigma: SigmaTracker,
        groups: Groups,
    ) -> None:
        self._verifier = verifier
        self._rm = reward_model
        self._metrics = metrics
        self._sigma = sigma
        self._store, self._book = groups(self._close)
        metrics.groups_waiting.set_function(lambda: self._store.waiting)

    @property
    def sigma(self) -> SigmaTracker:
        return self._sigma

    @property
    def store(self) -> GroupStore[Part, Combined]:
        return self._store

    async def start(self) -> None:
        """Connect to the group store (for Redis: until it answers)."""
        await self._store.start()

    async def close(self) -> None:
        await self._store.close()

    async def flush(self) -> None:
        """Score every waiting group now (shutdown)."""
        await self._store.flush()

    async def score(self, groups: Sequence[GroupEntry], params: ScoringParams) -> ScoreResult:
        """Rewards for every response of every group entry."""
        # A group lives in its session: two runs (or trainers) that reuse an id never meet, and every
        # part of one group must agree on the parameters it is scored with (ConflictError otherwise).
        signature = params.signature()
        keys = {i: _group_key(params.session, str(g.id)) for i, g in enumerate(groups) if g.id is not None}
        # Every entry with a part_id, whole groups included: a part_id seen before must resend its content.
        digests = {i: _part_digest(groups[i], signature) for i in keys if groups[i].part_id is not None}
        # A part the assembler already holds (a client's retry) needs no second verification.
        retried: dict[int, Claim[Combined]] = {}
        for i, digest in digests.items():
            part_id = groups[i].part_id
            assert part_id is not None
            with _entry(i):
                if (claim := await self._store.seen(keys[i], part_id, digest)) is not None:
                    retried[i] = claim
        fresh = [i for i in range(len(groups)) if i not in retried]
        # Start every entry's heavy work at once: the verifier pool and the RM batcher both gain from
        # seeing the whole request.
        raws = dict(zip(fresh, await self._raw([groups[i] for i in fresh], params), strict=True))

        outputs: list[ScoredGroup | None] = [None] * len(groups)
        complete = [i for i in fresh if groups[i].size == len(groups[i].responses)]
        sigma_ref, scored = await self._combine_complete([raws[i] for i in complete], params)
        for i, group in zip(complete, scored, strict=True):
            outputs[i] = self._out(groups[i], group, 0, partial=False)

        tickets = dict(retried)
        for i in fresh:
            g = groups[i]
            if g.size > len(g.responses):
                with _entry(i):
                    tickets[i] = await self._store.join(keys[i], g.size, len(g.responses),
                                                        Part(raws[i], params), g.part_id,
                                                        signature, digests.get(i, ""))
        for i, ticket in sorted(tickets.items()):
            assembled, partial = await ticket.result()
            outputs[i] = self._out(groups[i], assembled, ticket.offset, partial=partial)

        answered = [o for o in outputs if o is not None]
        if sigma_ref is None and answered:
            sigma_ref = answered[0].sigma_ref
        if sigma_ref is None:
            sigma_ref = self._sigma.current(params.session)
        return ScoreResult(groups=answered, sigma_ref=sigma_ref, params=params)

    async def _raw(self, groups: Sequence[GroupEntry], params: ScoringParams) -> list[RawResults]:
        n = sum(len(g.responses) for g in groups)
        # Only the signals the mode combines, unless the request asks for both (compute="all").
        if params.runs_rm:
            items = [RMItem(g.prompt, r, g.reference) for g in groups for r in g.responses]
            # One RM call for the whole request, made before any verification starts: the RM admits all of
            # it or refuses it (429) with nothing queued, so a refused request costs nothing.
            scoring = self._score(items)
        else:
            scoring = _done([RMScore(None, status="skipped")] * n)
        if params.runs_verifier:
            verifying: Awaitable[list[list[Verdict]]] = asyncio.gather(*(
                self._verify([VerifyRequest(g.reference, r, params.extract) for r in g.responses],
                             params.verifier)
                for g in groups))
        else:
            verifying = _done([[Verdict(False, "skipped")] * len(g.responses) for g in groups])
        verdicts, scores = await asyncio.gather(verifying, scoring)
        out, at = [], 0
        for group, group_verdicts in zip(groups, verdicts, strict=True):
            out.append(RawResults(tuple(group_verdicts), tuple(scores[at : at + len(group.responses)])))
            at += len(group.responses)
        return out

    def _score(self, items: list[RMItem]) -> Awaitable[list[RMScore]]:
        try:
            admitted = self._rm.score(items)
        except QueueFullError:
            raise  # overload is the caller's to retry (429), not a grading failure
        except Exception:  # the RM could not take the items at all
            return _done(self._rm_failed(len(items)))
        return self._scores(admitted, len(items))

    async def _scores(self, admitted: Awaitable[list[RMScore]], n: int) -> list[RMScore]:
        try:
            return await admitted
        except QueueFullError:
            raise
        except Exception:
            return self._rm_failed(n)

    def _rm_failed(self, n: int) -> list[RMScore]:
        """A failing RM must not cost the verifier's verdicts: the items get status "error" and rewards
        from their verifier stratum alone. Called while the exception is being handled."""
        log.exception("reward model failed on %d items", n)
        self._metrics.rm_errors.inc(n)
        return [RMScore(None, status="error") for _ in range(n)]

    async def _verify(self, items: list[VerifyRequest], policy: VerifierPolicy) -> list[Verdict]:
        started = time.perf_counter()
        try:
            verdicts = await self._verifier.verify(items, policy)
        except Exception:  # the pool answers per item; this guards against a bug in it
            log.exception("verifier failed on %d items", len(items))
            verdicts = [Verdict(False, "error") for _ in items]
        self._metrics.verification_duration.observe(time.perf_counter() - started)
        self._metrics.observe_verdicts(verdicts)
        return verdicts

    async def _combine_complete(
        self,
        raws: Sequence[RawResults],
        params: ScoringParams,
    ) -> tuple[float | None, list[Combined]]:
        """Combine the complete groups of one request with one frozen sigma_ref."""
        if not raws:
            return None, []
        sigma_ref = await self._fold(params, [group_sigma([s.score for s in raw.rm]) for raw in raws
                                              if not raw.rm_skipped])
        return sigma_ref, [self._finish_group(raw, params, sigma_ref) for raw in raws]

    async def _close(self, group_id: str, parts: list[Part], partial: bool) -> Combined:
        """Close a group (the store calls this once per group, on the replica that won the close): its
        sigma_ref from the session's book (this process's, or the shared one)."""
        raw, params = merge(parts)
        sigma_ref = await self._fold(params, [] if raw.rm_skipped else [group_sigma([s.score for s in raw.rm])])
        return self._finish_group(raw, params, sigma_ref)

    def _finish_group(self, raw: RawResults, params: ScoringParams, sigma_ref: float) -> Combined:
        reward = combine([v.value for v in raw.verdicts], [s.score for s in raw.rm], params.math, sigma_ref)
        self._metrics.observe_rewards(reward.rewards, [v.value for v in raw.verdicts])
        return Combined(raw, reward, sigma_ref)

    async def _fold(self, params: ScoringParams, sigmas: list[float]) -> float:
        # A pinned sigma_ref is an evaluation setting: it must not move the session's running mean.
        if params.sigma_ref is not None:
            return params.sigma_ref
        ref, current = await self._book.fold(params.session, sigmas)
        self._metrics.set_sigma_ref(params.session, current)
        return ref

    @staticmethod
    def _out(group: GroupEntry, combined: Combined, offset: int, *, partial: bool) -> ScoredGroup:
        n = len(group.responses)
        own = slice(offset, offset + n)
        raw, reward = combined.raw, combined.reward
        return ScoredGroup(
            id=group.id if group.id is not None else uuid.uuid4().hex,
            rewards=list(reward.rewards[own]),
            verifier=[v.value for v in raw.verdicts[own]],
            verifier_status=[v.status for v in raw.verdicts[own]],
            answers=[v.answer for v in raw.verdicts[own]],
            rm_scores=[s.score for s in raw.rm[own]],
            rm_status=[s.status for s in raw.rm[own]],
            truncated=[s.truncated for s in raw.rm[own]],
            normalized=list(reward.normalized[own]),
            weight=reward.weight,
            sigma=reward.sigma,
            sigma_ref=combined.sigma_ref,
            partial=partial,
            group_size=len(raw.verdicts),
        )


def _group_key(session: str, group_id: str) -> str:
    """Where a group lives: its id within its session."""
    return json.dumps([session, group_id], ensure_ascii=False, separators=(",", ":"))


def _part_digest(group: GroupEntry, signature: dict[str, Any]) -> str:
    """What a retried part must resend unchanged: its responses, prompt, reference, size and params."""
    text = json.dumps([list(group.responses), group.prompt, group.reference, group.size, signature],
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@contextlib.contextmanager
def _entry(index: int) -> Iterator[None]:
    """Tag a ConflictError with the request entry it came from, so the 409 can point at it."""
    try:
        yield
    except ConflictError as exc:
        exc.entry = index
        raise


async def _done(value: list[Any]) -> list[Any]:
    return value

