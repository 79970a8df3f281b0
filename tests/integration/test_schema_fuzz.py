"""schemathesis against the running app's own OpenAPI schema: no 5xx, every answer matches the schema."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from hero_service.settings import Settings

from .conftest import LengthRM, Served

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
ROUTES = ["POST /score", "POST /get_reward", "GET /health", "GET /ready", "GET /info", "GET /metrics"]




@pytest.mark.parametrize("route", ROUTES)
def test_no_server_errors_and_schema_conformance(make_server: Callable[..., Served], route: str) -> None:
    served = make_server(Settings(verifier_workers=1, group_deadline_s=0.3, max_groups=8, max_responses=32),
                         reward_model=LengthRM())
    schema = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
    method, path = route.split()
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def exercise(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS, timeout=30)

    exercise()
