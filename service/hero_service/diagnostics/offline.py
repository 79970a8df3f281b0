"""``hero-reward score``: score a rollout file through the server's own pipeline, in-process or remote.

In-process, the parts are the server's (``build_state``: verifier pool, RM, ``Scorer``), so the rewards
are the ones a trainer would get. ``--rm-from-file`` swaps the RM for ``FileScoresRM``, which answers
with the scores the file carries, so a file graded by a real RM elsewhere can be diagnosed here.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import pydantic

from hero_client import AsyncHeroClient
from hero_client.schemas import GroupIn, ResolvedParams, ScoreParams, ScoreRequest, ScoreResponse
from hero_service.api import wire
from hero_service.diagnostics.progress import progress_view
from hero_service.diagnostics.records import (
    ParamsConflictError,
    ResumePlan,
    ScoredRecord,
    describe_change,
    error_records,
    group_records,
    model_change,
    params_change,
    plan_resume,
    read_records,
    replace_records,
    write_records,
)
from hero_service.diagnostics.rollouts import Form, InputGroup, batches, read_groups
from hero_service.names import unknown_name
from hero_service.reward_model.base import ModelInfo, RMItem, RMScore
from hero_service.scoring import ScoringParams
from hero_service.settings import Settings
from hero_service.state import ServerState

log = logging.getLogger(__name__)

_Key = tuple[str, str, str]


def _key(item: RMItem) -> _Key:
    prompt = item.prompt if isinstance(item.prompt, str) else json.dumps(item.prompt, sort_keys=True)
    return prompt, item.reference, item.response


class FileScoresRM:
    """A ``RewardModel`` that answers with scores carried in the input file instead of running a model.

    ``expect`` registers the scores of the items about to be scored; ``score`` hands them out by
    (prompt, reference, response), first in first out, so two identical responses keep their own scores.
    An item nobody announced gets status ``error`` (and a reward from its verifier stratum alone).
    """

    def __init__(self, source: str = "rm_scores") -> None:
        self._source = source
        self._pending: defaultdict[_Key, deque[float | None]] = defaultdict(deque)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(model_id=f"file:{self._source}", kind="precomputed")

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._pending.clear()

    def expect(self, items: Iterable[RMItem], scores: Iterable[float | None]) -> None:
        for item, score in zip(items, scores, strict=True):
            self._pending[_key(item)].append(score)

    async def score(self, items: Sequence[RMItem]) -> list[RMScore]:
        out = []
        for item in items:
            queue = self._pending.get(_key(item))
            score = queue.popleft() if queue else None
            out.append(RMScore(score) if score is not None else RMScore(None, status="error"))
        return out


def rm_items(group: GroupIn) -> list[RMItem]:
    """The RM items the scorer will build for ``group`` (same prompt form, same reference text)."""
    prompt = group.prompt if isinstance(group.prompt, str) else [m.model_dump() for m in group.prompt]
    return [RMItem(prompt, response, group.reference) for response in group.responses]


class Backend(Protocol):
    """Where groups get scored: this process, or a running server."""

    async def start(self, plan: ResumePlan, params: ScoreParams) -> None: ...

    def resolve(self, params: ScoreParams) -> ResolvedParams | None:
        """The params after the defaults, when known without scoring (None: only the answer says)."""
        ...

    def model(self) -> str | None:
        """The id of the reward model that scores, when known (None: not before ``start``)."""
        ...

    async def score(self, units: Sequence[InputGroup], params: ScoreParams) -> ScoreResponse: ...

    async def stop(self) -> None: ...


class InProcess:
    """The server's parts in this process; ``file_rm`` set: RM scores from the input (``--rm-from-file``)."""

    def __init__(self, state: ServerState, file_rm: FileScoresRM | None = None) -> None:
        self._state = state
        self._file_rm = file_rm

    async def start(self, plan: ResumePlan, params: ScoreParams) -> None:
        await self._state.start()
        if not self._state.ready:
            raise RuntimeError(f"could not start the scorer: {self._state.not_ready_reason}")
        resolved = self._params(params)
        if resolved.sigma_ref is None:
            # The running sigma_ref lives in this process: replay what the kept batches fed it, batch by
            # batch as the scorer did, so the resumed groups see the value an uninterrupted run gave them.
            for sigmas in plan.sigmas_by_batch:
                self._state.scorer.sigma.observe(resolved.session, sigmas)

    def _params(self, params: ScoreParams) -> ScoringParams:
        return wire.resolve_params(params, self._state.settings, self._state.verifier.policy)

    def resolve(self, params: ScoreParams) -> ResolvedParams | None:
        return wire.resolved(self._params(params))

    def model(self) -> str | None:
        return self._state.reward_model.info.model_id

    async def score(self, units: Sequence[InputGroup], params: ScoreParams) -> ScoreResponse:
        groups = [u.group for u in units if u.group is not None]
        if self._file_rm is not None:
            for unit in units:
                if unit.group is not None and unit.rm_scores is not None:
                    self._file_rm.expect(rm_items(unit.group), unit.rm_scores)
        request = ScoreRequest(groups=groups, params=params)  # the wire's own checks, as a served request
        return wire.response(await self._state.scorer.score(wire.entries(request.groups), self._params(params)))

    async def stop(self) -> None:
        await self._state.stop()


class Remote:
    """A running server; its session keeps the running sigma_ref between runs (and across a resume)."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self._url = url
        self._api_key = api_key
        self._client: AsyncHeroClient | None = None
        self._model: str | None = None

    async def start(self, plan: ResumePlan, params: ScoreParams) -> None:
        self._client = AsyncHeroClient(self._url, api_key=self._api_key)
        self._model = (await self._client.info()).model.model_id

    def resolve(self, params: ScoreParams) -> ResolvedParams | None:
        return None  # the server's defaults: its answers carry them

    def model(self) -> str | None:
        return self._model

    async def score(self, units: Sequence[InputGroup], params: ScoreParams) -> ScoreResponse:
        if self._client is None:
            raise RuntimeError("Remote.score before start")
        return await self._client.score([u.group for u in units if u.group is not None], params)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def in_process_backend(settings: Settings, *, rm_from_file: bool, source: str = "rm_scores") -> InProcess:
    """The server's parts, with the file's RM scores in place of a model when ``rm_from_file``."""
    from hero_service.app import build_state  # imports fastapi and the RM engine: only when scoring here

    file_rm = FileScoresRM(source) if rm_from_file else None
    return InProcess(build_state(settings, reward_model=file_rm), file_rm)


def parse_params(specs: Sequence[str]) -> ScoreParams:
    """``["alpha=0.1", "mode=hero"]`` or one JSON object -> ScoreParams (raises ValueError naming the field)."""
    values: dict[str, object] = {}
    for spec in specs:
        if spec.lstrip().startswith("{"):
            try:
                values.update(json.loads(spec))
            except (json.JSONDecodeError, TypeError, ValueError):
                raise ValueError(f"--params {spec!r}: not a JSON object") from None
            continue
        name, sep, text = spec.partition("=")
        if not sep:
            raise ValueError(f"--params {spec!r}: expected NAME=VALUE, e.g. alpha=0.1")
        try:
            values[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            values[name.strip()] = text  # a bare word such as mode=hero
    unknown = [unknown_name(name, ScoreParams.model_fields, "parameter") for name in values
               if name not in ScoreParams.model_fields]
    if unknown:
        raise ValueError("--params: " + "; ".join(unknown))
    try:
        return ScoreParams.model_validate(values)
    except pydantic.ValidationError as exc:
        raise ValueError("; ".join(_param_error(e["loc"], e["msg"], values) for e in exc.errors())) from None


def _param_error(loc: tuple[int | str, ...], msg: str, values: dict[str, object]) -> str:
    name = str(loc[0]) if loc else "params"
    return f"--params {name}={values[name]}: {msg}" if name in values else f"--params {name}: {msg}"


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """What a run did, and the state of the output file after it."""

    groups: int
    """Groups (and unreadable lines) in the input."""
    scored: int
    """Groups this run scored."""
    error_lines: list[int]
    """Input lines whose records in the output are errors (kept ones included): the run failed them."""
    kept: int
    """Records kept from an earlier run."""


def _batch_records(units: Sequence[InputGroup], response: ScoreResponse | None, batch: int,
                   request: ScoreParams, model: str | None) -> list[ScoredRecord]:
    """The batch's records in input order; the response answers its groups in the order they were sent."""
    if response is None:
        return [r for unit in units for r in error_records(unit, batch, request=request)]
    outs = iter(response.groups)
    records: list[ScoredRecord] = []
    for unit in units:
        if unit.group is None:
            records.extend(error_records(unit, batch, request=request))
        else:
            records.extend(group_records(unit, next(outs), batch, response.params, request, model))
    return records


def _conflict(output: Path, change: str) -> ParamsConflictError:
    return ParamsConflictError(
        f"{output} was scored differently: {change}. Write to a new file (-o OTHER.jsonl), or add --force "
        "to score it again from the start.")


async def score_file(
    source: Path,
    output: Path,
    backend: Backend,
    *,
    params: ScoreParams,
    batch_size: int = 32,
    form: Form = "auto",
    fields: dict[str, str] | None = None,
    rm_from_file: bool = False,
    force: bool = False,
    stream: TextIO,
) -> ScoreSummary:
    """Score ``source`` into ``output``, resuming when ``output`` exists. Bad lines become error records.

    An ``output`` scored with other params or another model is refused (``ParamsConflictError``) unless
    ``force``, which scores it again from the start. The backend is started only when there is a group to score, and
    stopped at the end; the output file is made by the first batch written, so a run that fails before
    it leaves none.
    """
    units = read_groups(source, form=form, fields=fields, rm_from_file=rm_from_file)
    if not units:
        raise ValueError(f"{source} has no lines to score")
    bad = [(line, u.error) for u in units if u.group is None for line in u.lines]
    for line, error in bad:
        stream.write(f"{source}:{line}: {error}\n")

    records = read_records(output) if output.exists() and not force else []
    if records:
        changes = [params_change(records, params, backend.resolve(params)),
                   model_change(records, backend.model())]
        if any(changes):
            raise _conflict(output, "; ".join(c for c in changes if c))
    plan = plan_resume(units, records)
    if plan.keep and plan.todo:
        # Rewrite even when nothing is dropped: it also cuts a last line that a crash left half written.
        replace_records(output, plan.keep)
    failed = sorted({r.line for r in plan.keep if r.status == "error"})
    if not plan.todo:
        stream.write(f"{output} is complete ({len(plan.keep)} records): nothing to score\n")
        return ScoreSummary(groups=len(units), scored=0, error_lines=failed, kept=len(plan.keep))
    if plan.keep:
        stream.write(f"resuming: {len(plan.keep)} records kept, {len(plan.todo)} of {len(units)} groups to go\n")

    # The params the kept records were scored with: every answer must carry the same (a server
    # restarted with other defaults between two runs, or two batches, is caught before writing).
    expected = next((r.params for r in plan.keep if r.params is not None), None)
    # Nothing kept: the first write starts the file, so an old one (forced, or all of it dropped) is
    # replaced only once there is something to put in its place.
    fresh = not plan.keep
    scored = 0
    active = any(u.group is not None for u in plan.todo)
    try:
        if active:
            await backend.start(plan, params)
            change = model_change(plan.keep, backend.model())  # a server's model is known from here on
            if change is not None:
                raise _conflict(output, change)
        # Made after the start, so that loading a model does not count against the rate and the ETA.
        view = progress_view(len(plan.todo), stream)
        try:
            for number, batch in enumerate(batches(plan.todo, batch_size), start=plan.next_batch):
                sent = [u for u in batch if u.group is not None]
                response = await backend.score(batch, params) if sent else None
                if response is not None:
                    if expected is not None and response.params != expected:
                        change = describe_change(expected.model_dump(), response.params.model_dump())
                        raise _conflict(output, f"the server's defaults changed: {change}")
                    expected = response.params
                batch_records = _batch_records(batch, response, number, params, backend.model())
                write_records(output, batch_records, mode="w" if fresh else "a")
                fresh = False
                scored += len(sent)
                failed.extend(r.line for r in batch_records if r.status == "error")
                view.advance(len(batch), sum(len(u.slots) for u in sent), failed=len(batch) - len(sent))
        finally:
            view.close()
    finally:
        if active:
            await backend.stop()
    return ScoreSummary(groups=len(units), scored=scored, error_lines=sorted(set(failed)), kept=len(plan.keep))

