"""``HeroClient`` and ``AsyncHeroClient``: the HTTP API of hero-reward as typed method calls.

The two classes share everything but the I/O: ``_BaseClient`` turns calls into requests and responses
into results or exceptions; the subclasses send, retry and sleep, blocking or async.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, TypeVar

import httpx
import pydantic
import tenacity

from hero_client._config import DEFAULT_LIMITS, DEFAULT_RETRIES, DEFAULT_TIMEOUT, Retries
from hero_client._exceptions import DecodingError, HeroError, OverloadedError, TransportError, status_error
from hero_client._types import ScoredResponse
from hero_client.schemas import (
    GroupIn,
    HealthResponse,
    InfoResponse,
    OpenRLHFResponse,
    Prompt,
    ScoreParams,
    ScoreRequest,
    ScoreResponse,
)

__all__ = ["AsyncHeroClient", "HeroClient"]

_Model = TypeVar("_Model", bound=pydantic.BaseModel)
GroupLike = GroupIn | Mapping[str, Any]
ParamsLike = ScoreParams | Mapping[str, Any]
QueryValue = str | int | float | bool


def _user_agent() -> str:
    try:
        return f"hero-client/{version('hero-reward')}"
    except PackageNotFoundError:  # running from a source tree
        return "hero-client"


class _BaseClient:
    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        api_key: str | None,
        retries: Retries | int,
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("base_url: give at least one URL, e.g. 'http://127.0.0.1:8000'")
        for url in urls:
            if httpx.URL(url).scheme not in ("http", "https"):
                raise ValueError(f"base_url: {url!r} is not an http(s) URL")
        # A trailing slash would double up with the route's leading one.
        self._base_urls = tuple(url.rstrip("/") for url in urls)
        self._turn = itertools.count()
        self._retries = Retries(retries) if isinstance(retries, int) else retries
        self._headers = {"user-agent": _user_agent(), "accept": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The servers requests are spread over, in round-robin order."""
        return self._base_urls

    def _urls(self, path: str) -> Iterator[str]:
        """The URLs for one request's attempts: requests start round-robin, and each retry moves on to
        the next server, so a dead replica costs one attempt, not all of them."""
        start = next(self._turn)
        for attempt in itertools.count():
            yield self._base_urls[(start + attempt) % len(self._base_urls)] + path

    def _retrying_kwargs(self, attempts: int | None = None) -> dict[str, Any]:
        return {
            "stop": tenacity.stop_after_attempt(attempts or self._retries.attempts),
            "wait": self._wait,
            "retry": tenacity.retry_if_exception_type((TransportError, OverloadedError)),
            "reraise": True,
        }

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = error.retry_after if isinstance(error, OverloadedError) else None
        return self._retries.wait_seconds(state.attempt_number, retry_after)

    @staticmethod
    def _score_body(groups: Sequence[GroupLike], params: ParamsLike | None) -> bytes:
        request = ScoreRequest.model_validate({"groups": list(groups), "params": params or {}})
        for group in request.groups:
            # The body is built once and resent as-is on a retry, so a part the server already
            # received under this id is recognised instead of counted twice.
            if group.size > len(group.responses) and group.part_id is None:
                group.part_id = uuid.uuid4().hex
        # Unset fields stay off the wire, so the server's defaults apply to them.
        return request.model_dump_json(exclude_none=True).encode()

    @staticmethod
    def _get_reward_body(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]) -> bytes:
        if not len(queries) == len(prompts) == len(labels):
            raise ValueError("queries, prompts and labels must have the same length")
        return json.dumps({"query": list(queries), "prompts": list(prompts), "labels": list(labels)},
                          ensure_ascii=False).encode()

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if not response.is_success:
            raise status_error(response)
        return response

    @staticmethod
    def _decode(model: type[_Model], response: httpx.Response) -> _Model:
        try:
            return model.model_validate_json(response.content)
        except pydantic.ValidationError as exc:
            raise DecodingError(
                f"{response.request.url.copy_with(query=None)} answered a body that is not a "
                f"{model.__name__}: {exc}"
            ) from exc

    @staticmethod
    def _one(response: ScoreResponse) -> ScoredResponse:
        if len(response.groups) != 1 or len(response.groups[0].rewards) != 1:
            raise DecodingError("score_one: expected one group with one reward in the answer")
        return ScoredResponse.from_group(response.groups[0], 0)

    @staticmethod
    def _single_group(
        prompt: Prompt, reference: Any, response: str, group_id: str, group_size: int
    ) -> dict[str, Any]:
        return {"id": group_id, "prompt": prompt, "reference": reference, "responses": [response],
                "group_size": group_size}

    @staticmethod
    def _request_error(method: str, url: str, exc: httpx.RequestError) -> HeroError:
        where = f"{method} {httpx.URL(url).copy_with(query=None)}"
        if isinstance(exc, httpx.DecodingError):  # a body httpx cannot decode: not worth a retry
            return DecodingError(f"{where}: {exc!r}")
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        return TransportError(f"{where} {kind}: {exc!r}")


class HeroClient(_BaseClient):
    """A blocking client for a hero-reward server (or several, used round-robin).

    Usage::

        with HeroClient("http://127.0.0.1:8000", api_key="...") as client:
            result = client.score([{"prompt": "1+1?", "reference": "2", "responses": ["\\\\boxed{2}", "3"]}])
            print(result.groups[0].rewards)

    ``timeout`` and ``limits`` are httpx's; ``retries`` is a ``Retries`` or a number of attempts;
    ``transport`` replaces the network (``httpx.MockTransport`` in tests). Thread-safe.
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        api_key: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        retries: Retries | int = DEFAULT_RETRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key=api_key, retries=retries)
        self._http = httpx.Client(timeout=timeout, limits=limits, transport=transport, headers=self._headers)

    def score(self, groups: Sequence[GroupLike], params: ParamsLike | None = None) -> ScoreResponse:
        """Rewards for rollout groups, or parts of groups (``group_size`` > responses, with an ``id``).

        Raises ``pydantic.ValidationError`` before sending when a group or a parameter is invalid.
        """
        body = self._score_body(groups, params)
        return self._decode(ScoreResponse, self._send("POST", "/score", content=body))

    def score_one(
        self,
        prompt: Prompt,
        reference: Any,
        response: str,
        *,
        group_id: str,
        group_size: int,
        params: ParamsLike | None = None,
    ) -> ScoredResponse:
        """The reward of one response of the group ``group_id``; returns once the group is scored."""
        group = self._single_group(prompt, reference, response, group_id, group_size)
        return self._one(self.score([group], params))

    def get_reward(
        self,
        queries: Sequence[str],
        prompts: Sequence[str],
        labels: Sequence[Any],
        **params: QueryValue,
    ) -> OpenRLHFResponse:
        """OpenRLHF's ``/get_reward`` contract; ``params`` go in the query string (e.g. ``group_size=8``)."""
        body = self._get_reward_body(queries, prompts, labels)
        response = self._send("POST", "/get_reward", content=body, params=params)
        return self._decode(OpenRLHFResponse, response)

    def health(self) -> HealthResponse:
        """Liveness: the server's status (``ok``, ``starting``, ``draining``), 200 or 503 alike."""
        response = self._send("GET", "/health", attempts=1, accept=(503,))
        return self._decode(HealthResponse, response)

    def ready(self) -> bool:
        """True when the server answers ``/ready`` with 200, False with 503. Not retried."""
        return self._send("GET", "/ready", attempts=1, accept=(503,)).status_code == 200

    def info(self) -> InfoResponse:
        """The model, versions and default parameters of the server."""
        return self._decode(InfoResponse, self._send("GET", "/info"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HeroClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: Mapping[str, QueryValue] | None = None,
        attempts: int | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        headers = {"content-type": "application/json"} if content is not None else None
        urls = self._urls(path)

        def attempt() -> httpx.Response:
            url = next(urls)
            try:
                response = self._http.request(method, url, content=content, params=params, headers=headers)
            except httpx.RequestError as exc:
                raise self._request_error(method, url, exc) from exc
            return response if response.status_code in accept else self._check(response)

        return tenacity.Retrying(**self._retrying_kwargs(attempts))(attempt)


class AsyncHeroClient(_BaseClient):
    """The async twin of ``HeroClient``; same arguments, awaitable methods, ``async with``.

    Usage::

        async with AsyncHeroClient(["http://rm-0:8000", "http://rm-1:8000"]) as client:
            result = await client.score(groups, {"mode": "hero"})

    Use one instance per event loop: its connections belong to the loop that opened them.
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        api_key: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        retries: Retries | int = DEFAULT_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key=api_key, retries=retries)
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport,
                                       headers=self._headers)

    async def score(self, groups: Sequence[GroupLike], params: ParamsLike | None = None) -> ScoreResponse:
        """Rewards for rollout groups, or parts of groups; see ``HeroClient.score``."""
        body = self._score_body(groups, params)
        return self._decode(ScoreResponse, await self._send("POST", "/score", content=body))

    async def score_one(
        self,
        prompt: Prompt,
        reference: Any,
        response: str,
        *,
        group_id: str,
        group_size: int,
        params: ParamsLike | None = None,
    ) -> ScoredResponse:
        """The reward of one response of the group ``group_id``; returns once the group is scored."""
        group = self._single_group(prompt, reference, response, group_id, group_size)
        return self._one(await self.score([group], params))

    async def get_reward(
        self,
        queries: Sequence[str],
        prompts: Sequence[str],
        labels: Sequence[Any],
        **params: QueryValue,
    ) -> OpenRLHFResponse:
        """OpenRLHF's ``/get_reward`` contract; ``params`` go in the query string."""
        body = self._get_reward_body(queries, prompts, labels)
        response = await self._send("POST", "/get_reward", content=body, params=params)
        return self._decode(OpenRLHFResponse, response)

    async def health(self) -> HealthResponse:
        """Liveness: the server's status, 200 or 503 alike."""
        response = await self._send("GET", "/health", attempts=1, accept=(503,))
        return self._decode(HealthResponse, response)

    async def ready(self) -> bool:
        """True when the server answers ``/ready`` with 200, False with 503. Not retried."""
        return (await self._send("GET", "/ready", attempts=1, accept=(503,))).status_code == 200

    async def info(self) -> InfoResponse:
        """The model, versions and default parameters of the server."""
        return self._decode(InfoResponse, await self._send("GET", "/info"))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncHeroClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: Mapping[str, QueryValue] | None = None,
        attempts: int | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        headers = {"content-type": "application/json"} if content is not None else None
        urls = self._urls(path)

        async def attempt() -> httpx.Response:
            url = next(urls)
            try:
                response = await self._http.request(method, url, content=content, params=params,
                                                    headers=headers)
            except httpx.RequestError as exc:
                raise self._request_error(method, url, exc) from exc
            return response if response.status_code in accept else self._check(response)

        response: httpx.Response = await tenacity.AsyncRetrying(**self._retrying_kwargs(attempts))(attempt)
        return response
