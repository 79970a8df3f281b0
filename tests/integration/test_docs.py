"""/docs: off by default (its scripts come from a CDN); the OpenAPI schema is always served."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from hero_service.settings import Settings

from .conftest import LengthRM, Served


def test_docs_are_off_by_default_and_the_schema_is_served(length_server: Served,
                                                          make_server: Callable[..., Served]) -> None:
    base = length_server.base_url
    assert httpx.get(f"{base}/docs").status_code == 404
    assert httpx.get(f"{base}/redoc").status_code == 404
    schema = httpx.get(f"{base}/openapi.json").json()
    assert "/score" in schema["paths"]
    page = httpx.get(f"{make_server(Settings(verifier_workers=1, docs=True), reward_model=LengthRM()).base_url}/docs")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
