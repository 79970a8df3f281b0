"""The wire format of ``POST /score`` and ``POST /get_reward``, shared by the client and the server."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Mode = Literal["hero", "verifier", "rm", "blend"]
Dense = Literal["both", "negative", "positive", "none"]
Preset = Literal["paper-appendix", "paper-main-text"]
ExtractMode = Literal["boxed", "boxed_or_last", "any"]
VerifierStatus = Literal["ok", "no_answer", "unparsable", "timeout", "error"]
RMStatus = Literal["ok", "error"]

_ID = Annotated[str, Field(min_length=1, max_length=512)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Reply(BaseModel):
    """Server answers ignore fields they do not know, so an older client survives a newer server."""

    model_config = ConfigDict(extra="ignore")


class Message(_Model):
    """One chat turn of a prompt."""

    role: Annotated[str, Field(min_length=1, max_length=64)]
    content: str


Prompt = str | list[Message]


def reference_to_text(value: Any) -> str:
    """A reference answer as text: strings as they are, other JSON values in JSON form."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False)


class GroupIn(_Model):
    """A rollout group, or one part of it when ``group_size`` exceeds the responses sent."""

    id: _ID | None = Field(None, description="Group id; required for a part, assigned by the server "
                           "otherwise.")
    prompt: Prompt = Field("", description="The prompt as text or as chat messages.")
    reference: str = Field(..., description="The reference (gold) answer.")
    responses: list[str] = Field(..., min_length=1, description="The sampled responses.")
    group_size: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Responses in the whole group; defaults to len(responses)."
    )
    part_id: _ID | None = Field(
        None, description="Idempotency key of a part: a retried part with the same id is answered from "
        "the first, not counted twice. HeroClient sets one on every part."
    )

    @field_validator("reference", mode="before")
    @classmethod
    def _reference_text(cls, value: Any) -> str:
        return reference_to_text(value)

    @model_validator(mode="after")
    def _check_size(self) -> GroupIn:
        if self.group_size is not None and self.group_size < len(self.responses):
            raise ValueError(
                f"group_size ({self.group_size}) is smaller than the {len(self.responses)} responses sent"
            )
        if self.group_size is not None and self.group_size > len(self.responses) and self.id is None:
            raise ValueError("a part of a group (group_size > len(responses)) needs an id so that "
                             "its other parts can find it")
        return self

    @property
    def size(self) -> int:
        return self.group_size if self.group_size is not None else len(self.responses)


class ScoreParams(_Model):
    """Per-request reward parameters; every field left out takes the server's default."""

    mode: Mode | None = None
    preset: Preset | None = None
    alpha: Annotated[float, Field(gt=0, le=1)] | None = None
    beta: Annotated[float, Field(gt=0, le=1)] | None = None
    eps: Annotated[float, Field(gt=0, le=1)] | None = None
    singleton_z: Annotated[float, Field(ge=0, le=1)] | None = None
    w_min: Annotated[float, Field(gt=0, le=1e3)] | None = None
    w_max: Annotated[float, Field(gt=0, le=1e3)] | None = None
    k: Annotated[float, Field(gt=0, le=1e6)] | None = None
    weighting: bool | None = None
    dense: Dense | None = None
    blend_lambda: Annotated[float, Field(ge=0, le=1)] | None = None
    sigma_ref: Annotated[float, Field(ge=0, le=1e9)] | None = Field(
        None, description="Pin sigma_ref instead of the session's running mean."
    )
    session: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        None, description="Which running sigma_ref to use and update."
    )
    extract: ExtractMode | None = None


class ResolvedParams(_Reply):
    """The parameters actually used, after server defaults and the preset."""

    mode: Mode
    preset: Preset
    alpha: float
    beta: float
    eps: float
    singleton_z: float
    w_min: float
    w_max: float
    k: float
    weighting: bool
    dense: Dense
    blend_lambda: float
    sigma_ref: float | None
    session: str
    extract: ExtractMode


class ScoreRequest(_Model):
    groups: list[GroupIn] = Field(..., description="Rollout groups (or parts of groups).")
    params: ScoreParams = Field(default_factory=ScoreParams)


class GroupOut(_Reply):
    """Rewards for the responses of one group entry, aligned with its ``responses``."""

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
    partial: bool = Field(False, description="Scored at the deadline without all its parts.")
    group_size: int


class ScoreResponse(_Reply):
    groups: list[GroupOut]
    sigma_ref: float | None = Field(
        None, description="The sigma_ref used for this request's groups (None for an empty request)."
    )
    params: ResolvedParams


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward request; unknown keys are ignored, as its own server does."""

    query: list[str] = Field(default_factory=list)
    prompts: list[str] = Field(default_factory=list)
    labels: list[Any] = Field(default_factory=list)


class OpenRLHFResponse(_Reply):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


class ErrorResponse(_Reply):
    """Every error answer: a message, or (422) a list of ``{loc, msg, type}`` naming the fields."""

    detail: str | list[dict[str, Any]]


class HealthResponse(_Reply):
    status: Literal["ok", "starting", "draining", "failed"]
    reason: str | None = None


class ModelInfoOut(_Reply):
    model_id: str
    kind: str
    device: str
    dtype: str
    max_length: int
    input: str | None = None
    """How a (prompt, response) reaches the model: chat (its chat template), pair (a text pair), or
    reference-similarity (the embedded default)."""


class InfoResponse(_Reply):
    name: str
    version: str
    model: ModelInfoOut
    versions: dict[str, str]
    defaults: ResolvedParams
    verifier: dict[str, Any]
    batching: dict[str, Any]
