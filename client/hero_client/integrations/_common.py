"""What the trainer adapters share: settings from the environment, group ids, JSON conversion."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from hero_client._client import AsyncHeroClient, HeroClient
from hero_client._config import Retries
from hero_client.ids import group_id, to_jsonable
from hero_client.schemas import ScoreParams

__all__ = ["AdapterSettings", "AdvantageNormalizationWarning", "group_id", "to_jsonable", "to_reference"]

DEFAULT_URL = "http://127.0.0.1:8000"


class AdvantageNormalizationWarning(UserWarning):
    """The trainer divides advantages by the group std, which cancels HERO's weight and bands."""


def warn_std_normalization(setting: str) -> None:
    """Say which trainer setting to change; called once per adapter instance."""
    warnings.warn(
        "The trainer divides each group's advantages by the group's reward std. That cancels HERO's "
        f"variance-aware weight and its band widths exactly. Set {setting} for mean-only centring.",
        AdvantageNormalizationWarning,
        stacklevel=3,
    )


ENV_PREFIX = "HERO_CLIENT_"
"""The adapters' environment variables; ``HERO_`` alone is the server's."""


def _env(env: Mapping[str, str], name: str) -> str | None:
    """``HERO_CLIENT_<name>``, else the deprecated ``HERO_<name>`` (with a warning), else None."""
    if value := env.get(ENV_PREFIX + name):
        return value
    if value := env.get("HERO_" + name):
        warnings.warn(f"HERO_{name} is deprecated for the trainer adapters: set {ENV_PREFIX}{name} "
                      "(HERO_ alone is the server's namespace)", DeprecationWarning, stacklevel=4)
        return value
    return None


@dataclass(frozen=True, slots=True)
class AdapterSettings:
    """How an adapter reaches the server. Built by ``resolve`` from keyword overrides, then these
    environment variables, then defaults:

    ``HERO_CLIENT_URL`` (comma-separated base URLs), ``HERO_CLIENT_API_KEY``, ``HERO_CLIENT_GROUP_SIZE``,
    ``HERO_CLIENT_MODE``, ``HERO_CLIENT_SESSION``, ``HERO_CLIENT_PARAMS`` (a JSON object of further
    ``ScoreParams``), ``HERO_CLIENT_TIMEOUT`` (seconds), ``HERO_CLIENT_RETRIES`` (attempts). The same names
    without ``CLIENT_`` (``HERO_URL``, ...) still work, with a DeprecationWarning: ``HERO_`` alone is the
    server's namespace, where ``HERO_MODE`` is the server's default mode.
    """

    urls: tuple[str, ...] = (DEFAULT_URL,)
    api_key: str | None = None
    group_size: int | None = None
    params: ScoreParams = field(default_factory=ScoreParams)
    timeout: float = 180.0
    retries: int = 5

    # Keyword overrides an adapter accepts (e.g. veRL's reward_kwargs); others are not ours.
    KEYS = frozenset({"url", "api_key", "group_size", "mode", "session", "params", "timeout", "retries"})

    @classmethod
    def resolve(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> AdapterSettings:
        """Settings from ``overrides`` (keys in ``KEYS``; others ignored), then the environment."""
        env = os.environ if environ is None else environ
        over = {k: v for k, v in (overrides or {}).items() if k in cls.KEYS and v is not None}

        url = over.get("url", _env(env, "URL") or DEFAULT_URL)
        urls = tuple(u.strip() for u in url.split(",") if u.strip()) if isinstance(url, str) else tuple(url)
        size = over.get("group_size", _env(env, "GROUP_SIZE"))

        params_json = _env(env, "PARAMS")
        params: dict[str, Any] = json.loads(params_json) if params_json else {}
        for key in ("mode", "session"):
            if (value := _env(env, key.upper())) is not None:
                params[key] = value
        params.update(dict(over.get("params", {})))
        params.update({k: over[k] for k in ("mode", "session") if k in over})

        return cls(
            urls=urls,
            api_key=over.get("api_key", _env(env, "API_KEY")),
            group_size=int(size) if size is not None else None,
            params=ScoreParams.model_validate(params),
            timeout=float(over.get("timeout", _env(env, "TIMEOUT") or 180.0)),
            retries=int(over.get("retries", _env(env, "RETRIES") or 5)),
        )

    @property
    def client_key(self) -> tuple[Any, ...]:
        """What the client depends on: adapters cache one client per distinct key."""
        return (self.urls, self.api_key, self.timeout, self.retries)

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))

    def client(self, transport: httpx.BaseTransport | None = None) -> HeroClient:
        return HeroClient(self.urls, api_key=self.api_key, timeout=self._timeout(),
                          retries=Retries(self.retries), transport=transport)

    def async_client(self, transport: httpx.AsyncBaseTransport | None = None) -> AsyncHeroClient:
        return AsyncHeroClient(self.urls, api_key=self.api_key, timeout=self._timeout(),
                               retries=Retries(self.retries), transport=transport)


def to_reference(value: Any) -> Any:
    """A reference answer for the wire: JSON-clean, and a one-element list unwrapped (parquet often
    stores a single answer as a length-1 array)."""
    plain = to_jsonable(value)
    while isinstance(plain, list) and len(plain) == 1:
        plain = plain[0]
    return plain
