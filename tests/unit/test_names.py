"""Suggestions for unknown names."""

from __future__ import annotations

from hero_service.names import closest, unknown_name, unknown_variables

KNOWN = ["alpha", "beta", "singleton_z", "w_min", "w_max"]


def test_closest_is_case_insensitive_and_none_when_nothing_is_close() -> None:
    assert closest("alpa", KNOWN) == "alpha"
    assert closest("W_MNI", KNOWN) == "w_min"
    assert closest("colour", KNOWN) is None


def test_unknown_name_lists_the_valid_ones_when_none_is_close() -> None:
    assert unknown_name("alpa", KNOWN, "parameter") == "unknown parameter 'alpa' (did you mean 'alpha'?)"
    assert unknown_name("colour", KNOWN, "parameter").endswith("(one of: alpha, beta, singleton_z, w_max, w_min)")


def test_only_unknown_prefixed_variables_are_reported() -> None:
    environ = {"HERO_ALPHA": "0.1", "HERO_BETTA": "0.1", "hero_w_min": "1", "HERO_ZZZ": "1", "PATH": "/bin"}
    assert unknown_variables(environ, "HERO_", KNOWN) == [
        "HERO_BETTA is not a setting and is ignored (did you mean HERO_BETA?)",
        "HERO_ZZZ is not a setting and is ignored (see the settings table in the README)",
    ]


def test_the_adapters_variables_are_not_taken_for_misspelt_settings() -> None:
    environ = {"HERO_CLIENT_URL": "http://hero:8000", "HERO_BETTA": "0.1"}
    assert unknown_variables(environ, "HERO_", KNOWN, others=("HERO_CLIENT_",)) == [
        "HERO_BETTA is not a setting and is ignored (did you mean HERO_BETA?)",
    ]
