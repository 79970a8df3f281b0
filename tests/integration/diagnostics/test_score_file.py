"""``score`` end to end: the server's parts in-process (real verifier pool), resume, and a running server."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hero_client.schemas import ScoreParams
from hero_service.diagnostics.offline import InProcess, Remote, in_process_backend, score_file
from hero_service.diagnostics.records import read_records
from hero_service.hero import HeroParams, combine
from hero_service.settings import Settings
from tests.integration.conftest import LengthRM, Served

SETTINGS = Settings(verifier_workers=2)


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def group(i: int, spread: float) -> dict[str, Any]:
    """Two right and two wrong answers to 'i + i'; RM scores whose spread differs between groups."""
    right, wrong = f"\\boxed{{{2 * i}}}", f"\\boxed{{{2 * i + 1}}}"
    return {"id": f"g{i}", "prompt": f"What is {i} + {i}?", "reference": str(2 * i),
            "responses": [right, wrong, "so " + right, "so " + wrong],
            "rm_scores": [spread, 0.0, [spread / 2], -spread]}


async def test_every_line_is_written_and_rewards_are_the_server_math(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(1, 2.0), "{oops", group(2, 0.5)])
    out, log = tmp_path / "out.jsonl", io.StringIO()
    summary = await score_file(source, out, in_process_backend(SETTINGS, rm_from_file=True),
                               params=ScoreParams(), rm_from_file=True, stream=log)
    records = read_records(out)
    assert [(r.line, r.index, r.status) for r in records] == (
        [(1, i, "ok") for i in range(4)] + [(2, None, "error")] + [(3, i, "ok") for i in range(4)])
    assert summary.error_lines == [2]
    assert f"{source}:2: not a JSON object" in log.getvalue()
    first = records[:4]
    assert [r.verifier for r in first] == [1, 0, 1, 0]
    assert [r.rm_score for r in first] == [2.0, 0.0, 1.0, -2.0]
    assert first[0].answer == "2"
    # One request: both groups share the warm-start sigma_ref, the mean of their sigma_u.
    expected = combine([1, 0, 1, 0], [2.0, 0.0, 1.0, -2.0], HeroParams(), first[0].sigma_ref or 0.0)
    assert [r.reward for r in first] == pytest.approx(list(expected.rewards))
    assert first[0].sigma_ref == pytest.approx((first[0].sigma or 0.0) / 2 + (records[5].sigma or 0.0) / 2)


async def test_flat_form_records_carry_each_response_line(tmp_path: Path) -> None:
    rows = [{"group": g, "prompt": f"{g} + {g}?", "reference": str(2 * g), "response": f"\\boxed{{{2 * g + k}}}",
             "rm_score": float(k)} for k in (0, 1) for g in (1, 2)]  # interleaved: g1, g2, g1, g2
    source = write_jsonl(tmp_path / "flat.jsonl", rows)
    out = tmp_path / "out.jsonl"
    await score_file(source, out, in_process_backend(SETTINGS, rm_from_file=True), params=ScoreParams(),
                     rm_from_file=True, stream=io.StringIO())
    records = read_records(out)
    assert [(r.group, r.index, r.line, r.verifier, r.rm_score) for r in records] == [
        ("1", 0, 1, 1, 0.0), ("1", 1, 3, 0, 1.0), ("2", 0, 2, 1, 0.0), ("2", 1, 4, 0, 1.0)]
    assert records[0].sigma == pytest.approx(0.5)  # the group is the two lines together


async def test_a_resumed_run_writes_what_an_uninterrupted_one_does(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(i, float(i)) for i in range(1, 6)] + ["[]"])
    whole, resumed = tmp_path / "whole.jsonl", tmp_path / "resumed.jsonl"

    async def run(out: Path) -> str:
        log = io.StringIO()
        await score_file(source, out, in_process_backend(SETTINGS, rm_from_file=True), params=ScoreParams(),
                         batch_size=2, rm_from_file=True, stream=log)
        return log.getvalue()

    await run(whole)
    text = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    # A crash during the second batch's write: batch 0 whole, one record of batch 1, then half a line.
    resumed.write_text("".join(text[:8]) + text[8] + text[9][:25], encoding="utf-8")
    log = await run(resumed)
    assert "resuming: 8 records kept, 4 of 6 groups to go" in log
    # Equal to the byte: the same batches, and the running sigma_ref replayed over the kept batch.
    assert resumed.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")
    assert len({r.sigma_ref for r in read_records(whole)}) == 3  # sigma_ref really moved between batches

    before = resumed.read_text(encoding="utf-8")
    assert "groups to go" not in await run(resumed)  # complete: nothing to do, nothing rewritten
    assert resumed.read_text(encoding="utf-8") == before


async def test_a_running_server_gives_the_same_records(
    tmp_path: Path, make_server: Callable[..., Served]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [group(i, 1.0) for i in range(1, 4)])
    params = ScoreParams(session="diagnostics-remote", alpha=0.1)
    served = make_server(SETTINGS, reward_model=LengthRM())
    remote, local = tmp_path / "remote.jsonl", tmp_path / "local.jsonl"
    await score_file(source, remote, Remote(served.base_url), params=params, batch_size=2, stream=io.StringIO())
    from hero_service.app import build_state

    await score_file(source, local, InProcess(build_state(SETTINGS, reward_model=LengthRM())), params=params,
                     batch_size=2, stream=io.StringIO())
    remote_records, local_records = read_records(remote), read_records(local)
    assert len(remote_records) == 12
    assert remote_records == local_records
    assert remote_records[0].params is not None and remote_records[0].params.alpha == 0.1
