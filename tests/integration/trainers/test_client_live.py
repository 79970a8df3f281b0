"""The client against a real server: the answers and errors that the adapters rely on."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from hero_client import (
    AsyncHeroClient,
    AuthenticationError,
    HeroClient,
    InvalidRequestError,
    Retries,
)

GROUP = {"prompt": "6*7?", "reference": "42", "responses": ["\\boxed{42}", "\\boxed{41}"]}


def dead_url() -> str:
    """A localhost URL that refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_probes_and_info(length_server: Any) -> None:
    with HeroClient(length_server.base_url, api_key="k2") as client:
        assert client.ready() is True
        assert client.health().status == "ok"
        assert client.info().model.kind == "test-length"


def test_a_missing_or_wrong_key_is_an_authentication_error(length_server: Any) -> None:
    for key in (None, "wrong"):
        with HeroClient(length_server.base_url, api_key=key) as client, pytest.raises(AuthenticationError):
            client.score([GROUP])


def test_bad_params_are_an_invalid_request_naming_the_field(length_server: Any) -> None:
    with HeroClient(length_server.base_url, api_key="k1") as client, \
            pytest.raises(InvalidRequestError) as info:
        client.score([GROUP], {"alpha": 0.6, "beta": 0.6})

    assert info.value.status_code == 422
    assert "alpha" in str(info.value.detail)


def test_a_part_whose_partners_never_come_is_scored_partial_at_the_deadline(length_server: Any) -> None:
    with HeroClient(length_server.base_url, api_key="k1") as client:
        scored = client.score_one("6*7?", "42", "\\boxed{42}", group_id="lonely-part", group_size=4)

    assert scored.partial
    assert scored.verifier == 1
    assert scored.graded


async def test_round_robin_fails_over_from_a_dead_replica(length_server: Any) -> None:
    async with AsyncHeroClient([dead_url(), length_server.base_url], api_key="k1",
                               retries=Retries(3, backoff=0.0)) as client:
        results = await asyncio.gather(*(client.score([GROUP], {"mode": "verifier"}) for _ in range(4)))

    assert [r.groups[0].rewards for r in results] == [[1.0, 0.0]] * 4
