"""Reading rollout files: both forms, the field map, file RM scores, and bad lines kept with their number."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hero_service.diagnostics.rollouts import FieldMapError, batches, parse_field_map, parse_lines, to_score


def lines(*objects: Any) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o) for o in objects]


def test_grouped_form() -> None:
    units = parse_lines(lines({"id": "q1", "prompt": "p", "reference": 42, "responses": ["a", "b"],
                               "labels": [True, 0]}))
    (unit,) = units
    assert unit.error is None and unit.group is not None
    assert (unit.key, unit.lines, unit.group.reference, unit.group.responses) == ("q1", (1, 1), "42", ["a", "b"])
    assert unit.labels == (True, False)
    assert unit.rm_scores is None  # only read with rm_from_file
    assert unit.slots == ((1, 0), (1, 1))


def test_field_map_and_nested_file_scores() -> None:
    fields = parse_field_map(["reference=answer", "responses=code", "rm_scores=pred_score", "prompt=question"])
    units = parse_lines(lines({"question": "q", "answer": "7", "code": ["x", "y"], "pred_score": [[1.5], [-2]]}),
                        fields=fields, rm_from_file=True)
    assert units[0].rm_scores == (1.5, -2.0)
    assert units[0].group is not None and units[0].group.prompt == "q"
    assert units[0].key == "line-1"


@pytest.mark.parametrize("spec", ["reference", "=answer", "nonsense=x"])
def test_bad_field_specs_are_refused(spec: str) -> None:
    with pytest.raises(FieldMapError):
        parse_field_map([spec])


def test_every_bad_line_is_kept_with_its_number() -> None:
    units = parse_lines(lines(
        {"prompt": "p", "reference": "1", "responses": ["a"]},
        "{not json",
        "",  # blank: not a line of data
        "[1, 2]",
        {"prompt": "p", "responses": ["a"]},
        {"prompt": "p", "reference": "1", "responses": []},
        {"prompt": "p", "reference": "1", "responses": ["a", "b"], "labels": [True]},
    ))
    errors = {u.lines[0]: u.error for u in units if u.error is not None}
    assert sorted(errors) == [2, 4, 5, 6, 7]
    assert "not a JSON object" in str(errors[2]) and "not a JSON object" in str(errors[4])
    assert "reference" in str(errors[5])
    assert "responses" in str(errors[6])
    assert "one entry per response" in str(errors[7])
    assert all(u.group is None and u.slots == ((u.lines[0], None),) for u in units[1:])


def test_file_scores_are_required_with_rm_from_file() -> None:
    (unit,) = parse_lines(lines({"reference": "1", "responses": ["a"]}), rm_from_file=True)
    assert unit.group is None and "--rm-from-file needs 'rm_scores'" in str(unit.error)


def test_flat_form_groups_lines_by_key_in_order_of_appearance() -> None:
    units = parse_lines(lines(
        {"group": "g1", "prompt": "p1", "reference": "1", "response": "a", "rm_score": 0.5, "label": True},
        {"group": "g2", "prompt": "p2", "reference": "2", "response": "b", "rm_score": [1.0]},
        {"group": "g1", "prompt": "p1", "reference": "1", "response": "c", "rm_score": 2},
        {"group": "g1", "prompt": "p1", "reference": "9", "response": "d", "rm_score": 3},
        {"group": "g2", "prompt": "p2", "reference": "2"},
    ), rm_from_file=True)
    g1, g2, mismatch, missing = units
    assert g1.group is not None and g1.group.responses == ["a", "c"]
    assert (g1.lines, g1.rm_scores, g1.labels) == ((1, 3), (0.5, 2.0), (True, None))
    assert g2.lines == (2,) and g2.rm_scores == (1.0,) and g2.labels is None
    assert (mismatch.lines, mismatch.group) == ((4,), None)
    assert "differs from its first line (1)" in str(mismatch.error)
    assert missing.lines == (5,) and "'response'" in str(missing.error)


def test_explicit_form_refuses_the_other_form() -> None:
    (unit,) = parse_lines(lines({"group": "g", "reference": "1", "response": "a"}), form="grouped")
    assert unit.error is not None and unit.group is None


def test_to_score_unwraps_single_lists_only() -> None:
    assert to_score([[3]]) == 3.0
    for bad in ([1, 2], "1", True, float("nan"), None):
        with pytest.raises(ValueError):
            to_score(bad)


def test_batches_cover_every_unit_once() -> None:
    units = parse_lines(lines(*({"reference": "1", "responses": [str(i)]} for i in range(7))))
    chunks = batches(units, 3)
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [u for c in chunks for u in c] == units
