"""The README's commands on the real 100-group file (Qwen2.5-Math rollouts with a real RM's scores),
and the report's numbers against an independent computation from the raw file."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from hero_service import cli
from hero_service.diagnostics.records import read_records

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / ".." / "shared" / "data" / "qwen25math_math_cot_100.jsonl"

# The README's command, word for word but for the paths.
FIELDS = ["--rm-from-file", "--field", "id=idx", "--field", "prompt=question", "--field", "reference=answer",
          "--field", "responses=code", "--field", "rm_scores=pred_score", "--field", "labels=score"]


def rank_auroc(labels: list[int], scores: list[float]) -> float | None:
    """Mann-Whitney U from average ranks: a different road to the AUROC than the pairwise count."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for j in range(start, end + 1):
            ranks[order[j]] = (start + end) / 2 + 1
        start = end + 1
    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        return None
    u = sum(r for r, label in zip(ranks, labels, strict=True) if label) - pos * (pos + 1) / 2
    return u / (pos * neg)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not DATA.exists():
        pytest.skip(f"{DATA} not present")
    folder = tmp_path_factory.mktemp("real")
    out, page = folder / "scored.jsonl", folder / "report.html"
    cli.main(["score", str(DATA), "-o", str(out), *FIELDS, "--verifier-workers", "4"])
    cli.main(["report", str(out), "-o", str(page)])
    return out, page


def test_every_response_is_scored_with_the_file_scores(scored: tuple[Path, Path]) -> None:
    out, _ = scored
    raw = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    records = read_records(out)
    assert len(records) == sum(len(row["code"]) for row in raw) == 800
    assert all(r.status == "ok" and r.rm_status == "ok" for r in records)
    for r in records:
        assert r.rm_score == raw[r.line - 1]["pred_score"][r.index or 0][0]
        assert r.group == str(raw[r.line - 1]["idx"])
        assert r.label == raw[r.line - 1]["score"][r.index or 0]


def test_report_numbers_match_an_independent_computation(scored: tuple[Path, Path]) -> None:
    out, page = scored
    raw = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    verdicts: dict[int, list[int]] = {}
    for r in read_records(out):
        verdicts.setdefault(r.line, []).append(r.verifier or 0)
    aurocs = [a for line, v in verdicts.items()
              if (a := rank_auroc(v, [s[0] for s in raw[line - 1]["pred_score"]])) is not None]
    correct = sum(sum(v) for v in verdicts.values())
    kinds = [("mixed" if 0 < sum(v) < len(v) else "correct" if sum(v) else "wrong") for v in verdicts.values()]
    assert aurocs, "the file has groups with both outcomes"

    html = page.read_text(encoding="utf-8")
    # The headline tiles, and the AUROC and strata tables, as the page prints them.
    assert f"<b>{statistics.fmean(aurocs):.3f}</b>mean AUROC" in html
    assert f"<b>{statistics.median(aurocs):.3f}</b>median AUROC" in html
    assert f"<b>{100 * len(aurocs) / len(verdicts):.1f}%</b>groups with both outcomes" in html
    assert f"<td>verified correct</td><td>{correct}</td>" in html
    assert f"<td>verified wrong</td><td>{800 - correct}</td>" in html
    for name, kind in (("all correct", "correct"), ("all wrong", "wrong"), ("both outcomes", "mixed")):
        assert f"<td>{name}</td><td>{kinds.count(kind)}</td>" in html
    # Self-contained: every figure inline, nothing fetched.
    assert len(re.findall(r'<img alt="" src="data:image/png;base64,', html)) == 5
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_score_logs_plain_lines_when_not_on_a_terminal(
    scored: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = scored
    copy = out.with_name("again.jsonl")
    copy.write_text("".join(out.read_text(encoding="utf-8").splitlines(keepends=True)[:-3]), encoding="utf-8")
    cli.main(["score", str(DATA), "-o", str(copy), *FIELDS, "--batch-groups", "32", "--verifier-workers", "2"])
    err = capsys.readouterr().err
    assert "resuming: 768 records kept, 4 of 100 groups to go" in err  # the last batch (groups 97-100) again
    assert "scored 4/4 groups (32 responses)" in err and "groups/s, ETA" in err
    assert copy.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
