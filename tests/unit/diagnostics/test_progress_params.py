"""Progress arithmetic and output, the --params parser, and the file-scores RM."""

from __future__ import annotations

import io

import pytest

from hero_service.diagnostics.offline import FileScoresRM, parse_params
from hero_service.diagnostics.progress import LineLog, Meter
from hero_service.reward_model.base import RMItem


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_meter_rate_and_eta() -> None:
    clock = FakeClock()
    meter = Meter(total=100, clock=clock)
    assert meter.eta is None
    clock.now += 10
    meter.advance(25, 200)
    assert meter.rate == pytest.approx(2.5)
    assert meter.eta == pytest.approx(30.0)
    assert meter.line() == "scored 25/100 groups (200 responses) in 0:00:10, 2.50 groups/s, ETA 0:00:30"


def test_line_log_is_throttled_but_always_prints_the_end() -> None:
    clock, out = FakeClock(), io.StringIO()
    log = LineLog(Meter(total=4, clock=clock), out, interval=5.0)
    for _ in range(3):
        clock.now += 1
        log.advance(1, 8)
    clock.now += 1
    log.advance(1, 8)
    printed = out.getvalue().splitlines()
    assert [p.split(" groups")[0] for p in printed] == ["scored 1/4", "scored 4/4"]


def test_params_from_pairs_and_json() -> None:
    params = parse_params(["alpha=0.1", "mode=hero", '{"k": 4, "weighting": false}', "sigma_ref=1.5"])
    assert (params.alpha, params.mode, params.k, params.weighting, params.sigma_ref) == (0.1, "hero", 4, False, 1.5)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_params(["alpha"])
    with pytest.raises(ValueError, match=r"--params alpha=7: .*less than or equal to 1"):
        parse_params(["alpha=7"])
    with pytest.raises(ValueError, match="unknown parameter 'colour'"):
        parse_params(["colour=blue"])


def test_a_misspelt_param_names_the_one_meant() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter 'alpa' \(did you mean 'alpha'\?\)"):
        parse_params(["alpa=0.1"])
    with pytest.raises(ValueError, match=r"'singelton_z' \(did you mean 'singleton_z'\?\)"):
        parse_params(['{"singelton_z": 0.5}'])
    with pytest.raises(ValueError, match="not a JSON object"):
        parse_params(["{alpha: 1}"])


def test_the_line_counts_failed_groups_apart_from_scored_ones() -> None:
    clock = FakeClock()
    meter = Meter(total=5, clock=clock)
    clock.now += 1
    meter.advance(5, 0, failed=5)
    assert meter.line().startswith("scored 0/5 groups (0 responses), 5 failed in ")


async def test_file_scores_rm_hands_out_scores_in_order_per_item() -> None:
    rm = FileScoresRM("pred_score")
    same = RMItem("p", "same answer", "1")
    other = RMItem([{"role": "user", "content": "p"}], "x", "1")
    rm.expect([same, same, other], [1.0, 2.0, 3.0])
    assert [s.score for s in await rm.score([other, same])] == [3.0, 1.0]
    scores = await rm.score([same, same])
    assert [(s.score, s.status) for s in scores] == [(2.0, "ok"), (None, "error")]  # nothing left for the 2nd
    assert rm.info.model_id == "file:pred_score" and rm.info.kind == "precomputed"
