"""The scored file: one JSON record per response (or per unreadable input line), and its resume plan.

A record names its input ``line`` and its ``index`` in the group, so every input line is accounted for;
``batch`` says which request scored it, ``request`` the ``--params`` and ``model`` the reward model it was
scored with, so a rerun with other params or another model is noticed instead of resumed. Records are
appended one batch at a time, so after a crash only the last batch can be incomplete: resuming drops that
batch and scores it again, and replays the earlier batches' sigma_u into the running sigma_ref, so a
resumed file equals an uninterrupted one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pydantic

from hero_client.schemas import GroupOut, ResolvedParams, RMStatus, ScoreParams, VerifierStatus
from hero_service.diagnostics.rollouts import InputGroup

Status = Literal["ok", "error"]


class ScoredRecord(pydantic.BaseModel):
    """Every component of the reward of one response, or the error of a line that was not scored."""

    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)

    line: int
    group: str
    index: int | None
    batch: int
    status: Status
    error: str | None = None
    prompt: str | list[dict[str, str]] | None = None
    reference: str | None = None
    response: str | None = None
    label: bool | None = None
    answer: str | None = None
    verifier: int | None = None
    verifier_status: VerifierStatus | None = None
    rm_score: float | None = None
    rm_status: RMStatus | None = None
    truncated: bool | None = None
    normalized: float | None = None
    reward: float | None = None
    weight: float | None = None
    sigma: float | None = None
    sigma_ref: float | None = None
    partial: bool | None = None
    params: ResolvedParams | None = None
    request: ScoreParams | None = None
    """The params asked for (before the server's defaults); None in files written before it was recorded."""

    @pydantic.field_serializer("request")
    def _only_given(self, request: ScoreParams | None) -> dict[str, object] | None:
        return None if request is None else request.model_dump(mode="json", exclude_none=True)

    model: str | None = None
    """The id of the reward model that scored it (``file:KEY`` for scores taken from the input)."""

    def to_line(self) -> str:
        return self.model_dump_json() + "\n"


class ScoredFileError(ValueError):
    """A scored file that cannot be resumed or reported on (a corrupt line before the end)."""


class ParamsConflictError(ValueError):
    """A scored file made with other params (or another model) than the run that would resume it."""


# Keys every record has: a JSON object without them was not written by ``hero-reward score``.
_RECORD_KEYS = frozenset({"line", "group", "batch", "status"})


def group_records(unit: InputGroup, out: GroupOut, batch: int, params: ResolvedParams,
                  request: ScoreParams | None = None, model: str | None = None) -> list[ScoredRecord]:
    """The records of one scored group, aligned with its responses."""
    group = unit.group
    if group is None:
        raise ValueError("group_records needs a unit with a group")
    prompt = group.prompt if isinstance(group.prompt, str) else [m.model_dump() for m in group.prompt]
    labels = unit.labels or (None,) * len(group.responses)
    return [
        ScoredRecord(
            line=line, group=unit.key, index=i, batch=batch, status="ok", prompt=prompt,
            reference=group.reference, response=response, label=labels[i], answer=out.answers[i],
            verifier=out.verifier[i], verifier_status=out.verifier_status[i], rm_score=out.rm_scores[i],
            rm_status=out.rm_status[i], truncated=out.truncated[i], normalized=out.normalized[i],
            reward=out.rewards[i], weight=out.weight, sigma=out.sigma, sigma_ref=out.sigma_ref,
            partial=out.partial, params=params, request=request, model=model,
        )
        for i, (line, response) in enumerate(zip(unit.lines, group.responses, strict=True))
    ]


def error_records(unit: InputGroup, batch: int, message: str | None = None,
                  request: ScoreParams | None = None) -> list[ScoredRecord]:
    """One error record per line of a unit that was not scored."""
    error = message or unit.error or "not scored"
    return [ScoredRecord(line=line, group=unit.key, index=index, batch=batch, status="error", error=error,
                         request=request)
            for line, index in unit.slots]


def parse_records(lines: Iterable[str]) -> list[ScoredRecord]:
    """Records of a scored file. A broken *last* line (a write cut short) is dropped; one elsewhere raises."""
    texts = [t for t in lines if t.strip()]
    records: list[ScoredRecord] = []
    for number, text in enumerate(texts, start=1):
        value: object = None
        try:
            value = json.loads(text)
            records.append(ScoredRecord.model_validate(value))
        except (ValueError, pydantic.ValidationError) as exc:
            if number == len(texts) and not text.endswith("\n"):
                break
            if isinstance(value, dict) and not _RECORD_KEYS & value.keys():
                raise ScoredFileError(
                    f"line {number} is not a record of `hero-reward score` (no {', '.join(sorted(_RECORD_KEYS))}): "
                    "is this the rollout file? Score it first: hero-reward score ROLLOUTS -o scored.jsonl"
                ) from None
            raise ScoredFileError(f"record {number} of the scored file is not a record: {_reason(exc)}") from None
    return records


def _reason(exc: ValueError) -> str:
    """The first problem, one line, naming the field (not pydantic's multi-line dump)."""
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        more = exc.error_count() - 1
        return f"{where}: {first['msg']}" + (f" (and {more} more)" if more else "")
    return str(exc)


def read_records(path: Path) -> list[ScoredRecord]:
    with path.open(encoding="utf-8") as handle:
        return parse_records(handle)


@dataclass(frozen=True, slots=True)
class ResumePlan:
    """What a resumed run keeps, what it still scores, and the history of the running sigma_ref."""

    keep: list[ScoredRecord]
    todo: list[InputGroup]
    next_batch: int
    dropped: int
    sigmas_by_batch: list[list[float]]
    """sigma_u of every scored group of each kept batch, in order: what the running sigma_ref saw."""


def plan_resume(units: Sequence[InputGroup], records: Sequence[ScoredRecord]) -> ResumePlan:
    """Keep the complete batches of ``records`` and schedule every unit they do not cover."""
    done = {(r.line, r.index) for r in records}
    if all(slot in done for u in units for slot in u.slots):
        return ResumePlan(list(records), [], _next(records), 0, _sigmas(records))
    # Writes go batch by batch, so only the last batch can be partial: score it again whole, which also
    # keeps the batch boundaries (and so sigma_ref) the same as in an uninterrupted run.
    last = max((r.batch for r in records), default=-1)
    keep = [r for r in records if r.batch < last]
    kept = {(r.line, r.index) for r in keep}
    todo = [u for u in units if not all(slot in kept for slot in u.slots)]
    return ResumePlan(keep, todo, max(last, 0), len(records) - len(keep), _sigmas(keep))


def _next(records: Sequence[ScoredRecord]) -> int:
    return max((r.batch for r in records), default=-1) + 1


def _sigmas(records: Sequence[ScoredRecord]) -> list[list[float]]:
    by_batch: dict[int, list[float]] = {}
    for r in records:
        if r.status == "ok" and r.index == 0 and r.sigma is not None:
            by_batch.setdefault(r.batch, []).append(r.sigma)
    return [by_batch[b] for b in sorted(by_batch)]


def write_records(path: Path, records: Iterable[ScoredRecord], *, mode: Literal["w", "a"] = "a") -> None:
    """Write ``records`` in one go and flush, so a batch reaches the disk whole or (at worst) cut at its end."""
    text = "".join(r.to_line() for r in records)
    with path.open(mode, encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()


def replace_records(path: Path, records: Sequence[ScoredRecord]) -> None:
    """Rewrite the file with ``records`` only, atomically (a crash leaves the old or the new file)."""
    tmp = path.with_name(path.name + ".tmp")
    write_records(tmp, records, mode="w")
    tmp.replace(path)


def params_change(records: Sequence[ScoredRecord], request: ScoreParams,
                  resolved: ResolvedParams | None) -> str | None:
    """How this run's params differ from those ``records`` were scored with; None when they agree.

    ``resolved`` (the params after the defaults, known when scoring in this process) is compared when
    given, so ``alpha=0.05`` and the default 0.05 agree; otherwise the params asked for are.
    """
    if resolved is not None:
        before = next((r.params for r in records if r.params is not None), None)
        if before is not None:
            return describe_change(before.model_dump(), resolved.model_dump())
    asked = next((r.request for r in records if r.request is not None), None)
    if asked is None:
        return None  # a file written before requests were recorded: nothing to compare with
    return describe_change(asked.model_dump(exclude_none=True), request.model_dump(exclude_none=True))


def model_change(records: Sequence[ScoredRecord], model: str | None) -> str | None:
    """``model A -> B`` when ``records`` were scored by another model than ``model``; None when either is
    unknown or they agree."""
    before = next((r.model for r in records if r.model is not None), None)
    return f"model {before} -> {model}" if before is not None and model is not None and before != model else None


def describe_change(before: dict[str, object], now: dict[str, object]) -> str | None:
    """``alpha 0.05 -> 0.1, k unset -> 4``; None when nothing changed."""
    changed = [f"{name} {before.get(name, 'unset')} -> {now.get(name, 'unset')}"
               for name in sorted(before.keys() | now.keys()) if before.get(name) != now.get(name)]
    return ", ".join(changed) or None
