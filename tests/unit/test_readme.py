"""The README stays in step with the code: every setting is in its table."""

from __future__ import annotations

from pathlib import Path

from hero_service.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    missing = [f"HERO_{name.upper()}" for name in Settings.model_fields if f"`HERO_{name.upper()}`" not in text]
    assert not missing, f"add these to the README's settings table: {missing}"
