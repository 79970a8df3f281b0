"""``hero-reward score`` and ``report`` as a user runs them: reruns, failures, exit codes, messages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hero_client.schemas import ResolvedParams, ScoreParams, ScoreResponse
from hero_service import cli
from hero_service.diagnostics.offline import score_file
from hero_service.diagnostics.records import ResumePlan, read_records
from hero_service.diagnostics.rollouts import InputGroup
from tests.integration.diagnostics.test_score_file import group, write_jsonl

FROM_FILE = ["--rm-from-file", "--verifier-workers", "1"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and stderr of ``hero-reward ARGV``."""
    code: int | str | None = 0
    try:
        cli.main(argv)
    except SystemExit as done:
        code = done.code
    err = capsys.readouterr().err
    if isinstance(code, str):  # SystemExit("message"): Python prints it and exits with status 1
        return 1, err + code
    return code or 0, err


def test_a_rerun_with_other_params_is_refused_and_force_rescores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(i, 1.0) for i in (1, 2)])
    out = tmp_path / "out.jsonl"
    assert run(["score", str(source), "-o", str(out), *FROM_FILE, "--params", "alpha=0.1"], capsys)[0] == 0
    before = out.read_text(encoding="utf-8")

    code, err = run(["score", str(source), "-o", str(out), *FROM_FILE, "--params", "alpha=0.2"], capsys)
    assert code == 2
    assert "was scored differently: alpha 0.1 -> 0.2." in err and "--force" in err
    assert "nothing to score" not in err
    assert out.read_text(encoding="utf-8") == before

    # The same params again (spelt as the default they resolve to, or as before) resume: nothing to do.
    code, err = run(["score", str(source), "-o", str(out), *FROM_FILE, "--params", "alpha=0.1"], capsys)
    assert (code, "nothing to score" in err) == (0, True)

    code, err = run(["score", str(source), "-o", str(out), *FROM_FILE, "--params", "alpha=0.2", "--force"], capsys)
    assert code == 0
    records = read_records(out)
    assert len(records) == 8 and {r.params.alpha for r in records if r.params} == {0.2}
    assert {r.request.alpha for r in records if r.request} == {0.2}


def test_a_rerun_with_another_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(1, 1.0)])
    out = tmp_path / "out.jsonl"
    assert run(["score", str(source), "-o", str(out), *FROM_FILE], capsys)[0] == 0
    assert {r.model for r in read_records(out)} == {"file:rm_scores"}
    code, err = run(["score", str(source), "-o", str(out), "--verifier-workers", "1"], capsys)  # the embedded RM
    assert code == 2
    assert "was scored differently: model file:rm_scores -> sentence-transformers/all-MiniLM-L6-v2." in err


def test_a_run_where_every_line_fails_exits_1_with_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"prompt": "x", "answer": "1", "responses": ["\\boxed{1}"]} for _ in range(5)]  # no reference
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    code, err = run(["score", str(source), "-o", str(out), *FROM_FILE], capsys)
    assert code == 1
    assert "scored 5/5" not in err
    assert "scored 0/5 groups (0 responses), 5 failed" in err
    assert "5 of the input lines failed (lines 1, 2, 3, 4, 5)" in err
    assert [r.status for r in read_records(out)] == ["error"] * 5  # still every line accounted for

    code, err = run(["score", str(source), "-o", str(out), *FROM_FILE], capsys)  # a rerun says so again
    assert code == 1 and "5 of the input lines failed" in err


def test_one_bad_line_among_good_ones_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(1, 1.0), "{oops", group(2, 1.0)])
    code, err = run(["score", str(source), "-o", str(tmp_path / "out.jsonl"), *FROM_FILE], capsys)
    assert code == 1
    assert "out.jsonl: 3 groups, 2 scored by this run, 0 records kept, 1 failed lines" in err
    assert "1 of the input lines failed (lines 2)" in err


class FailingBackend:
    """A backend whose start fails, as a model that cannot load does."""

    async def start(self, plan: ResumePlan, params: ScoreParams) -> None:
        raise RuntimeError("could not start the scorer: no such model")

    def resolve(self, params: ScoreParams) -> ResolvedParams | None:
        return None

    async def score(self, units: list[InputGroup], params: ScoreParams) -> ScoreResponse:
        raise AssertionError("never started")

    async def stop(self) -> None:
        return None


async def test_a_run_that_fails_leaves_no_empty_output(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(1, 1.0)])
    out = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="no such model"):
        await score_file(source, out, FailingBackend(), params=ScoreParams(), stream=io.StringIO())
    assert not out.exists()


def test_report_on_an_unscored_file_says_to_score_it_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(1, 1.0)])
    code, err = run(["report", str(source), "-o", str(tmp_path / "r.html")], capsys)
    assert code == 1
    assert "Score it first: hero-reward score" in err
    assert "validation error" not in err and "errors.pydantic.dev" not in err
    assert not (tmp_path / "r.html").exists()


def test_scored_records_carry_the_params_asked_for_compactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(1, 1.0)])
    out = tmp_path / "out.jsonl"
    run(["score", str(source), "-o", str(out), *FROM_FILE, "--params", "k=4"], capsys)
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["request"] == {"k": 4.0}


def test_empty_files_are_refused_not_turned_into_empty_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, err = run(["score", str(empty), "-o", str(tmp_path / "out.jsonl"), *FROM_FILE], capsys)
    assert (code, "has no lines to score" in err, (tmp_path / "out.jsonl").exists()) == (1, True, False)
    code, err = run(["report", str(empty), "-o", str(tmp_path / "r.html")], capsys)
    assert (code, "no records: score a rollout file into it first" in err) == (1, True)
    assert not (tmp_path / "r.html").exists()
