"""The scored file's reader and the resume plan."""

from __future__ import annotations

import json

import pytest

from hero_service.diagnostics.records import ScoredFileError, ScoredRecord, parse_records, plan_resume
from hero_service.diagnostics.rollouts import InputGroup, parse_lines


def record(line: int, index: int | None, batch: int, sigma: float = 0.0) -> ScoredRecord:
    return ScoredRecord(line=line, group=f"line-{line}", index=index, batch=batch,
                        status="ok" if index is not None else "error", sigma=sigma)


def units(n: int) -> list[InputGroup]:
    return parse_lines([json.dumps({"reference": "1", "responses": ["a", "b"]}) for _ in range(n)])


def test_a_cut_last_line_is_dropped_but_a_corrupt_middle_is_an_error() -> None:
    good = record(1, 0, 0).to_line()
    assert parse_records([good, good[:20]]) == [record(1, 0, 0)]
    with pytest.raises(ScoredFileError, match="record 2"):
        parse_records([good, "garbage\n", good])


def test_a_complete_file_needs_nothing() -> None:
    done = [record(line, i, (line - 1) // 2, sigma=line) for line in (1, 2, 3) for i in (0, 1)]
    plan = plan_resume(units(3), done)
    assert plan.todo == [] and plan.keep == done and plan.dropped == 0
    assert plan.sigmas_by_batch == [[1.0, 2.0], [3.0]]


def test_the_last_batch_is_scored_again_whole() -> None:
    # Batch size 2: batch 0 = lines 1-2 (complete), batch 1 = lines 3-4, cut after line 3's first response.
    done = [record(1, 0, 0, 0.5), record(1, 1, 0, 0.5), record(2, 0, 0, 1.5), record(2, 1, 0, 1.5),
            record(3, 0, 1, 9.0)]
    plan = plan_resume(units(5), done)
    assert plan.keep == done[:4]
    assert [u.lines[0] for u in plan.todo] == [3, 4, 5]
    assert (plan.next_batch, plan.dropped) == (1, 1)
    assert plan.sigmas_by_batch == [[0.5, 1.5]]  # the dropped batch fed nothing to sigma_ref


def test_a_fresh_file_starts_at_batch_zero() -> None:
    plan = plan_resume(units(2), [])
    assert (len(plan.todo), plan.next_batch, plan.keep) == (2, 0, [])
