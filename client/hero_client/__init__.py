"""hero-reward's thin client: ``HeroClient`` / ``AsyncHeroClient``, the wire schemas, and trainer adapters
in ``hero_client.integrations`` (imported on demand; each imports its trainer lazily).

Needs only httpx, pydantic and tenacity: no torch, no trainer.
"""

from __future__ import annotations

from hero_client._client import AsyncHeroClient, HeroClient
from hero_client._config import Retries
from hero_client._exceptions import (
    AuthenticationError,
    DecodingError,
    HeroError,
    HeroStatusError,
    InvalidRequestError,
    OverloadedError,
    TransportError,
)
from hero_client._types import ScoredResponse
from hero_client.schemas import (
    GroupIn,
    GroupOut,
    HealthResponse,
    InfoResponse,
    Message,
    OpenRLHFResponse,
    ResolvedParams,
    ScoreParams,
    ScoreRequest,
    ScoreResponse,
)

__all__ = [
    "AsyncHeroClient",
    "AuthenticationError",
    "DecodingError",
    "GroupIn",
    "GroupOut",
    "HealthResponse",
    "HeroClient",
    "HeroError",
    "HeroStatusError",
    "InfoResponse",
    "InvalidRequestError",
    "Message",
    "OpenRLHFResponse",
    "OverloadedError",
    "ResolvedParams",
    "Retries",
    "ScoreParams",
    "ScoreRequest",
    "ScoreResponse",
    "ScoredResponse",
    "TransportError",
]
