"""The wire's literal types and the domain's name the same values.

The client must import without the server, so ``hero_client.schemas`` owns the wire's literals and the
service's domain modules own theirs; this keeps the two spellings of each concept equal."""

from __future__ import annotations

from typing import Any, Literal, get_args

import pytest

from hero_client import schemas
from hero_service import hero, scoring
from hero_service.reward_model import base
from hero_service.verifier import verdict


def _values(annotation: Any) -> set[Any]:
    """The values of a Literal, or of the Literal inside ``Literal[...] | None``."""
    args = get_args(annotation)
    literals = [a for a in args if getattr(a, "__origin__", None) is Literal]
    return set(get_args(literals[0])) if literals else set(args)


@pytest.mark.parametrize(("wire", "domain"), [
    (schemas.Mode, hero.Mode),
    (schemas.Dense, hero.Dense),
    (schemas.Preset, hero.Preset),
    (schemas.ExtractMode, verdict.ExtractMode),
    (schemas.VerifierStatus, verdict.VerifierStatus),
    (schemas.RMStatus, base.RMStatus),
    (schemas.Compute, scoring.Compute),
    (schemas.VerifierParams.model_fields["percent"].annotation, verdict.PercentPolicy),
    (schemas.VerifierParams.model_fields["bare_list"].annotation, verdict.ListPolicy),
    (schemas.VerifierParams.model_fields["ratio"].annotation, verdict.RatioPolicy),
])
def test_wire_literals_equal_the_domains(wire: Any, domain: Any) -> None:
    assert _values(wire) == _values(domain)
    assert _values(wire)


def test_settings_take_the_reward_defaults_from_the_math() -> None:
    from hero_service.settings import Settings

    settings, math = Settings(), hero.HeroParams()
    for name in ("mode", "alpha", "beta", "eps", "singleton_z", "dense", "weighting", "blend_lambda"):
        assert getattr(settings, name) == getattr(math, name), name
