"""Fixtures for the client tests: a fake server per test, and no HERO_* variables from the shell."""

from __future__ import annotations

import os

import pytest

from .client_fakes import FakeHero


@pytest.fixture
def fake() -> FakeHero:
    return FakeHero()


@pytest.fixture(autouse=True)
def clean_hero_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HERO_* variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("HERO_"):
            monkeypatch.delenv(name)
