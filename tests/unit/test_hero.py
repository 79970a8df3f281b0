"""The reward math against hand-computed values (paper Eq. 3-5) and its invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hero_service.hero import (
    HeroParams,
    ParamsError,
    SigmaTracker,
    combine,
    group_sigma,
    min_max,
    variance_weight,
)

APPROX = {"rel": 1e-12, "abs": 1e-12}


def test_mixed_group_matches_hand_computation() -> None:
    # v = [1, 1, 0, 0], s = [2, 4, 1, 3]; alpha = beta = 0.05, eps = 1e-6.
    # Correct stratum {2, 4}: z = 0 and 2 / (2 + 1e-6) -> r = 0.95 and 0.95 + 0.1 * 0.9999995.
    # Wrong stratum {1, 3}: z = 0 and 0.9999995 -> r = -0.05 and -0.05 + 0.1 * 0.9999995.
    # sigma_u = std([2, 4, 1, 3], ddof=0) = sqrt(1.25) = 1.118033988749895.
    # w = 0.4 + 2.6 * sigmoid(6 * (1.118033988749895 - 1.0)) = 0.4 + 2.6 * 0.6700041731551164.
    result = combine([1, 1, 0, 0], [2.0, 4.0, 1.0, 3.0], HeroParams(), sigma_ref=1.0)
    assert result.sigma == pytest.approx(1.118033988749895, **APPROX)
    assert result.weight == pytest.approx(2.142010850203303, **APPROX)
    assert result.normalized == pytest.approx([0.95, 1.04999995, -0.05, 0.04999995], **APPROX)
    assert result.rewards == pytest.approx(
        [2.0349103076931376, 2.249111285612979, -0.10710054251016515, 0.10710043540967618], **APPROX
    )


def test_all_correct_group_fills_the_right_answer_band() -> None:
    # s = [1, 2, 3]: z = 0, 1/2.000001, 2/2.000001; sigma_u = sqrt(2/3); sigma_ref 0.5.
    result = combine([1, 1, 1], [1.0, 2.0, 3.0], HeroParams(), sigma_ref=0.5)
    assert result.normalized == pytest.approx([0.95, 0.9999999750000125, 1.04999995], **APPROX)
    assert result.sigma == pytest.approx(math.sqrt(2 / 3), **APPROX)
    assert result.weight == pytest.approx(2.6614175478510265, **APPROX)


def test_all_wrong_group_fills_the_wrong_answer_band() -> None:
    result = combine([0, 0, 0], [5.0, -5.0, 0.0], HeroParams(alpha=0.1, beta=0.1, weighting=False),
                     sigma_ref=0.0)
    # min -5, max 5: z = 10/(10+1e-6), 0, 5/(10+1e-6); band [-0.1, 0.1].
    assert result.normalized == pytest.approx(
        [-0.1 + 0.2 * 10 / 10.000001, -0.1, -0.1 + 0.2 * 5 / 10.000001], **APPROX)
    assert result.weight == 1.0
    assert result.rewards == result.normalized


@pytest.mark.parametrize(("singleton_z", "expected"), [(0.0, [0.95, -0.05]), (0.5, [1.0, 0.0])])
def test_singleton_strata_take_singleton_z(singleton_z: float, expected: list[float]) -> None:
    result = combine([1, 0], [3.0, 1.0], HeroParams(singleton_z=singleton_z, weighting=False), 0.0)
    assert result.normalized == pytest.approx(expected, **APPROX)


def test_tied_scores_take_singleton_z() -> None:
    result = combine([1, 1], [2.0, 2.0], HeroParams(singleton_z=0.5, weighting=False), 0.0)
    assert result.normalized == pytest.approx([1.0, 1.0], **APPROX)
    assert result.sigma == 0.0
    # Within eps is a tie too: float noise must not decide between tie and spread.
    near = combine([1, 1], [2.0, 2.0 + 1e-9], HeroParams(singleton_z=0.5, weighting=False), 0.0)
    assert near.normalized == pytest.approx([1.0, 1.0], **APPROX)


def test_weight_is_the_sigmoid_of_sigma_minus_reference() -> None:
    assert variance_weight(0.3, 0.3, 0.4, 3.0, 6.0) == pytest.approx(1.7, **APPROX)
    assert variance_weight(1e6, 0.0, 0.4, 3.0, 6.0) == pytest.approx(3.0, **APPROX)
    assert variance_weight(-1e6, 0.0, 0.4, 3.0, 6.0) == pytest.approx(0.4, **APPROX)


@pytest.mark.parametrize(
    ("dense", "expected"),
    [
        ("both", [0.95, 1.04999995, -0.05, 0.04999995]),
        ("negative", [1.0, 1.0, -0.05, 0.04999995]),
        ("positive", [0.95, 1.04999995, 0.0, 0.0]),
        ("none", [1.0, 1.0, 0.0, 0.0]),
    ],
)
def test_dense_switch_selects_which_strata_get_bands(dense: str, expected: list[float]) -> None:
    params = HeroParams(dense=dense, weighting=False)  # type: ignore[arg-type]
    result = combine([1, 1, 0, 0], [2.0, 4.0, 1.0, 3.0], params, 0.0)
    assert result.normalized == pytest.approx(expected, **APPROX)


def test_baseline_modes() -> None:
    v, s = [1, 0, 1], [3.0, 1.0, 2.0]
    assert combine(v, s, HeroParams(mode="verifier"), 9.0).rewards == (1.0, 0.0, 1.0)
    assert combine(v, s, HeroParams(mode="rm"), 9.0).rewards == (3.0, 1.0, 2.0)
    blend = combine(v, s, HeroParams(mode="blend", blend_lambda=0.25), 9.0)
    # group-wide z = (s - 1) / (2 + 1e-6)
    assert blend.rewards == pytest.approx(
        [0.25 + 0.75 * 2 / 2.000001, 0.0, 0.25 + 0.75 * 1 / 2.000001], **APPROX)


def test_missing_rm_score_sits_at_singleton_z_and_is_left_out_of_sigma() -> None:
    result = combine([1, 1, 1], [1.0, None, 3.0], HeroParams(weighting=False), 0.0)
    assert result.normalized[1] == pytest.approx(0.95, **APPROX)
    assert result.normalized[2] == pytest.approx(0.95 + 0.1 * 2 / 2.000001, **APPROX)
    assert result.sigma == pytest.approx(1.0, **APPROX)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"alpha": 0.5, "beta": 0.5}, "beta"), ({"w_min": 2.0, "w_max": 1.0}, "w_max"),
     ({"w_min": 0.0}, "w_min"), ({"k": 0.0}, "k"), ({"eps": 0.0}, "eps")],
)
def test_invalid_params_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ParamsError) as info:
        HeroParams(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_population_std() -> None:
    assert group_sigma([1.0, 3.0]) == 1.0
    assert group_sigma([7.0]) == 0.0
    assert min_max([5.0], 1e-6, 0.25) == [0.25]


class TestSigmaTracker:
    def test_warm_start_then_ema(self) -> None:
        tracker = SigmaTracker(momentum=0.9)
        assert tracker.current("s") is None
        assert tracker.resolve("s", [1.0, 3.0]) == 2.0
        tracker.observe("s", [1.0, 3.0])
        assert tracker.current("s") == 2.0
        assert tracker.resolve("s", [100.0]) == 2.0
        tracker.observe("s", [4.0])
        assert tracker.current("s") == pytest.approx(0.9 * 2.0 + 0.1 * 4.0)

    def test_sessions_are_independent_and_bounded(self) -> None:
        tracker = SigmaTracker(momentum=0.5, max_sessions=2)
        tracker.observe("a", [1.0])
        tracker.observe("b", [2.0])
        tracker.observe("c", [3.0])
        assert tracker.current("a") is None
        assert tracker.snapshot() == {"b": 2.0, "c": 3.0}

    def test_eviction_is_reported_with_the_session(self) -> None:
        evicted: list[str] = []
        tracker = SigmaTracker(momentum=0.5, max_sessions=2, on_evict=evicted.append)
        for name in "abac":  # "a" used again, so "b" is the least recent when "c" arrives
            tracker.observe(name, [1.0])
        assert evicted == ["b"]
        assert set(tracker.snapshot()) == {"a", "c"}

    def test_default_momentum_decays_like_the_paper_step(self) -> None:
        from hero_service.settings import Settings

        assert Settings().sigma_momentum ** 512 == pytest.approx(0.9)


# ---- properties -----------------------------------------------------------------------------------

scores_st = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)
params_st = st.builds(
    HeroParams,
    alpha=st.floats(0.01, 0.45),
    beta=st.floats(0.01, 0.45),
    singleton_z=st.sampled_from([0.0, 0.5, 1.0]),
    w_min=st.floats(0.1, 1.0),
    w_max=st.floats(1.0, 4.0),
    k=st.floats(0.5, 10.0),
)


@st.composite
def groups(draw: st.DrawFn, min_size: int = 1) -> tuple[list[int], list[float]]:
    n = draw(st.integers(min_size, 16))
    verifier = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    scores = draw(st.lists(scores_st, min_size=n, max_size=n))
    return verifier, scores


@given(groups(), params_st, st.floats(0, 20))
def test_every_reward_lies_in_its_band_times_w(
    group: tuple[list[int], list[float]], params: HeroParams, sigma_ref: float
) -> None:
    verifier, scores = group
    result = combine(verifier, scores, params, sigma_ref)
    w = result.weight
    assert params.w_min - 1e-9 <= w <= params.w_max + 1e-9
    for v, r in zip(verifier, result.rewards, strict=True):
        low, high = (1 - params.beta, 1 + params.beta) if v else (-params.alpha, params.alpha)
        assert w * low - 1e-9 <= r <= w * high + 1e-9


@given(groups(min_size=2), params_st, st.floats(0, 20))
def test_a_verified_answer_always_outranks_a_wrong_one(
    group: tuple[list[int], list[float]], params: HeroParams, sigma_ref: float
) -> None:
    verifier, scores = group
    result = combine(verifier, scores, params, sigma_ref)
    right = [r for v, r in zip(verifier, result.rewards, strict=True) if v]
    wrong = [r for v, r in zip(verifier, result.rewards, strict=True) if not v]
    if right and wrong:
        assert min(right) > max(wrong)


@given(groups(min_size=2), st.floats(0.01, 100), st.floats(-100, 100))
def test_normalized_is_invariant_to_positive_affine_maps(
    group: tuple[list[int], list[float]], scale: float, shift: float
) -> None:
    verifier, scores = group
    mapped = [scale * s + shift for s in scores]
    # eps makes the invariance approximate: z moves by at most about eps / spread.
    spreads = [max(st_) - min(st_) for values in (scores, mapped) for outcome in (0, 1)
               if len(st_ := [s for v, s in zip(verifier, values, strict=True) if v == outcome]) > 1]
    assume(all(spread > 1e-3 for spread in spreads))
    params = HeroParams()
    tolerance = 2 * params.alpha * params.eps / min(spreads, default=1.0) * 2
    before = combine(verifier, scores, params, 1.0).normalized
    after = combine(verifier, mapped, params, 1.0).normalized
    assert after == pytest.approx(before, abs=tolerance + 1e-12)


@given(groups(), st.floats(-100, 100), params_st)
def test_rewards_are_invariant_to_a_constant_shift(
    group: tuple[list[int], list[float]], shift: float, params: HeroParams
) -> None:
    verifier, scores = group
    # At a spread of exactly eps a group is on the tie threshold, where rounding may tip it either way.
    for values in (scores, [s + shift for s in scores]):
        for outcome in (0, 1):
            stratum = [s for v, s in zip(verifier, values, strict=True) if v == outcome]
            assume(len(stratum) < 2 or abs(max(stratum) - min(stratum) - params.eps) > 1e-9)
    before = combine(verifier, scores, params, 0.7).rewards
    after = combine(verifier, [s + shift for s in scores], params, 0.7).rewards
    assert after == pytest.approx(before, abs=1e-6)


@given(groups(), st.randoms(use_true_random=False), params_st)
def test_permuting_a_group_permutes_its_rewards(
    group: tuple[list[int], list[float]], rng: object, params: HeroParams
) -> None:
    verifier, scores = group
    order = list(range(len(verifier)))
    rng.shuffle(order)  # type: ignore[attr-defined]
    base = combine(verifier, scores, params, 0.5).rewards
    permuted = combine([verifier[i] for i in order], [scores[i] for i in order], params, 0.5).rewards
    assert list(permuted) == pytest.approx([base[i] for i in order], abs=1e-12)
