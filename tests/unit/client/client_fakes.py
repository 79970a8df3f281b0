"""A scripted stand-in for the server, served through ``httpx.MockTransport`` (sync and async alike).

Shared by the client tests."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import httpx

from hero_client import Retries
from hero_client.schemas import GroupOut, ResolvedParams, ScoreRequest, ScoreResponse

PARAMS = ResolvedParams(mode="hero", preset="paper-appendix", alpha=0.05, beta=0.05, eps=1e-6, singleton_z=0.0,
                        w_min=0.4, w_max=3.0, k=6.0, weighting=True, dense="both", blend_lambda=0.5,
                        sigma_ref=None, session="default", extract="boxed")

# No waiting between attempts, so retry tests run in milliseconds.
FAST = Retries(3, backoff=0.0, jitter=0.0)


def reward_of(response: str) -> float:
    """The fake server's reward: deterministic and different per response."""
    return len(response) / 10


class FakeHero:
    """Answers /score like the server (one reward per response, verifier = reference in response), after
    first replaying ``script``: queued ``httpx.Response`` objects or exceptions, one per request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: deque[httpx.Response | Exception] = deque()
        self.verifier_status = "ok"
        self.partial = False

    def fail(self, *items: httpx.Response | Exception) -> None:
        self.script.extend(items)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.content]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            item = self.script.popleft()
            if isinstance(item, Exception):
                raise item
            return item
        if request.url.path == "/score":
            return httpx.Response(200, content=self.score(ScoreRequest.model_validate_json(request.content)))
        if request.url.path == "/get_reward":
            body = json.loads(request.content)
            rewards = [reward_of(q) for q in body["query"]]
            return httpx.Response(200, json={"rewards": rewards, "scores": [1.0] * len(rewards),
                                             "extra_logs": {"verifier": [1.0] * len(rewards)}})
        if request.url.path in ("/health", "/ready"):
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(404, json={"detail": "Not Found"})

    def score(self, body: ScoreRequest) -> str:
        groups = []
        for i, group in enumerate(body.groups):
            n = len(group.responses)
            groups.append(GroupOut(
                id=group.id or f"g{i}",
                rewards=[reward_of(r) for r in group.responses],
                verifier=[int(group.reference in r) for r in group.responses],
                verifier_status=[self.verifier_status] * n,  # type: ignore[list-item]
                answers=[None] * n,
                rm_scores=[0.5] * n,
                rm_status=["ok"] * n,
                truncated=[False] * n,
                normalized=[0.0] * n,
                weight=1.5,
                sigma=0.1,
                sigma_ref=0.2,
                partial=self.partial,
                group_size=group.size,
            ))
        return ScoreResponse(groups=groups, sigma_ref=0.2, params=PARAMS).model_dump_json()


def status(code: int, detail: Any = "nope", retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return httpx.Response(code, json={"detail": detail}, headers=headers)
