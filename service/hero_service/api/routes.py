"""The HTTP routes. They translate between HTTP and the scorer; the logic lives below them."""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import platform
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import Field, field_validator

from hero_client.schemas import (
    ErrorResponse,
    HealthResponse,
    InfoResponse,
    ModelInfoOut,
    OpenRLHFRequest,
    OpenRLHFResponse,
    ScoreParams,
    ScoreRequest,
    ScoreResponse,
)
from hero_service import __version__
from hero_service.api import openrlhf, wire
from hero_service.errors import (
    NotServingError,
    RequestTimeoutError,
    ServiceError,
    TooLargeError,
    UnauthorizedError,
)
from hero_service.reward_model.base import InProcess, RemoteEngine
from hero_service.scoring import ScoreResult
from hero_service.state import ServerState

log = logging.getLogger(__name__)

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No valid API key (when HERO_API_KEYS is set)."},
    409: {"model": ErrorResponse, "description": "A part disagrees with its group (group_size, params) or "
          "reuses a part_id with other content; ``loc`` names the field."},
    413: {"model": ErrorResponse, "description": "The request exceeds a size limit named in the message."},
    429: {"model": ErrorResponse, "description": "The RM queue is full; retry after Retry-After seconds."},
    503: {"model": ErrorResponse, "description": "Starting or draining; retry after Retry-After seconds."},
}
_PROBE_503: dict[int | str, dict[str, Any]] = {503: {"model": HealthResponse, "description": "Not ready."}}


def _check_size(request: ScoreRequest, state: ServerState) -> None:
    s = state.settings
    groups = request.groups
    responses = sum(len(g.responses) for g in groups)
    chars = sum(len(g.reference) + sum(map(len, g.responses))
                + (len(g.prompt) if isinstance(g.prompt, str) else sum(len(m.content) for m in g.prompt))
                for g in groups)
    for count, limit, what, setting in ((len(groups), s.max_groups, "groups", "HERO_MAX_GROUPS"),
                                        (responses, s.max_responses, "responses", "HERO_MAX_RESPONSES"),
                                        (chars, s.max_chars, "characters", "HERO_MAX_CHARS")):
        if count > limit:
            raise TooLargeError(f"{count} {what} in one request; the limit is {limit} ({setting}). "
                                "Split the request.")


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.hero
    return state


State = Annotated[ServerState, Depends(_state)]


def _serving(request: Request, state: State) -> ServerState:
    reason = state.refusal(getattr(request.state, "arrived", time.monotonic()))
    if reason is not None:
        raise NotServingError(reason)
    return state


def _authorized(request: Request, state: State) -> None:
    keys = state.settings.api_key_list
    if not keys:
        return
    if request.url.path in _PROBES and not state.settings.protect_probes:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        token = ""
    # OpenRLHF cannot send headers, so /get_reward also takes the key from the query string.
    if not token and request.url.path == "/get_reward":
        token = request.query_params.get("key", "")
    # Compare against every key, without an early exit, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token.encode(), key.encode())
    if not matched:
        raise UnauthorizedError


_PROBES = frozenset({"/health", "/ready", "/metrics"})

Serving = Annotated[ServerState, Depends(_serving)]
Authorized = Depends(_authorized)


class OpenRLHFQuery(ScoreParams):
    """``/get_reward`` parameters, from the URL (OpenRLHF sends no headers)."""

    group_size: Annotated[int, Field(ge=1, le=4096)] | None = Field(
        None, description="Samples per prompt; unset: the samples of a prompt in one request form its group."
    )
    key: str | None = Field(None, description="API key, for clients that cannot send headers.")

    @field_validator("verifier", mode="before")
    @classmethod
    def _verifier_from_url(cls, value: Any) -> Any:
        """A URL carries the verifier policy as JSON: ``?verifier={"percent":"number"}``."""
        if not isinstance(value, str):
            return value
        if len(value) > 2048:
            raise ValueError("verifier policy JSON longer than 2048 characters")
        try:
            return json.loads(value)
        except RecursionError:  # deep nesting is bad input (422), not a server error
            raise ValueError("verifier policy JSON nested too deeply") from None


@router.post("/score", dependencies=[Authorized], responses=_ERRORS)
async def score(body: ScoreRequest, state: Serving) -> ScoreResponse:
    """HERO rewards for rollout groups (or parts of groups)."""
    _check_size(body, state)
    try:
        result = await asyncio.wait_for(_score(body, state), state.settings.request_timeout_s)
    except asyncio.TimeoutError:
        raise RequestTimeoutError(state.settings.request_timeout_s) from None
    return wire.response(result)


async def _score(request: ScoreRequest, state: ServerState) -> ScoreResult:
    params = wire.resolve_params(request.params, state.settings, state.verifier.policy)
    return await state.scorer.score(wire.entries(request.groups), params)


@router.post("/get_reward", dependencies=[Authorized], responses=_ERRORS)
async def get_reward(
    body: OpenRLHFRequest, query: Annotated[OpenRLHFQuery, Query()], state: Serving
) -> OpenRLHFResponse:
    """OpenRLHF's remote reward model contract (``--reward.remote_url``)."""
    params = ScoreParams(**query.model_dump(exclude={"group_size", "key"}))
    if params.compute is None and (params.mode or state.settings.mode) == "rm":
        # OpenRLHF's dynamic filtering reads ``scores``, the verifier outcome: keep it in mode rm too.
        params = params.model_copy(update={"compute": "all"})
    end_tokens = state.reward_model.info.end_tokens
    entries, samples = openrlhf.to_entries(body, group_size=query.group_size, end_tokens=end_tokens)
    if not entries:
        return openrlhf.to_response([], [])
    request = ScoreRequest(groups=entries, params=params)
    _check_size(request, state)
    try:
        result = await asyncio.wait_for(_score(request, state), state.settings.request_timeout_s)
    except ServiceError:
        raise  # overload, shutdown and a bad parameter are the caller's to act on: not zeros
    except Exception:
        log.exception("get_reward: scoring failed; answering zeros flagged server_error")
        return openrlhf.failed_response(len(samples))
    return openrlhf.to_response([wire.group_out(g) for g in result.groups], samples)


@router.get("/health", response_model=HealthResponse, responses=_PROBE_503, dependencies=[Authorized])
async def health(state: State) -> JSONResponse:
    """Liveness: 200 while the process is healthy, 503 once startup has failed."""
    if state.failure is not None:
        body = HealthResponse(status="failed", reason=state.not_ready_reason)
        return JSONResponse(body.model_dump(), status_code=503)
    status = "draining" if state.draining else "ok"
    return JSONResponse(HealthResponse(status=status).model_dump())


@router.get("/ready", response_model=HealthResponse, responses=_PROBE_503, dependencies=[Authorized])
async def ready(state: State) -> JSONResponse:
    """Readiness: 200 once startup is done (the RM loaded and warm, the verifier pool started, the group
    store reached) and while not draining and a remote RM engine answers its health checks."""
    reason = state.not_ready_reason
    if reason is None:
        return JSONResponse(HealthResponse(status="ok").model_dump())
    if state.failure is not None:  # permanent: no Retry-After (the process is about to exit)
        return JSONResponse(HealthResponse(status="failed", reason=reason).model_dump(), status_code=503)
    status = "draining" if state.draining else "starting"
    return JSONResponse(HealthResponse(status=status, reason=reason).model_dump(), status_code=503,
                        headers={"Retry-After": "5"})


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[Authorized])
async def metrics(state: State) -> Response:
    """Prometheus text format."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/info", dependencies=[Authorized], responses={401: _ERRORS[401]})
async def info(state: State) -> InfoResponse:
    """The model, versions, default parameters, verifier and batching settings."""
    defaults = wire.resolved(wire.resolve_params(ScoreParams(), state.settings, state.verifier.policy))
    model = state.reward_model.info
    runtime = model.runtime
    where = (runtime.device, runtime.dtype) if isinstance(runtime, InProcess) else \
        ("remote", "remote") if isinstance(runtime, RemoteEngine) else ("none", "none")
    engine = {"name": runtime.name, "urls": list(runtime.urls), "served_model": runtime.served_model} \
        if isinstance(runtime, RemoteEngine) else None
    return InfoResponse(
        name="hero-reward",
        version=__version__,
        model=ModelInfoOut(model_id=model.model_id, kind=model.kind, device=where[0], dtype=where[1],
                           max_length=model.max_length, engine=engine, input=model.input),
        versions=_versions(),
        defaults=defaults,
        verifier=state.verifier.describe(),
        batching=model.batching,
    )


@functools.cache
def _versions() -> dict[str, str]:
    """Installed versions; they cannot change while the process runs, so read them once."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "math-verify", "sympy", "fastapi"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "absent"
    return out
