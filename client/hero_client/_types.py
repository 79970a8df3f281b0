"""Result types that the client builds from the wire format."""

from __future__ import annotations

from dataclasses import dataclass

from hero_client.schemas import GroupOut, RMStatus, VerifierStatus

__all__ = ["ScoredResponse"]

# A verifier that gave up (deadline, crash) or an RM that failed has said nothing about the response;
# "no_answer" and "unparsable" are verdicts (the response is wrong), so they still count as graded;
# "skipped" is a signal the request's mode does not use.
_UNGRADED_VERIFIER: frozenset[str] = frozenset({"timeout", "error"})


@dataclass(frozen=True, slots=True)
class ScoredResponse:
    """The reward of one response and how it came about."""

    reward: float
    verifier: int
    verifier_status: VerifierStatus
    answer: str | None
    rm_score: float | None
    rm_status: RMStatus
    truncated: bool
    normalized: float
    weight: float
    sigma: float
    sigma_ref: float
    partial: bool
    group_id: str
    group_size: int

    @property
    def graded(self) -> bool:
        """False when the verifier or the RM failed on this response, so its reward is a stand-in."""
        return self.verifier_status not in _UNGRADED_VERIFIER and self.rm_status in ("ok", "skipped")

    @classmethod
    def from_group(cls, group: GroupOut, index: int) -> ScoredResponse:
        """The ``index``-th response of a scored group entry."""
        return cls(
            reward=group.rewards[index],
            verifier=group.verifier[index],
            verifier_status=group.verifier_status[index],
            answer=group.answers[index],
            rm_score=group.rm_scores[index],
            rm_status=group.rm_status[index],
            truncated=group.truncated[index],
            normalized=group.normalized[index],
            weight=group.weight,
            sigma=group.sigma,
            sigma_ref=group.sigma_ref,
            partial=group.partial,
            group_id=group.id,
            group_size=group.group_size,
        )
