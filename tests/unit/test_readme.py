"""The README stays in step with the code: every setting is in its table."""

from __future__ import annotations

from pathlib import Path

from hero_service.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    missing = [f"HERO_{name.upper()}" for name in Settings.model_fields if f"`HERO_{name.upper()}`" not in text]
    assert not missing, f"add these to the README's settings table: {missing}"


SERVE = 'python3 -m venv .venv && .venv/bin/pip install -e ".[server]" && .venv/bin/hero-reward serve'
TESTS = 'python3 -m venv .venv && .venv/bin/pip install -e ".[server,dev]" && .venv/bin/pytest'
CPU_TORCH = ".venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu"


def test_cpu_torch_advice_comes_before_the_quick_start_commands() -> None:
    quick = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert SERVE in quick and TESTS in quick  # the two commands stay as they are
    assert CPU_TORCH in quick, "say how a CPU-only machine gets the CPU build of torch"
    before = quick[: quick.index(SERVE)]
    assert CPU_TORCH in before, "the CPU advice must come before the commands that install torch"
    assert "GB" in before, "say what size to expect without the CPU build"
