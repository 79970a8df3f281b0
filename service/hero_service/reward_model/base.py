"""The reward model's contract, shared by the embedded scorer and real HF reward models."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

ChatMessage = dict[str, str]
Prompt = str | list[ChatMessage]

RMStatus = Literal["ok", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class RMItem:
    """One response to score. ``reference`` is only read by reference-similarity scorers."""

    prompt: Prompt
    response: str
    reference: str = ""


@dataclass(frozen=True, slots=True)
class RMScore:
    """A raw model output (no sigmoid); ``score`` is None exactly when ``status`` is not ``ok``."""

    score: float | None
    truncated: bool = False
    status: RMStatus = "ok"


@dataclass(frozen=True, slots=True)
class InProcess:
    """Where an in-process (torch) backend runs its forward pass."""

    device: str
    dtype: str


@dataclass(frozen=True, slots=True)
class RemoteEngine:
    """The inference server a remote backend sends its items to."""

    name: str
    urls: tuple[str, ...]
    served_model: str
    healthy: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``/info`` reports about the RM, whatever runs it; ``runtime`` is the backend's own part."""

    model_id: str
    kind: str
    """``reward-model`` (a sequence classifier) or ``reference-similarity`` (the embedded default)."""
    max_length: int = 0
    """Tokens of one (prompt, response) the model sees; 0: no limit applies (no model)."""
    input: str | None = None
    """How a (prompt, response) reaches the model: ``chat`` (its chat template) or ``pair`` (a text pair)."""
    end_tokens: tuple[str, ...] = ()
    """Tokens a response may end with (EOS, padding): OpenRLHF's queries keep them, the RM must not see them."""
    batching: dict[str, Any] = field(default_factory=dict)
    """How this backend batches and queues items (its own settings, for ``/info``)."""
    runtime: InProcess | RemoteEngine | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Backend notes for people (output head, pooling, ...)."""


class RewardModel(Protocol):
    """An RM engine as the scorer sees it: started once, then scores items from any request."""

    @property
    def info(self) -> ModelInfo: ...

    async def start(self) -> None:
        """Load, warm up and start the batching loop. Ready to score when it returns."""

    async def close(self) -> None:
        """Stop accepting items, finish or fail what is queued, release the model."""

    def score(self, items: Sequence[RMItem]) -> Awaitable[list[RMScore]]:
        """Score ``items``: the awaitable gives one result each, in order.

        All or nothing: an engine with a bounded queue decides admission in this call, and raises
        QueueFullError here with nothing queued, so a refused request costs nothing. (An ``async def``
        implementation raises it when awaited instead, which is as good when nothing else runs first.)
        """
        ...


@runtime_checkable
class EngineHealth(Protocol):
    """An RM whose engine runs elsewhere and can go away after start (the remote backend).

    ``/ready`` follows it; scoring goes on while it is down, with RM status ``error`` per item."""

    @property
    def unavailable_reason(self) -> str | None:
        """Why no engine can score right now, or None while one can."""
        ...
