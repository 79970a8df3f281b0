"""The scored file's reader and the resume plan."""

from __future__ import annotations

import json

import pytest

from hero_client.schemas import ResolvedParams, ScoreParams
from hero_service.diagnostics.records import (
    ScoredFileError,
    ScoredRecord,
    model_change,
    params_change,
    parse_records,
    plan_resume,
)
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


def test_a_rollout_file_is_not_taken_for_a_scored_one() -> None:
    rollout = json.dumps({"id": "g1", "prompt": "1+1?", "reference": "2", "responses": ["2"]}) + "\n"
    with pytest.raises(ScoredFileError, match="Score it first: hero-reward score") as raised:
        parse_records([rollout])
    assert "validation error" not in str(raised.value)
    broken = record(1, 0, 0).model_dump(mode="json") | {"batch": "x"}
    with pytest.raises(ScoredFileError, match=r"^record 1 of the scored file is not a record: batch: ") as raised:
        parse_records([json.dumps(broken) + "\n"])
    assert "\n" not in str(raised.value)


def resolved(alpha: float) -> ResolvedParams:
    return ResolvedParams(mode="hero", preset="paper-appendix", alpha=alpha, beta=0.05, eps=1e-6,
                          singleton_z=0.0, w_min=0.4, w_max=3.0, k=6.0, weighting=True, dense="both",
                          blend_lambda=0.5, sigma_ref=None, session="default", extract="boxed_or_last")


def test_params_change_compares_resolved_params_when_known_else_the_request() -> None:
    done = [record(1, 0, 0).model_copy(update={"params": resolved(0.1), "request": ScoreParams(alpha=0.1)})]
    assert params_change(done, ScoreParams(alpha=0.1), resolved(0.1)) is None
    assert params_change(done, ScoreParams(alpha=0.2), resolved(0.2)) == "alpha 0.1 -> 0.2"
    # A default that resolves to the same value is the same run.
    assert params_change(done, ScoreParams(), resolved(0.1)) is None
    # Remote (nothing resolved before scoring): the params asked for decide.
    assert params_change(done, ScoreParams(alpha=0.1), None) is None
    assert params_change(done, ScoreParams(alpha=0.1, k=4), None) == "k unset -> 4.0"
    # A file written before requests were recorded: nothing to compare with.
    assert params_change([record(1, 0, 0)], ScoreParams(alpha=0.3), None) is None


def test_model_change_needs_both_models_known() -> None:
    done = [record(1, None, 0), record(2, 0, 0).model_copy(update={"model": "file:rm_scores"})]
    assert model_change(done, "file:rm_scores") is None
    assert model_change(done, "Skywork/RM") == "model file:rm_scores -> Skywork/RM"
    assert model_change(done, None) is None  # a server's model, before it is asked
    assert model_change([record(1, 0, 0)], "Skywork/RM") is None  # written before models were recorded
