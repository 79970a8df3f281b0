"""HERO_STATE_* settings are checked at start, with messages that say how to fix them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hero_service.logs import redact_url
from hero_service.settings import Settings


def test_state_url_must_be_redis() -> None:
    with pytest.raises(ValidationError, match="HERO_STATE_URL must start with redis://"):
        Settings(state_url="http://cache:6379")
    assert Settings(state_url="rediss://cache:6380/1").state_url == "rediss://cache:6380/1"


def test_state_ttl_must_outlive_the_group_deadline() -> None:
    with pytest.raises(ValidationError, match="HERO_STATE_TTL_S"):
        Settings(state_ttl_s=30, group_deadline_s=60)


def test_the_password_never_reaches_logs_or_ready() -> None:
    assert redact_url("redis://:s3cret@cache:6379/0") == "redis://***@cache:6379/0"
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"
