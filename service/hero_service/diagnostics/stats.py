"""The arithmetic of the report: per-group AUROC, stratum counts, the parameter grid, disagreements.

Pure functions over scored records; no I/O, no plotting.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hero_service.diagnostics.records import ScoredRecord
from hero_service.hero import HeroParams, combine


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a random positive outscores a random negative), ties counting 1/2; None without both kinds.

    Pairwise on purpose: groups are small (8-64 responses), and the definition is then the code.
    """
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def group_auroc(verifier: Sequence[int], scores: Sequence[float | None]) -> float | None:
    """AUROC of the RM scores against the verifier outcomes of one group (unscored responses left out)."""
    pairs = [(v, s) for v, s in zip(verifier, scores, strict=True) if s is not None]
    return auroc([s for v, s in pairs if v == 1], [s for v, s in pairs if v == 0])


@dataclass(frozen=True, slots=True)
class ScoredGroup:
    """The scored records of one group, in response order."""

    records: tuple[ScoredRecord, ...]

    @property
    def key(self) -> str:
        return self.records[0].group

    @property
    def verifier(self) -> list[int]:
        return [r.verifier or 0 for r in self.records]

    @property
    def scores(self) -> list[float | None]:
        return [r.rm_score for r in self.records]

    @property
    def rewards(self) -> list[float]:
        return [r.reward or 0.0 for r in self.records]

    @property
    def first(self) -> ScoredRecord:
        return self.records[0]

    @property
    def auroc(self) -> float | None:
        return group_auroc(self.verifier, self.scores)


def scored_groups(records: Iterable[ScoredRecord]) -> list[ScoredGroup]:
    """The groups of a scored file: runs of ``ok`` records, each starting at index 0."""
    groups: list[list[ScoredRecord]] = []
    for record in records:
        if record.status != "ok":
            continue
        if record.index == 0 or not groups:
            groups.append([])
        groups[-1].append(record)
    return [ScoredGroup(tuple(g)) for g in groups]


@dataclass(frozen=True, slots=True)
class AurocSummary:
    """Per-group AUROC over the groups that have both outcomes (the only ones where it is defined)."""

    values: list[float]
    groups: int

    @property
    def mixed(self) -> int:
        return len(self.values)

    @property
    def share_mixed(self) -> float:
        return self.mixed / self.groups if self.groups else 0.0

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def share(self, low: float, high: float = 1.0) -> float | None:
        """Share of the mixed groups with ``low <= AUROC <= high``."""
        if not self.values:
            return None
        return sum(low <= v <= high for v in self.values) / len(self.values)


def auroc_summary(groups: Sequence[ScoredGroup]) -> AurocSummary:
    values = [a for g in groups if (a := g.auroc) is not None]
    return AurocSummary(values, len(groups))


@dataclass(frozen=True, slots=True)
class StratumCounts:
    """Responses per verifier stratum, and groups by the outcomes they contain."""

    correct: int
    wrong: int
    all_correct_groups: int
    all_wrong_groups: int
    mixed_groups: int


def stratum_counts(groups: Sequence[ScoredGroup]) -> StratumCounts:
    correct = sum(sum(g.verifier) for g in groups)
    total = sum(len(g.records) for g in groups)
    kinds = Counter("mixed" if 0 < sum(g.verifier) < len(g.records) else
                    "correct" if sum(g.verifier) else "wrong" for g in groups)
    return StratumCounts(correct, total - correct, kinds["correct"], kinds["wrong"], kinds["mixed"])


def status_counts(records: Iterable[ScoredRecord]) -> dict[str, int]:
    """Verifier statuses of the scored responses, plus ``line error`` for input lines not scored."""
    counts = Counter((r.verifier_status or "?") if r.status == "ok" else "line error" for r in records)
    return dict(counts.most_common())


@dataclass(frozen=True, slots=True)
class Agreement:
    """The verifier against labels carried in the input (another grader's verdicts)."""

    both_correct: int
    verifier_only: int
    label_only: int
    both_wrong: int

    @property
    def total(self) -> int:
        return self.both_correct + self.verifier_only + self.label_only + self.both_wrong

    @property
    def rate(self) -> float:
        return (self.both_correct + self.both_wrong) / self.total if self.total else 0.0


def label_agreement(groups: Sequence[ScoredGroup]) -> Agreement | None:
    pairs = [(r.verifier == 1, r.label) for g in groups for r in g.records if r.label is not None]
    if not pairs:
        return None
    counts = Counter(pairs)
    return Agreement(counts[(True, True)], counts[(True, False)], counts[(False, True)], counts[(False, False)])


@dataclass(frozen=True, slots=True)
class GridRow:
    """The rewards the file's groups would get under one (alpha = beta, k), at their recorded sigma_ref."""

    alpha: float
    k: float
    mean_weight: float
    mean_correct: float | None
    mean_wrong: float | None
    mean_change: float
    max_change: float


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def param_grid(
    groups: Sequence[ScoredGroup],
    alphas: Sequence[float] = (0.05, 0.1, 0.2),
    ks: Sequence[float] = (2.0, 6.0, 10.0),
) -> list[GridRow]:
    """HERO rewards recomputed for each (alpha = beta, k); changes are against the rewards as scored."""
    rows = []
    for alpha in alphas:
        for k in ks:
            weights: list[float] = []
            correct: list[float] = []
            wrong: list[float] = []
            changes: list[float] = []
            for group in groups:
                used = group.first.params
                if used is None or group.first.sigma_ref is None:
                    continue
                params = HeroParams(mode="hero", alpha=alpha, beta=alpha, eps=used.eps, singleton_z=used.singleton_z,
                                    w_min=used.w_min, w_max=used.w_max, k=k, weighting=used.weighting,
                                    dense=used.dense)
                result = combine(group.verifier, group.scores, params, group.first.sigma_ref)
                weights.append(result.weight)
                for v, new, old in zip(group.verifier, result.rewards, group.rewards, strict=True):
                    (correct if v else wrong).append(new)
                    changes.append(abs(new - old))
            rows.append(GridRow(alpha, k, _mean(weights) or 0.0, _mean(correct), _mean(wrong),
                                _mean(changes) or 0.0, max(changes, default=0.0)))
    return rows


def disagreements(
    groups: Sequence[ScoredGroup], n: int = 10
) -> tuple[list[ScoredRecord], list[ScoredRecord]]:
    """(verified wrong with the highest RM scores, verified right with the lowest), ``n`` of each."""
    scored = [r for g in groups for r in g.records if r.rm_score is not None]
    wrong = sorted((r for r in scored if r.verifier == 0), key=lambda r: -(r.rm_score or 0.0))
    right = sorted((r for r in scored if r.verifier == 1), key=lambda r: r.rm_score or 0.0)
    return wrong[:n], right[:n]
