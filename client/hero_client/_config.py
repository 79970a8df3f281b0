"""Client configuration objects and defaults."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

__all__ = ["DEFAULT_LIMITS", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "Retries"]

# A part of a group waits on the server until its other parts arrive (HERO_GROUP_DEADLINE_S, 60 s by
# default), so the read timeout must outlast that; 180 s is also what OpenRLHF allows a reward call.
DEFAULT_TIMEOUT = httpx.Timeout(180.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


@dataclass(frozen=True, slots=True)
class Retries:
    """How often, and how patiently, a request is retried.

    Only connection errors, timeouts, 429 and 503 are retried. The wait before retry ``n`` (1-based)
    is the server's ``Retry-After`` when it sent one, else ``backoff * 2 ** (n - 1)``; either is capped
    at ``max_backoff`` and stretched by up to ``jitter`` (a fraction) so that many clients turned away
    together do not come back together.

    Usage::

        HeroClient(url, retries=Retries(8, backoff=1.0))   # at most 8 attempts
        HeroClient(url, retries=1)                         # no retry
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1 (1 = no retry), got {self.attempts}")
        if self.backoff < 0 or self.max_backoff < 0 or self.jitter < 0:
            raise ValueError("backoff, max_backoff and jitter must be >= 0")

    def wait_seconds(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = retry_after if retry_after is not None else self.backoff * 2.0 ** (retry - 1)
        base = min(base, self.max_backoff)
        return base * (1.0 + self.jitter * random.random())


DEFAULT_RETRIES = Retries()
