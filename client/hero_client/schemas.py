"""The wire format of ``POST /score`` and ``POST /get_reward``, shared by the client and the server."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Mode = Literal["hero", "verifier", "rm", "blend"]
Dense = Literal["both", "negative", "positive", "none"]
Preset = Literal["paper-appendix", "paper-main-text"]
ExtractMode = Literal["boxed", "boxed_or_last", "any"]
VerifierStatus = Literal["ok", "no_answer", "unparsable", "timeout", "error", "skipped"]
RMStatus = Literal["ok", "error", "skipped"]
Compute = Literal["needed", "all"]


def _has_lone_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(value: str) -> str:
    """``value`` with lone UTF-16 surrogates (JSON allows ``"\\ud800"``) replaced by U+FFFD, so no tokenizer,
    worker pipe or JSON answer downstream meets a string it cannot encode."""
    if not _has_lone_surrogate(value):
        return value
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: _clean_json(v) for k, v in value.items()}
    return value


def _valid_identifier(value: Any) -> Any:
    # An id keys groups, sessions and metrics: repairing it could merge two clients' ids, so refuse it.
    if isinstance(value, str) and _has_lone_surrogate(value):
        raise ValueError("contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode")
    return value


Text = Annotated[str, AfterValidator(clean_text)]
"""Text that is scored: a lone surrogate is replaced, the rest is kept."""

_ID = Annotated[str, BeforeValidator(_valid_identifier), Field(min_length=1, max_length=512)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Reply(BaseModel):
    """Server answers ignore fields they do not know, so an older client survives a newer server."""

    model_config = ConfigDict(extra="ignore")


class Message(_Model):
    """One chat turn of a prompt."""

    role: Annotated[str, BeforeValidator(_valid_identifier), Field(min_length=1, max_length=64)]
    content: Text


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
    prompt: Text | list[Message] = Field("", description="The prompt as text or as chat messages.")
    reference: str = Field(..., description="The reference (gold) answer.")
    responses: list[Text] = Field(..., min_length=1, description="The sampled responses.")
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
        return clean_text(reference_to_text(value))

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


class VerifierParams(_Model):
    """A verifier policy for one request (the ``HERO_VERIFIER_*`` policy settings); every field left
    out keeps the server's value."""

    assignment: bool | None = None
    percent: Literal["either", "fraction", "number"] | None = None
    bare_list: Literal["set", "ordered"] | None = None
    rounded_reference: bool | None = None
    approximate_digits: Annotated[int, Field(ge=0, le=30)] | None = Field(
        None, description="Significant digits a decimal answer needs to stand for an irrational gold; 0: never."
    )
    approximate_rationals: bool | None = None
    ratio: Literal["fraction", "parts"] | None = None
    interval_inequality: bool | None = None
    vector_tuple: bool | None = None
    units: bool | None = None
    max_answer_chars: Annotated[int, Field(ge=1, le=100_000)] | None = None


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
    session: Annotated[str, BeforeValidator(_valid_identifier), Field(min_length=1, max_length=256)] | None = Field(
        None, description="Which running sigma_ref to use and update."
    )
    extract: ExtractMode | None = None
    verifier: VerifierParams | None = Field(
        None, description="Verifier policy overrides for this request (verdicts are cached per policy)."
    )
    compute: Compute | None = Field(
        None, description="needed (default): only the signals the mode uses (mode verifier skips the RM, "
        "mode rm the verifier; skipped items have status 'skipped'); all: both, for diagnostics."
    )


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
    compute: Compute = "needed"
    verifier: dict[str, Any] | None = Field(None, description="The verifier policy used.")


class ScoreRequest(_Model):
    groups: list[GroupIn] = Field(..., description="Rollout groups (or parts of groups).")
    params: ScoreParams = Field(default_factory=ScoreParams)

    @model_validator(mode="after")
    def _distinct_parts(self) -> ScoreRequest:
        # Two entries under one part_id would each claim the other's rewards.
        first: dict[tuple[str | None, str], int] = {}
        for i, g in enumerate(self.groups):
            if g.part_id is not None:
                j = first.setdefault((g.id, g.part_id), i)
                if j != i:
                    raise ValueError(f"groups[{i}].part_id {g.part_id!r} repeats groups[{j}].part_id "
                                     f"of group {g.id!r}; each part of a group needs its own part_id")
        return self


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

    query: list[Text] = Field(default_factory=list)
    prompts: list[Text] = Field(default_factory=list)
    labels: Annotated[list[Any], AfterValidator(_clean_json)] = Field(default_factory=list)


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
    engine: dict[str, Any] | None = Field(
        None, description="The engine that runs the RM when it is remote (HERO_RM_URL): name, urls, served_model."
    )
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
