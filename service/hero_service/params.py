"""Resolve a request's ``params`` against the server defaults: request > preset > settings."""

from __future__ import annotations

import dataclasses

from hero_client.schemas import ResolvedParams, ScoreParams, VerifierParams
from hero_service.hero import PRESETS, HeroParams
from hero_service.settings import Settings
from hero_service.verifier import VerifierPolicy

DEFAULT_SESSION = "default"


def resolve_params(request: ScoreParams, settings: Settings) -> tuple[HeroParams, ResolvedParams]:
    """The math's parameters and their wire form. Raises ``hero.ParamsError`` naming the field."""
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
    wire = ResolvedParams(
        mode=math_params.mode,
        preset=preset,
        alpha=math_params.alpha,
        beta=math_params.beta,
        eps=math_params.eps,
        singleton_z=math_params.singleton_z,
        w_min=math_params.w_min,
        w_max=math_params.w_max,
        k=math_params.k,
        weighting=math_params.weighting,
        dense=math_params.dense,
        blend_lambda=math_params.blend_lambda,
        sigma_ref=request.sigma_ref,
        session=request.session or DEFAULT_SESSION,
        extract=request.extract or "boxed_or_last",
        compute=request.compute or "needed",
        verifier=dataclasses.asdict(resolve_policy(settings.verifier_policy, request.verifier)),
    )
    return math_params, wire


def resolve_policy(server: VerifierPolicy, request: VerifierParams | None) -> VerifierPolicy:
    """The server's verifier policy with the request's overrides (already range-checked by the schema)."""
    if request is None:
        return server
    overrides = request.model_dump(exclude_none=True)
    if "approximate_digits" in overrides:  # 0 means "never", as HERO_VERIFIER_APPROXIMATE_DIGITS=0 does
        overrides["approximate_digits"] = overrides["approximate_digits"] or None
    return dataclasses.replace(server, **overrides)
