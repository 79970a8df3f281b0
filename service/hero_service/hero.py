"""HERO's reward math: stratified normalization (Eq. 3), the variance-aware weight (Eq. 4-5), the
baseline modes, and the running sigma_ref per session. Pure functions and plain state, no I/O.

For a group with verifier outcomes v_i in {0, 1} and raw RM scores s_i::

    z_i   = (s_i - min) / (max - min + eps)        min/max over the responses with the same v
                                                 (a stratum of one, or with max - min <= eps: z = singleton_z)
    r_i   = -alpha + 2 alpha z_i                    if v_i = 0   (band [-alpha, alpha])
    r_i   = (1 - beta) + 2 beta z_i                 if v_i = 1   (band [1 - beta, 1 + beta])
    w     = w_min + (w_max - w_min) * sigmoid(k (sigma_u - sigma_ref))
    final = w * r_i

sigma_u is the population std (ddof=0) of the raw scores over the whole group; sigma_ref is a running
mean of sigma_u over completed groups (an EMA per session).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from hero_service.errors import ParamsError

Mode = Literal["hero", "verifier", "rm", "blend"]
Dense = Literal["both", "negative", "positive", "none"]
Preset = Literal["paper-appendix", "paper-main-text"]

PRESETS: MappingProxyType[str, tuple[float, float, float]] = MappingProxyType(
    {
        # Appendix A.1 of arXiv 2510.07242: the values the paper's runs used.
        "paper-appendix": (0.4, 3.0, 6.0),
        # Section 3.2's "unless otherwise stated" values, which disagree with the appendix.
        "paper-main-text": (0.5, 2.0, 5.0),
    }
)
"""(w_min, w_max, k) for each weighting preset."""


def _same(name: str) -> str:
    return name


def check_bands(alpha: float, beta: float, name: Callable[[str], str] = _same) -> None:
    """The bands' one rule: alpha + beta < 1. ``name`` spells a parameter as the caller knows it (a
    request field, or a HERO_ variable)."""
    if alpha + beta >= 1:
        raise ParamsError(
            "beta",
            f"{name('alpha')} + {name('beta')} must be < 1 (got {alpha} + {beta}): "
            "otherwise the top of the wrong-answer band reaches the bottom of the right-answer band "
            "and a wrong answer can outrank a right one",
        )


def check_weights(w_min: float, w_max: float, name: Callable[[str], str] = _same) -> None:
    """The weight range's rule: w_min <= w_max."""
    if w_min > w_max:
        raise ParamsError("w_max", f"{name('w_min')} ({w_min}) must be <= {name('w_max')} ({w_max})")


@dataclass(frozen=True, slots=True)
class HeroParams:
    """Fully resolved reward parameters. Construction validates them."""

    mode: Mode = "hero"
    alpha: float = 0.05
    beta: float = 0.05
    eps: float = 1e-6
    singleton_z: float = 0.0
    w_min: float = 0.4
    w_max: float = 3.0
    k: float = 6.0
    weighting: bool = True
    dense: Dense = "both"
    blend_lambda: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ParamsError("alpha", f"alpha must be in (0, 1], got {self.alpha}")
        if not 0 < self.beta <= 1:
            raise ParamsError("beta", f"beta must be in (0, 1], got {self.beta}")
        check_bands(self.alpha, self.beta)
        if self.eps <= 0:
            raise ParamsError("eps", f"eps must be > 0, got {self.eps}")
        if not 0 <= self.singleton_z <= 1:
            raise ParamsError("singleton_z", f"singleton_z must be in [0, 1], got {self.singleton_z}")
        if self.w_min <= 0:
            raise ParamsError("w_min", f"w_min must be > 0 so rewards keep their order, got {self.w_min}")
        check_weights(self.w_min, self.w_max)
        if self.k <= 0:
            raise ParamsError("k", f"k must be > 0, got {self.k}")
        if not 0 <= self.blend_lambda <= 1:
            raise ParamsError("blend_lambda", f"blend_lambda must be in [0, 1], got {self.blend_lambda}")


@dataclass(frozen=True, slots=True)
class GroupReward:
    """The combined rewards of one group, aligned with its responses."""

    rewards: tuple[float, ...]
    normalized: tuple[float, ...]
    """r-hat before weighting (Eq. 3), or the mode's unweighted reward."""
    weight: float
    sigma: float
    """sigma_u: population std of the group's raw RM scores."""


def min_max(scores: Sequence[float], eps: float, singleton_z: float) -> list[float]:
    """z in [0, 1) per score; a set with one member or no spread gets ``singleton_z``.

    Scores within ``eps`` of each other count as tied: below that, whether two floats differ is
    rounding noise (adding a constant can merge them), and ties must not flip to ``singleton_z``.
    """
    if len(scores) < 2:
        return [singleton_z] * len(scores)
    low, high = min(scores), max(scores)
    spread = high - low
    if spread <= eps:
        return [singleton_z] * len(scores)
    return [(s - low) / (spread + eps) for s in scores]


def group_sigma(scores: Sequence[float | None]) -> float:
    """Population standard deviation (ddof=0) of the known scores; 0 with fewer than two."""
    known = [s for s in scores if s is not None]
    if len(known) < 2:
        return 0.0
    mean = math.fsum(known) / len(known)
    return math.sqrt(math.fsum((s - mean) ** 2 for s in known) / len(known))


def variance_weight(sigma: float, sigma_ref: float, w_min: float, w_max: float, k: float) -> float:
    """Eq. 4: a bounded, monotone weight that grows with the group's RM disagreement."""
    x = k * (sigma - sigma_ref)
    # Two branches keep exp() from overflowing for large |x|.
    if x >= 0:
        sig = 1.0 / (1.0 + math.exp(-x))
    else:
        e = math.exp(x)
        sig = e / (1.0 + e)
    return w_min + (w_max - w_min) * sig


def _z_by_index(
    indices: Sequence[int], scores: Sequence[float | None], params: HeroParams
) -> dict[int, float]:
    """min-max z of the scored responses among ``indices``, keyed by index."""
    pairs = [(i, s) for i in indices if (s := scores[i]) is not None]
    zs = min_max([s for _, s in pairs], params.eps, params.singleton_z)
    return {i: z for (i, _), z in zip(pairs, zs, strict=True)}


def stratified_normalize(
    verifier: Sequence[int], scores: Sequence[float | None], params: HeroParams
) -> list[float]:
    """Eq. 3: min-max within each verifier stratum, mapped into that stratum's band.

    A response without an RM score sits at ``singleton_z`` in its band and does not move the others.
    """
    out = [0.0] * len(verifier)
    for outcome in (0, 1):
        members = [i for i, v in enumerate(verifier) if v == outcome]
        z = _z_by_index(members, scores, params)
        dense = params.dense == "both" or params.dense == ("negative" if outcome == 0 else "positive")
        for i in members:
            if not dense:
                out[i] = float(outcome)
            elif outcome == 0:
                out[i] = -params.alpha + 2 * params.alpha * z.get(i, params.singleton_z)
            else:
                out[i] = (1 - params.beta) + 2 * params.beta * z.get(i, params.singleton_z)
    return out


def combine(
    verifier: Sequence[int], scores: Sequence[float | None], params: HeroParams, sigma_ref: float
) -> GroupReward:
    """The reward of every response of one group under ``params.mode``."""
    if len(verifier) != len(scores):
        raise ValueError(f"{len(verifier)} verifier outcomes for {len(scores)} scores")
    sigma = group_sigma(scores)
    normalized: list[float]
    weight = 1.0
    if params.mode == "hero":
        normalized = stratified_normalize(verifier, scores, params)
        if params.weighting:
            weight = variance_weight(sigma, sigma_ref, params.w_min, params.w_max, params.k)
        rewards = [weight * r for r in normalized]
    elif params.mode == "verifier":
        normalized = [float(v) for v in verifier]
        rewards = list(normalized)
    elif params.mode == "rm":
        normalized = [s if s is not None else 0.0 for s in scores]
        rewards = list(normalized)
    else:  # blend: lambda * v + (1 - lambda) * group-min-max-normalized s
        z = _z_by_index(range(len(scores)), scores, params)
        lam = params.blend_lambda
        normalized = [lam * v + (1 - lam) * z.get(i, params.singleton_z) for i, v in enumerate(verifier)]
        rewards = list(normalized)
    return GroupReward(tuple(rewards), tuple(normalized), weight, sigma)


@dataclass(slots=True)
class _Running:
    value: float
    groups: int


class SigmaTracker:
    """The running mean of sigma_u (sigma_ref) per session: an EMA over completed groups.

    The first groups of a session warm-start it with their mean; afterwards each completed group
    moves it by ``1 - momentum``. Callers resolve one value for everything they combine together
    (one request) and observe the groups afterwards, so sigma_ref is frozen while they are scored.
    """

    def __init__(self, momentum: float, max_sessions: int = 1024,
                 on_evict: Callable[[str], None] | None = None) -> None:
        """``on_evict(session)`` is called for each session dropped to stay within ``max_sessions``, so
        whatever is kept per session elsewhere (a metric series) goes with it."""
        if not 0 < momentum < 1:
            raise ValueError(f"momentum must be in (0, 1), got {momentum}")
        self._momentum = momentum
        self._max_sessions = max_sessions
        self._on_evict = on_evict
        self._sessions: OrderedDict[str, _Running] = OrderedDict()

    def current(self, session: str) -> float | None:
        running = self._sessions.get(session)
        return None if running is None else running.value

    def resolve(self, session: str, sigmas: Sequence[float]) -> float:
        """sigma_ref for groups about to be combined: the running value, or their mean to start."""
        current = self.current(session)
        if current is not None:
            return current
        return math.fsum(sigmas) / len(sigmas) if sigmas else 0.0

    def observe(self, session: str, sigmas: Sequence[float]) -> None:
        """Fold completed groups into the running mean."""
        if not sigmas:
            return
        running = self._sessions.get(session)
        if running is None:
            running = _Running(math.fsum(sigmas) / len(sigmas), len(sigmas))
            self._sessions[session] = running
        else:
            for sigma in sigmas:
                running.value = self._momentum * running.value + (1 - self._momentum) * sigma
            running.groups += len(sigmas)
        self._sessions.move_to_end(session)
        # Session names come from clients: bound them so a stream of new names cannot grow memory.
        while len(self._sessions) > self._max_sessions:
            evicted, _ = self._sessions.popitem(last=False)
            if self._on_evict is not None:
                self._on_evict(evicted)

    def snapshot(self) -> dict[str, float]:
        return {name: running.value for name, running in self._sessions.items()}
