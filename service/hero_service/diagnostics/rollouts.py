"""Rollout files: one JSON object per line, in one of two forms, read into groups to score.

Grouped form (one group per line)::

    {"id": "q17", "prompt": "...", "reference": "42", "responses": ["...", "..."],
     "rm_scores": [3.1, -0.4], "labels": [true, false]}

Flat form (one response per line; lines with the same ``group`` form one group, in order of appearance,
and need not be adjacent)::

    {"group": "q17", "prompt": "...", "reference": "42", "response": "...", "rm_score": 3.1, "label": true}

``prompt`` is text or chat messages (default ""); ``id`` defaults to ``line-<n>``. ``rm_scores`` /
``rm_score`` (a number, or a one-element list such as ``[3.1]``) are read only with ``--rm-from-file``;
``labels`` / ``label`` (bool or 0/1) are other graders' verdicts, carried to the output for comparison.
A field map (``--field reference=answer``) renames the keys of files written by other tools. A line that
cannot be read becomes an error group of its own: it is written out with its line number, never dropped.

Parsing is pure (strings in, groups out); ``read_groups`` is the thin file reader.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic

from hero_client.schemas import GroupIn

Form = Literal["auto", "grouped", "flat"]

CANONICAL_FIELDS = frozenset(
    {"id", "prompt", "reference", "responses", "rm_scores", "labels", "group", "response", "rm_score", "label"}
)


class FieldMapError(ValueError):
    """A ``--field`` option that names an unknown field or is not ``name=key``."""


@dataclass(frozen=True, slots=True)
class InputGroup:
    """One unit of work: a group to score, or a line that could not be read (``error`` set).

    ``lines`` gives the 1-based input line of each response (all equal in the grouped form);
    an error unit has no group and one record per line it covers (a flat group may span several).
    """

    key: str
    lines: tuple[int, ...]
    group: GroupIn | None = None
    rm_scores: tuple[float | None, ...] | None = None
    labels: tuple[bool | None, ...] | None = None
    error: str | None = None

    @property
    def slots(self) -> tuple[tuple[int, int | None], ...]:
        """The (line, index) of every output record this unit produces."""
        if self.group is None:
            return tuple((line, None) for line in self.lines)
        return tuple((line, i) for i, line in enumerate(self.lines))


def parse_field_map(specs: Iterable[str]) -> dict[str, str]:
    """``["reference=answer", ...]`` -> ``{"reference": "answer"}`` (canonical name -> key in the file)."""
    mapping: dict[str, str] = {}
    for spec in specs:
        name, sep, key = spec.partition("=")
        name, key = name.strip(), key.strip()
        if not sep or not name or not key:
            raise FieldMapError(f"--field {spec!r}: expected NAME=KEY, e.g. reference=answer")
        if name not in CANONICAL_FIELDS:
            raise FieldMapError(f"--field {spec!r}: unknown field {name!r}; one of {sorted(CANONICAL_FIELDS)}")
        mapping[name] = key
    return mapping


def _get(obj: Mapping[str, Any], name: str, fields: Mapping[str, str]) -> Any:
    return obj.get(fields.get(name, name))


def _has(obj: Mapping[str, Any], name: str, fields: Mapping[str, str]) -> bool:
    return fields.get(name, name) in obj


def to_score(value: Any) -> float | None:
    """An RM score from a file: a finite number, or a one-element list of one (some tools nest them)."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return float(value)


def to_label(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise ValueError(f"a label must be true/false or 0/1, got {value!r}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _aligned(obj: Mapping[str, Any], name: str, fields: Mapping[str, str], n: int) -> list[Any] | None:
    value = _get(obj, name, fields)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n:
        raise ValueError(f"{fields.get(name, name)!r} must be a list with one entry per response ({n})")
    return value


def _grouped(obj: Mapping[str, Any], line: int, fields: Mapping[str, str], rm_from_file: bool) -> InputGroup:
    raw_id = _get(obj, "id", fields)
    key = str(raw_id) if raw_id is not None else f"line-{line}"
    try:
        if not _has(obj, "reference", fields):  # GroupIn would read a missing reference as the text "null"
            raise ValueError(f"{fields.get('reference', 'reference')!r} is missing")
        group = GroupIn(id=key, prompt=_get(obj, "prompt", fields) or "",
                        reference=_get(obj, "reference", fields), responses=_get(obj, "responses", fields))
        n = len(group.responses)
        scores = _aligned(obj, "rm_scores", fields, n) if rm_from_file else None
        if rm_from_file and scores is None:
            raise ValueError(f"--rm-from-file needs {fields.get('rm_scores', 'rm_scores')!r} on every line")
        labels = _aligned(obj, "labels", fields, n)
        return InputGroup(
            key, (line,) * n, group,
            rm_scores=tuple(to_score(s) for s in scores) if scores is not None else None,
            labels=tuple(to_label(v) for v in labels) if labels is not None else None,
        )
    except (pydantic.ValidationError, ValueError, TypeError) as exc:
        return InputGroup(key, (line,), error=_describe(exc))


@dataclass(slots=True)
class _FlatGroup:
    key: str
    prompt: Any
    reference: Any
    lines: list[int]
    responses: list[str]
    scores: list[float | None]
    labels: list[bool | None]


def _flat_line(
    obj: Mapping[str, Any], line: int, fields: Mapping[str, str], rm_from_file: bool
) -> tuple[str, Any, Any, str, float | None, bool | None]:
    key = _get(obj, "group", fields)
    if key is None or isinstance(key, dict | list):
        raise ValueError(f"{fields.get('group', 'group')!r} (the group key) must be a string or a number")
    response = _get(obj, "response", fields)
    if not isinstance(response, str):
        raise ValueError(f"{fields.get('response', 'response')!r} must be a string")
    if not _has(obj, "reference", fields):
        raise ValueError(f"{fields.get('reference', 'reference')!r} is missing")
    score = None
    if rm_from_file:
        if not _has(obj, "rm_score", fields):
            raise ValueError(f"--rm-from-file needs {fields.get('rm_score', 'rm_score')!r} on every line")
        score = to_score(_get(obj, "rm_score", fields))
    label = to_label(_get(obj, "label", fields))
    return str(key), _get(obj, "prompt", fields) or "", _get(obj, "reference", fields), response, score, label


def parse_lines(
    lines: Iterable[str],
    *,
    form: Form = "auto",
    fields: Mapping[str, str] | None = None,
    rm_from_file: bool = False,
) -> list[InputGroup]:
    """Every non-blank line of a rollout file as units, in order of (first) appearance.

    ``auto`` takes the form of the first object that has ``responses`` (grouped) or ``response`` (flat).
    """
    fields = fields or {}
    units: list[InputGroup | _FlatGroup] = []
    flat: dict[str, _FlatGroup] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
            if not isinstance(obj, dict):
                raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        except ValueError as exc:
            units.append(InputGroup(f"line-{number}", (number,), error=f"not a JSON object: {exc}"))
            continue
        if form == "auto":
            if _has(obj, "responses", fields):
                form = "grouped"
            elif _has(obj, "response", fields):
                form = "flat"
        if form == "grouped":
            units.append(_grouped(obj, number, fields, rm_from_file))
            continue
        if form == "auto":
            units.append(InputGroup(f"line-{number}", (number,), error="neither 'responses' (grouped form) "
                                    "nor 'response' (flat form) found; see --field to map other names"))
            continue
        try:
            key, prompt, reference, response, score, label = _flat_line(obj, number, fields, rm_from_file)
        except ValueError as exc:
            units.append(InputGroup(f"line-{number}", (number,), error=str(exc)))
            continue
        existing = flat.get(key)
        if existing is None:
            existing = flat[key] = _FlatGroup(key, prompt, reference, [], [], [], [])
            units.append(existing)
        elif (prompt, reference) != (existing.prompt, existing.reference):
            # One group is one prompt: a line that disagrees is an input error, not a new group.
            units.append(InputGroup(key, (number,), error=f"group {key!r}: prompt or reference differs from "
                                    f"its first line ({existing.lines[0]})"))
            continue
        existing.lines.append(number)
        existing.responses.append(response)
        existing.scores.append(score)
        existing.labels.append(label)
    return [u if isinstance(u, InputGroup) else _close_flat(u, rm_from_file) for u in units]


def _close_flat(flat: _FlatGroup, rm_from_file: bool) -> InputGroup:
    try:
        group = GroupIn(id=flat.key, prompt=flat.prompt, reference=flat.reference, responses=flat.responses)
    except pydantic.ValidationError as exc:
        # Every line of the group gets the error record: none is dropped.
        return InputGroup(flat.key, tuple(flat.lines), error=_describe(exc))
    labels = tuple(flat.labels) if any(v is not None for v in flat.labels) else None
    return InputGroup(flat.key, tuple(flat.lines), group,
                      rm_scores=tuple(flat.scores) if rm_from_file else None, labels=labels)


def read_groups(
    path: Path, *, form: Form = "auto", fields: Mapping[str, str] | None = None, rm_from_file: bool = False
) -> list[InputGroup]:
    """``parse_lines`` over a file (read as UTF-8; an undecodable byte is replaced, not fatal)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return parse_lines(handle, form=form, fields=fields, rm_from_file=rm_from_file)


def batches(units: Sequence[InputGroup], size: int) -> list[Sequence[InputGroup]]:
    """Consecutive runs of ``size`` units: the requests, and the resume granularity."""
    return [units[i:i + size] for i in range(0, len(units), size)]
