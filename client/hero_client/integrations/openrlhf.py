"""OpenRLHF adapter (``--reward.remote_url``, ``--remote_rm_url`` before v0.10.2).

Two ways in; both reach the server's ``/get_reward`` (OpenRLHF's own contract):

1. OpenRLHF's built-in HTTP client, pointed at the URL that ``remote_url`` builds. It sends no headers,
   so the group size, the parameters and the API key travel in the query string::

       --reward.remote_url "$(python -c 'from hero_client.integrations.openrlhf import remote_url;
                              print(remote_url("http://hero:8000", group_size=8))')"

2. This file as OpenRLHF's ``reward_func`` (OpenRLHF loads a ``.py`` path and calls ``reward_func`` in a
   thread per sample). It adds what the built-in client lacks: the API key in a header, retries with
   backoff that honour ``Retry-After``, several servers, a configurable timeout. Configure it with
   ``HERO_URL``, ``HERO_GROUP_SIZE`` (= ``--rollout.n_samples_per_prompt``), ``HERO_API_KEY``, ...::

       --reward.remote_url $(python -c 'import hero_client.integrations.openrlhf as m; print(m.__file__)')

Either way, use ``--algo.advantage.estimator dr_grpo`` (mean-only centring): ``group_norm`` divides by
the group std, which cancels HERO's weight and bands. Imports here are absolute because OpenRLHF loads
this module from its file path.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from hero_client._client import ParamsLike
from hero_client._exceptions import HeroError
from hero_client.integrations._common import AdapterSettings, to_jsonable
from hero_client.schemas import Mode, ScoreParams

__all__ = ["OpenRLHFReward", "remote_url", "reward_func"]

log = logging.getLogger(__name__)

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


class OpenRLHFReward:
    """OpenRLHF's ``reward_func(queries, prompts, labels)`` as an object, posting to ``/get_reward``.

    Returns per-sample lists aligned with ``queries``: ``rewards``, ``scores`` and numeric ``extra_logs``.
    When the server cannot be reached after the retries it returns zeros flagged ``server_error`` instead
    of raising, because OpenRLHF turns a failed reward into a crash of the whole run.
    """

    def __init__(
        self,
        url: str | Sequence[str] | None = None,
        *,
        group_size: int | None = None,
        params: ParamsLike | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        overrides: dict[str, Any] = {"url": url, "group_size": group_size, "api_key": api_key,
                                     "timeout": timeout, "retries": retries}
        if params is not None:
            overrides["params"] = ScoreParams.model_validate(params).model_dump(exclude_none=True)
        self.settings = AdapterSettings.resolve(overrides)
        self._client = self.settings.client(transport)
        self._query: dict[str, str | int | float] = _query(self.settings.params)
        if self.settings.group_size is not None:
            self._query["group_size"] = self.settings.group_size
        # extra_logs keys of the last good answer, so a failed one logs the same keys (OpenRLHF merges
        # per-sample logs by key).
        self._log_keys: tuple[str, ...] = ("ungradable",)

    def __call__(
        self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any
    ) -> dict[str, Any]:
        labels = [to_jsonable(label) for label in labels]
        try:
            answer = self._client.get_reward(queries, prompts, labels, **self._query)
        except HeroError as exc:
            log.warning("hero-reward: %d samples not scored (reward 0, server_error=1): %s", len(queries), exc)
            zeros = [0.0] * len(queries)
            logs = dict.fromkeys(self._log_keys, zeros) | {"ungradable": [1.0] * len(queries),
                                                            "server_error": [1.0] * len(queries)}
            return {"rewards": zeros, "scores": zeros, "extra_logs": logs}
        self._log_keys = tuple(k for k in answer.extra_logs if k != "server_error")
        logs = dict(answer.extra_logs)
        logs.setdefault("server_error", [0.0] * len(queries))
        return {"rewards": answer.rewards, "scores": answer.scores, "extra_logs": logs}

    def close(self) -> None:
        self._client.close()


@functools.cache
def _reward_for(settings_json: str) -> OpenRLHFReward:
    # OpenRLHF's contract is a bare function called per sample from threads, so the connection pool
    # lives here, one per distinct configuration (HeroClient is thread-safe).
    settings = json.loads(settings_json)
    return OpenRLHFReward(settings.pop("urls"), **settings)


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any
) -> dict[str, Any]:
    """OpenRLHF's ``reward_func``: configured by ``HERO_*`` environment variables."""
    s = AdapterSettings.resolve()
    key = json.dumps({"urls": list(s.urls), "group_size": s.group_size, "api_key": s.api_key,
                      "timeout": s.timeout, "retries": s.retries,
                      "params": s.params.model_dump(exclude_none=True)}, sort_keys=True)
    return _reward_for(key)(queries, prompts, labels, **kwargs)
