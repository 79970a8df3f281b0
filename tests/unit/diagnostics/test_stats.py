"""The report's arithmetic: AUROC against hand-worked cases, strata, the grid, disagreements."""

from __future__ import annotations

import random

import pytest

from hero_client.schemas import ResolvedParams
from hero_service.diagnostics.records import ScoredRecord
from hero_service.diagnostics.stats import (
    StratumCounts,
    auroc,
    auroc_summary,
    disagreements,
    group_auroc,
    label_agreement,
    param_grid,
    scored_groups,
    status_counts,
    stratum_counts,
)
from hero_service.hero import HeroParams, combine

PARAMS = ResolvedParams(mode="hero", preset="paper-appendix", alpha=0.05, beta=0.05, eps=1e-6, singleton_z=0.0,
                        w_min=0.4, w_max=3.0, k=6.0, weighting=True, dense="both", blend_lambda=0.5,
                        sigma_ref=None, session="default", extract="boxed_or_last")


def make_group(key: str, verifier: list[int], scores: list[float | None], *, line: int = 1,
               sigma_ref: float = 1.0, labels: list[bool | None] | None = None) -> list[ScoredRecord]:
    """Records as ``score`` writes them, with rewards from the real math."""
    reward = combine(verifier, scores, HeroParams(), sigma_ref)
    labels = labels or [None] * len(verifier)
    return [
        ScoredRecord(line=line, group=key, index=i, batch=0, status="ok", verifier=v, verifier_status="ok",
                     rm_score=s, rm_status="ok" if s is not None else "error", reward=reward.rewards[i],
                     normalized=reward.normalized[i], weight=reward.weight, sigma=reward.sigma, sigma_ref=sigma_ref,
                     params=PARAMS, label=labels[i], answer=str(i))
        for i, (v, s) in enumerate(zip(verifier, scores, strict=True))
    ]


def test_auroc_of_a_hand_worked_case() -> None:
    # Pairs (pos, neg): (3,2) win, (3,0) win, (1,2) loss, (1,0) win, (2,2) tie, (2,0) win -> 4.5 / 6.
    assert auroc([3.0, 1.0, 2.0], [2.0, 0.0]) == pytest.approx(0.75)


def test_auroc_extremes_and_ties() -> None:
    assert auroc([5.0, 4.0], [1.0, 2.0]) == 1.0
    assert auroc([1.0], [2.0, 3.0]) == 0.0
    assert auroc([1.0, 1.0], [1.0]) == 0.5


def test_auroc_is_undefined_without_both_outcomes() -> None:
    assert auroc([1.0, 2.0], []) is None
    assert group_auroc([1, 1, 1], [0.1, 0.2, 0.3]) is None


def test_group_auroc_leaves_unscored_responses_out() -> None:
    # Without the None, the lone wrong response's 0.0 would be the only negative: 2 wins of 2.
    assert group_auroc([1, 1, 0, 0], [2.0, 3.0, 0.0, None]) == 1.0
    assert group_auroc([1, 0, 0], [None, 0.0, 1.0]) is None


def test_auroc_agrees_with_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 16)
        labels = [rng.randint(0, 1) for _ in range(n)]
        if len(set(labels)) < 2:
            continue
        scores = [float(rng.randint(-3, 3)) for _ in range(n)]  # small range: plenty of ties
        assert group_auroc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores))


def test_summary_and_strata_of_a_small_file() -> None:
    records = (make_group("a", [1, 1, 0, 0], [3.0, 1.0, 2.0, 0.0], line=1)  # AUROC 0.75
               + make_group("b", [1, 0], [0.0, 1.0], line=2)                 # AUROC 0.0
               + make_group("c", [1, 1], [1.0, 2.0], line=3)                 # all correct
               + make_group("d", [0, 0, 0], [1.0, 2.0, 3.0], line=4)         # all wrong
               + [ScoredRecord(line=5, group="line-5", index=None, batch=0, status="error", error="bad")])
    groups = scored_groups(records)
    assert [g.key for g in groups] == ["a", "b", "c", "d"]
    summary = auroc_summary(groups)
    assert summary.values == pytest.approx([0.75, 0.0])
    assert (summary.groups, summary.mixed, summary.share_mixed) == (4, 2, 0.5)
    assert summary.mean == pytest.approx(0.375)
    assert summary.median == pytest.approx(0.375)
    assert summary.share(0.7) == 0.5
    assert stratum_counts(groups) == StratumCounts(correct=5, wrong=6, all_correct_groups=1, all_wrong_groups=1,
                                                   mixed_groups=2)
    assert status_counts(records) == {"ok": 11, "line error": 1}


def test_groups_with_a_repeated_key_stay_apart() -> None:
    records = make_group("same", [1, 0], [1.0, 0.0], line=1) + make_group("same", [1, 0], [0.0, 1.0], line=2)
    assert [g.auroc for g in scored_groups(records)] == [1.0, 0.0]


def test_label_agreement_counts_each_cell() -> None:
    groups = scored_groups(make_group("a", [1, 1, 0, 0], [1.0, 2.0, 3.0, 4.0], labels=[True, False, True, None]))
    agreement = label_agreement(groups)
    assert agreement is not None
    assert (agreement.both_correct, agreement.verifier_only, agreement.label_only, agreement.both_wrong) == (1, 1, 1, 0)
    assert agreement.rate == pytest.approx(1 / 3)
    assert label_agreement(scored_groups(make_group("b", [1], [1.0]))) is None


def test_grid_reproduces_the_scored_rewards_at_the_params_used() -> None:
    groups = scored_groups(make_group("a", [1, 1, 0, 0], [3.0, 1.0, 2.0, 0.0], sigma_ref=0.5)
                           + make_group("b", [1, 0, 0], [0.2, 0.1, 0.4], sigma_ref=0.5, line=2))
    rows = {(r.alpha, r.k): r for r in param_grid(groups, alphas=(0.05, 0.2), ks=(6.0, 2.0))}
    assert rows[(0.05, 6.0)].max_change == pytest.approx(0.0, abs=1e-12)
    wider = rows[(0.2, 6.0)]
    assert wider.max_change > 0
    # The weight does not depend on alpha; k moves it.
    assert wider.mean_weight == pytest.approx(rows[(0.05, 6.0)].mean_weight)
    assert rows[(0.05, 2.0)].mean_weight != pytest.approx(rows[(0.05, 6.0)].mean_weight)
    assert wider.mean_wrong is not None and wider.mean_correct is not None
    assert wider.mean_wrong < 0.5 < wider.mean_correct


def test_disagreements_rank_across_groups() -> None:
    groups = scored_groups(make_group("a", [1, 0, 0], [0.5, 4.0, 1.0])
                           + make_group("b", [1, 1, 0], [-2.0, 3.0, 2.0], line=2))
    top_wrong, bottom_right = disagreements(groups, n=2)
    assert [(r.group, r.rm_score) for r in top_wrong] == [("a", 4.0), ("b", 2.0)]
    assert [(r.group, r.rm_score) for r in bottom_right] == [("b", -2.0), ("a", 0.5)]
