"""What one scoring call is about, in the service's own types: the HTTP layer (``hero_service.api``)
translates the wire format into these and back, so nothing below it depends on the wire schemas."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hero_service.hero import HeroParams, Preset
from hero_service.reward_model.base import RMStatus
from hero_service.verifier.verdict import ExtractMode, VerifierPolicy, VerifierStatus

Compute = Literal["needed", "all"]
"""``needed``: only the signals the mode combines; ``all``: the verifier and the RM whatever the mode."""

DEFAULT_SESSION = "default"


@dataclass(frozen=True, slots=True)
class ScoringParams:
    """Everything a group is scored with: the math, its session, a pinned sigma_ref, how answers are
    extracted, the verifier policy and which signals run. Every part of a group must carry equal ones."""

    math: HeroParams
    preset: Preset
    session: str = DEFAULT_SESSION
    sigma_ref: float | None = None
    """Pinned sigma_ref (evaluation): used as is, and the session's running mean does not move."""
    extract: ExtractMode = "boxed_or_last"
    compute: Compute = "needed"
    verifier: VerifierPolicy = dataclasses.field(default_factory=VerifierPolicy)

    @property
    def runs_rm(self) -> bool:
        return self.math.mode != "verifier" or self.compute == "all"

    @property
    def runs_verifier(self) -> bool:
        return self.math.mode != "rm" or self.compute == "all"

    def flat(self) -> dict[str, Any]:
        """One flat JSON-able mapping (the names of the wire's resolved params): what parts of one group
        must agree on (without ``session``, which is part of the group's key) and what a record stores."""
        math = dataclasses.asdict(self.math)
        return {"mode": math.pop("mode"), "preset": self.preset, **math, "sigma_ref": self.sigma_ref,
                "session": self.session, "extract": self.extract, "compute": self.compute,
                "verifier": dataclasses.asdict(self.verifier)}

    def signature(self) -> dict[str, Any]:
        """What every part of one group must agree on."""
        flat = self.flat()
        del flat["session"]
        return flat

    @classmethod
    def from_flat(cls, data: dict[str, Any]) -> ScoringParams:
        names = {f.name for f in dataclasses.fields(HeroParams)}
        return cls(math=HeroParams(**{k: v for k, v in data.items() if k in names}), preset=data["preset"],
                   session=data["session"], sigma_ref=data["sigma_ref"], extract=data["extract"],
                   compute=data["compute"], verifier=VerifierPolicy(**data["verifier"]))


ChatPrompt = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class GroupEntry:
    """A rollout group, or one part of it when ``size`` exceeds the responses sent."""

    id: str | None
    prompt: str | ChatPrompt
    reference: str
    responses: Sequence[str]
    size: int
    part_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredGroup:
    """Rewards for the responses of one group entry, aligned with its responses."""

    id: str
    rewards: list[float]
    verifier: list[int]
    verifier_status: list[VerifierStatus]
    answers: list[str | None]
    rm_scores: list[float | None]
    rm_status: list[RMStatus]
    truncated: list[bool]
    normalized: list[float]
    weight: float
    sigma: float
    sigma_ref: float
    partial: bool
    group_size: int


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A scoring call's answer: one scored group per entry, in order, and the sigma_ref they used."""

    groups: list[ScoredGroup]
    sigma_ref: float | None
    params: ScoringParams
