"""OpenRLHF adapter (OpenRLHF >= 0.9.1; checked against 0.11.2). Both ways in reach ``/get_reward``:

1. OpenRLHF's built-in HTTP client, pointed at the URL that ``remote_url`` builds. It sends no headers,
   so the group size, the parameters and the API key travel in the query string::

       --reward.remote_url "$(python -c 'from hero_client.integrations.openrlhf import remote_url;
                              print(remote_url("http://hero:8000", group_size=8))')"

2. This file as OpenRLHF's agent (``--train.agent_func_path``): ``AgentExecutor`` is OpenRLHF's own
   ``SingleTurnAgentExecutor`` with the reward fetched here. OpenRLHF starts a prompt's samples together
   (``generate_responses`` gathers n ``execute`` calls), so the samples started in one event-loop turn
   for one prompt and label are its group: when the last of them has its response, one request scores
   the whole group. No thread waits and no group size is configured, so evaluation with another
   ``--eval.n_samples_per_prompt`` and a prompt repeated in a batch are grouped right too. It adds the
   API key in a header, retries with backoff that honour ``Retry-After``, several servers and a timeout
   (``HERO_CLIENT_URL``, ``HERO_CLIENT_API_KEY``, ``HERO_CLIENT_MODE``, ``HERO_CLIENT_SESSION``,
   ``HERO_CLIENT_PARAMS``, ``HERO_CLIENT_TIMEOUT``, ``HERO_CLIENT_RETRIES``)::

       --train.agent_func_path $(python -c 'import hero_client.integrations.openrlhf as m; print(m.__file__)')

This file is no longer a ``reward_func`` (``--reward.remote_url x.py``): OpenRLHF runs that function in
its event loop's default thread pool, one call per sample, and uses what it returns as the reward. A
group's reward needs all its samples, so each call had to block its thread until the group was
complete; once the pool's threads (at most 32) all held incomplete groups, the samples that would have
completed them queued behind, and every group waited for the server's deadline. Loading it that way
fails at once with this explanation.

Either way, use ``--algo.advantage.estimator dr_grpo`` (mean-only centring): ``group_norm`` divides by
the group std, which cancels HERO's weight and bands. Imports here are absolute because OpenRLHF loads
this module from its file path.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from hero_client.ids import to_jsonable
from hero_client.integrations._common import AdapterSettings
from hero_client.integrations._launch import LaunchGroups, Slot, failed_answer
from hero_client.schemas import Mode, ScoreParams

# AgentExecutor is resolved lazily by __getattr__ (it needs OpenRLHF), so it is not in __all__.
__all__ = ["LaunchGroups", "remote_url"]

log = logging.getLogger(__name__)

if __name__ == "reward_func":  # the name OpenRLHF gives a --reward.remote_url .py file
    raise ImportError(
        "hero_client.integrations.openrlhf is not a reward_func file: OpenRLHF calls reward_func in a "
        "bounded thread pool, one sample per call, and a group's reward would block a thread per sample "
        "until the group is complete, which starves the pool. Pass this file as "
        "--train.agent_func_path instead (no threads), or use remote_url(...) for --reward.remote_url."
    )

ROUTE = "/get_reward"


def remote_url(
    base: str | Sequence[str],
    *,
    group_size: int,
    mode: Mode | None = "hero",
    api_key: str | None = None,
    **params: Any,
) -> str:
    """The value for ``--reward.remote_url``: ``/get_reward`` on each base URL, with the group size
    (= ``--rollout.n_samples_per_prompt``), the mode, other ``ScoreParams`` and the key as a query string.
    Several bases are joined with commas (OpenRLHF splits on them and rotates).
    """
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    checked = ScoreParams.model_validate({"mode": mode, **params})  # a typo fails here, not mid-run
    query: dict[str, Any] = {"group_size": group_size, **_query(checked)}
    if api_key:
        query["key"] = api_key
    bases = [base] if isinstance(base, str) else list(base)
    # urlencode escapes commas, which would otherwise split the URL list.
    return ",".join(_with_route(b) + "?" + urlencode(query) for b in bases)


def _with_route(base: str) -> str:
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{base!r} is not an http(s) base URL")
    path = parts.path.rstrip("/")
    if not path.endswith(ROUTE):
        path += ROUTE
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _query(params: ScoreParams) -> dict[str, str | int | float]:
    out: dict[str, str | int | float] = {}
    for key, value in params.model_dump(exclude_none=True).items():
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


# The launch slot of the sample whose ``execute`` is running in this task.
_current_slot: contextvars.ContextVar[Slot | None] = contextvars.ContextVar("hero_launch_slot", default=None)


@functools.cache
def _executor_class() -> type:
    # Built on first access so that importing this module (for remote_url) never imports OpenRLHF.
    base: Any = importlib.import_module("openrlhf.utils.agent").SingleTurnAgentExecutor

    class AgentExecutor(base):  # type: ignore[misc]
        """OpenRLHF's single-turn executor, with each prompt's samples scored as one group."""

        def __init__(self, settings: AdapterSettings | None = None,
                     transport: httpx.AsyncBaseTransport | None = None) -> None:
            super().__init__(remote_rm_url=None)
            self.reward_endpoints = ["hero-reward"]  # execute() fetches a reward for every sample
            self.settings = settings or AdapterSettings.resolve()
            self._query: dict[str, str | int | float] = _query(self.settings.params)
            self._transport = transport
            self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
            self.groups = LaunchGroups(self._post)

        async def execute(self, prompt: Any, label: Any, *args: Any, **kwargs: Any) -> Any:
            slot = self.groups.enter(prompt, label)
            token = _current_slot.set(slot)
            try:
                return await super().execute(prompt, label, *args, **kwargs)
            finally:
                _current_slot.reset(token)
                self.groups.leave(slot)

        async def _fetch_rewards_via_http(self, queries: list[str], prompts: list[str],
                                          labels: list[Any]) -> list[dict[str, Any]]:
            slot = _current_slot.get()
            if slot is not None and len(queries) == 1:
                return [await self.groups.submit(slot, queries[0])]
            # Not from execute(): these samples are their own group.
            try:
                return [await self._post(list(queries), list(prompts), list(labels))]
            except Exception as exc:  # noqa: BLE001 - a raised error would cost OpenRLHF the run
                log.warning("hero-reward: %d samples not scored (reward 0, server_error=1): %s", len(queries), exc)
                return [failed_answer(len(queries))]

        async def _post(self, queries: list[str], prompts: list[str], labels: list[Any]) -> dict[str, Any]:
            # httpx's async connections belong to the loop that opened them.
            loop = asyncio.get_running_loop()
            client = self._clients.get(loop)
            if client is None:
                client = self._clients[loop] = self.settings.async_client(self._transport)
            answer = await client.get_reward(queries, prompts, [to_jsonable(x) for x in labels], **self._query)
            return answer.model_dump()

    return AgentExecutor


def __getattr__(name: str) -> Any:
    if name == "AgentExecutor":
        return _executor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
