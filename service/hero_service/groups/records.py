"""What a group store holds: a part's raw results and parameters, a closed group's rewards, and their
JSON codecs for the shared (Redis) store."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hero_service.groups.store import Codec
from hero_service.hero import GroupReward
from hero_service.reward_model.base import RMScore
from hero_service.scoring import ScoringParams
from hero_service.verifier.verdict import Verdict


@dataclass(frozen=True, slots=True)
class RawResults:
    """What the verifier and the RM said about the responses of one group entry."""

    verdicts: tuple[Verdict, ...]
    rm: tuple[RMScore, ...]

    def __add__(self, other: RawResults) -> RawResults:
        return RawResults(self.verdicts + other.verdicts, self.rm + other.rm)

    @property
    def rm_skipped(self) -> bool:
        """No RM ran for this group: it has no spread to fold into the session's sigma_ref."""
        return all(s.status == "skipped" for s in self.rm)


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a group as the store keeps it until the group closes."""

    raw: RawResults
    params: ScoringParams


@dataclass(frozen=True, slots=True)
class Combined:
    """A scored group: its raw results, its rewards and the sigma_ref they used."""

    raw: RawResults
    reward: GroupReward
    sigma_ref: float


def merge(parts: Sequence[Part]) -> tuple[RawResults, ScoringParams]:
    """The parts' raw results in order, and their params (every part of a group carries the same: the
    store refuses others, so the first's decide)."""
    raw = parts[0].raw
    for part in parts[1:]:
        raw = raw + part.raw
    return raw, parts[0].params


def _dump_raw(raw: RawResults) -> dict[str, Any]:
    return {"verdicts": [dataclasses.asdict(v) for v in raw.verdicts],
            "rm": [dataclasses.asdict(s) for s in raw.rm]}


def _load_raw(data: dict[str, Any]) -> RawResults:
    return RawResults(tuple(Verdict(**v) for v in data["verdicts"]), tuple(RMScore(**s) for s in data["rm"]))


def dump_part(part: Part) -> dict[str, Any]:
    return {"raw": _dump_raw(part.raw), "params": part.params.flat()}


def load_part(data: dict[str, Any]) -> Part:
    return Part(_load_raw(data["raw"]), ScoringParams.from_flat(data["params"]))


def dump_combined(combined: Combined) -> dict[str, Any]:
    return {"raw": _dump_raw(combined.raw), "reward": dataclasses.asdict(combined.reward),
            "sigma_ref": combined.sigma_ref}


def load_combined(data: dict[str, Any]) -> Combined:
    r = data["reward"]
    reward = GroupReward(tuple(r["rewards"]), tuple(r["normalized"]), r["weight"], r["sigma"])
    return Combined(_load_raw(data["raw"]), reward, data["sigma_ref"])


CODEC: Codec[Part, Combined] = Codec(dump_part, load_part, dump_combined, load_combined)
"""The JSON codec of the shared store's records."""
