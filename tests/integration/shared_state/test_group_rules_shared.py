"""The group rules (sessions, conflicts, part_id digests) hold when the groups live in Redis and every
group is split across two replica processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.integration import group_rules

from .conftest import Redis, Replica


@pytest.fixture
def pool(redis_server: Redis, replicas: Callable[..., list[Replica]]) -> list[str]:
    return [r.base_url for r in replicas(2, state_url=redis_server.url, group_deadline_s="60")]


def test_group_rules_across_replicas(pool: list[str]) -> None:
    for scenario in (group_rules.sessions_stay_apart, group_rules.conflicting_params_are_refused,
                     group_rules.conflicting_group_size_is_refused,
                     group_rules.a_reused_part_id_needs_the_same_content):
        asyncio.run(scenario(pool))
