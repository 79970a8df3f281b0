"""Parameter resolution: request over preset over server settings; bad combinations name a field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hero_client.schemas import ResolvedParams, ScoreParams
from hero_service.api import wire
from hero_service.errors import ParamsError
from hero_service.hero import HeroParams
from hero_service.settings import Settings


def resolve_params(request: ScoreParams, settings: Settings) -> tuple[HeroParams, ResolvedParams]:
    """The math's parameters and their wire form."""
    params = wire.resolve_params(request, settings)
    return params.math, wire.resolved(params)


def test_defaults_are_the_paper_appendix() -> None:
    math_params, wire = resolve_params(ScoreParams(), Settings())
    assert (math_params.w_min, math_params.w_max, math_params.k) == (0.4, 3.0, 6.0)
    assert (wire.alpha, wire.beta, wire.eps, wire.mode, wire.session) == (0.05, 0.05, 1e-6, "hero", "default")


def test_main_text_preset_and_explicit_fields() -> None:
    math_params, _ = resolve_params(ScoreParams(preset="paper-main-text", k=2.0), Settings())
    assert (math_params.w_min, math_params.w_max, math_params.k) == (0.5, 2.0, 2.0)


def test_server_weight_overrides_apply_without_a_request_preset() -> None:
    settings = Settings(w_max=5.0)
    assert resolve_params(ScoreParams(), settings)[0].w_max == 5.0
    assert resolve_params(ScoreParams(preset="paper-appendix"), settings)[0].w_max == 3.0


def test_band_overlap_is_rejected_naming_the_field() -> None:
    with pytest.raises(ParamsError, match="alpha \\+ beta must be < 1") as info:
        resolve_params(ScoreParams(alpha=0.6, beta=0.5), Settings())
    assert info.value.field == "beta"
    with pytest.raises(ParamsError) as info:
        resolve_params(ScoreParams(w_min=2.5, w_max=2.0), Settings())
    assert info.value.field == "w_max"


def test_settings_refuse_overlapping_bands_with_a_fix_it_message() -> None:
    with pytest.raises(ValidationError, match="HERO_ALPHA \\+ HERO_BETA must be < 1"):
        Settings(alpha=0.5, beta=0.5)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERO_PORT", "9123")
    monkeypatch.setenv("HERO_API_KEYS", "a, b,,")
    settings = Settings()
    assert settings.port == 9123
    assert settings.api_key_list == ["a", "b"]


def test_request_verifier_policy_overrides_only_what_it_names() -> None:
    from hero_client.schemas import VerifierParams
    from hero_service.api.wire import resolve_policy

    server = Settings(verifier_percent="number", verifier_units=False).verifier_policy
    assert resolve_policy(server, None) is server
    policy = resolve_policy(server, VerifierParams(assignment=False, approximate_digits=0))
    assert (policy.assignment, policy.approximate_digits) == (False, None)
    assert (policy.percent, policy.units) == ("number", False)
    _, wire = resolve_params(ScoreParams(verifier=VerifierParams(bare_list="ordered")), Settings())
    assert wire.verifier is not None and wire.verifier["bare_list"] == "ordered"
    assert wire.compute == "needed"
    with pytest.raises(ValidationError, match="percent"):
        VerifierParams(percent="sometimes")  # type: ignore[arg-type]


def test_every_verifier_policy_field_can_be_set_per_request() -> None:
    import dataclasses

    from hero_client.schemas import VerifierParams
    from hero_service.api.wire import resolve_policy
    from hero_service.verifier.verdict import VerifierPolicy

    assert set(VerifierParams.model_fields) == {f.name for f in dataclasses.fields(VerifierPolicy)}
    policy = resolve_policy(VerifierPolicy(), VerifierParams(ratio="parts", approximate_rationals=True))
    assert (policy.ratio, policy.approximate_rationals) == ("parts", True)
