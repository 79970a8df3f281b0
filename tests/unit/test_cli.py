"""The command line's own text: help, defaults, and the messages of bad settings and names."""

from __future__ import annotations

import pytest

from hero_service import cli


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No HERO_ variable from the machine running the tests."""
    import os

    for name in [n for n in os.environ if n.upper().startswith("HERO_")]:
        monkeypatch.delenv(name)
    return monkeypatch


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["serve"], ["score"], ["report"]])
def test_help_is_plain_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(argv, capsys)
    assert "hero-reward" in text
    assert "``" not in text and ":class:" not in text


def test_serve_help_shows_each_flags_variable_and_default(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_text(["serve"], capsys).split())  # argparse wraps lines
    for flag_help in ("HERO_HOST; default: 127.0.0.1", "HERO_PORT; default: 8000", "HERO_LOG_LEVEL; default: info",
                      "HERO_RM_MODEL; default: unset", "HERO_VERIFIER_WORKERS; default: CPU count, at most 8"):
        assert flag_help in text


def test_a_check_across_settings_names_its_variables(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HERO_ALPHA", "0.7")
    clean_env.setenv("HERO_BETA", "0.6")
    with pytest.raises(SystemExit) as done:
        cli.load_settings({})
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "  HERO_ALPHA + HERO_BETA must be < 1 (got 0.7 + 0.6)" in err
    assert "HERO_?" not in err and "Value error" not in err


def test_a_bad_value_names_its_variable(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("HERO_PORT", "0")
    with pytest.raises(SystemExit):
        cli.load_settings({})
    assert "  HERO_PORT: Input should be greater than or equal to 1" in capsys.readouterr().err


def test_a_misspelt_variable_is_named_with_the_one_meant(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("HERO_ALPAH", "0.1")
    settings = cli.load_settings({})
    assert settings.alpha == 0.05  # ignored, as the warning says
    err = capsys.readouterr().err
    assert "HERO_ALPAH is not a setting and is ignored (did you mean HERO_ALPHA?)" in err


def test_a_misspelt_param_is_refused_with_the_one_meant(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["score", "in.jsonl", "-o", "out.jsonl", "--params", "alpa=0.1"])
    assert done.value.code == 2
    assert "unknown parameter 'alpa' (did you mean 'alpha'?)" in capsys.readouterr().err
