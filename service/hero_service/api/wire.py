"""Wire <-> domain: a request's groups and ``params`` (resolved against the server defaults: request >
preset > settings) become the scorer's types, and its result becomes the wire's answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hero_client.schemas import (
    GroupIn,
    GroupOut,
    ResolvedParams,
    ScoreParams,
    ScoreResponse,
    VerifierParams,
)
from hero_service.hero import PRESETS, HeroParams
from hero_service.scoring import DEFAULT_SESSION, GroupEntry, ScoredGroup, ScoreResult, ScoringParams
from hero_service.settings import Settings
from hero_service.verifier import VerifierPolicy


def resolve_params(request: ScoreParams, settings: Settings, policy: VerifierPolicy | None = None) -> ScoringParams:
    """The parameters a request is scored with; ``policy`` is the server's verifier policy (default: the
    settings'). Raises ``ParamsError`` naming the field."""
    preset = request.preset or settings.preset
    # An explicit request preset wins over the server's w_* overrides; explicit request fields win
    # over both.
    p_w_min, p_w_max, p_k = PRESETS[preset]
    if request.preset is None:
        p_w_min = settings.w_min if settings.w_min is not None else p_w_min
        p_w_max = settings.w_max if settings.w_max is not None else p_w_max
        p_k = settings.k if settings.k is not None else p_k

    def pick(value: float | None, default: float) -> float:
        return default if value is None else value

    math_params = HeroParams(
        mode=request.mode or settings.mode,
        alpha=pick(request.alpha, settings.alpha),
        beta=pick(request.beta, settings.beta),
        eps=pick(request.eps, settings.eps),
        singleton_z=pick(request.singleton_z, settings.singleton_z),
        w_min=pick(request.w_min, p_w_min),
        w_max=pick(request.w_max, p_w_max),
        k=pick(request.k, p_k),
        weighting=settings.weighting if request.weighting is None else request.weighting,
        dense=request.dense or settings.dense,
        blend_lambda=pick(request.blend_lambda, settings.blend_lambda),
    )
    return ScoringParams(
        math=math_params,
        preset=preset,
        session=request.session or DEFAULT_SESSION,
        sigma_ref=request.sigma_ref,
        extract=request.extract or "boxed_or_last",
        compute=request.compute or "needed",
        verifier=resolve_policy(settings.verifier_policy if policy is None else policy, request.verifier),
    )


def resolved(params: ScoringParams) -> ResolvedParams:
    """The parameters' wire form, as every answer reports them."""
    return ResolvedParams.model_validate(params.flat())


def entries(groups: Sequence[GroupIn]) -> list[GroupEntry]:
    return [GroupEntry(id=g.id, prompt=g.prompt if isinstance(g.prompt, str) else [m.model_dump() for m in g.prompt],
                       reference=g.reference, responses=g.responses, size=g.size, part_id=g.part_id)
            for g in groups]


def group_out(group: ScoredGroup) -> GroupOut:
    return GroupOut.model_validate(dataclasses.asdict(group))


def response(result: ScoreResult) -> ScoreResponse:
    return ScoreResponse(groups=[group_out(g) for g in result.groups], sigma_ref=result.sigma_ref,
                         params=resolved(result.params))


def resolve_policy(server: VerifierPolicy, request: VerifierParams | None) -> VerifierPolicy:
    """The server's verifier policy with the request's overrides (already range-checked by the schema)."""
    if request is None:
        return server
    overrides = request.model_dump(exclude_none=True)
    if "approximate_digits" in overrides:  # 0 means "never", as HERO_VERIFIER_APPROXIMATE_DIGITS=0 does
        overrides["approximate_digits"] = overrides["approximate_digits"] or None
    return dataclasses.replace(server, **overrides)
