"""The service's error tree. Each error carries what the HTTP layer needs to answer it (status, Retry-After,
the ``loc`` of a named field); the routes map them all with one handler (``hero_service.api``).

    ServiceError                      500 (never raised itself)
    |-- ParamsError                   422  a parameter the math cannot honour; loc body.params.<field>
    |-- ConflictError                 409  a part disagrees with its group; loc names the field
    |-- TooLargeError                 413  a size limit, named with its setting
    |-- UnauthorizedError             401  no valid API key
    |-- QueueFullError                429  the RM queue is full; Retry-After from the drain rate
    `-- UnavailableError              503  retry later
        |-- NotServingError                starting, draining or failed startup; Retry-After 5
        |-- RequestTimeoutError            past HERO_REQUEST_TIMEOUT_S; Retry-After 5
        `-- StateUnavailableError          the shared group state (Redis) cannot be reached; Retry-After 2
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """An error the service answers deliberately: ``status`` and ``headers`` are the HTTP answer."""

    status: ClassVar[int] = 500
    retry_after: float | None = None
    """Seconds the client should wait before retrying, sent as Retry-After; None: no header."""

    def detail(self) -> Any:
        """The body's ``detail``: a message, or FastAPI-style entries with a ``loc``."""
        return str(self)

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}


class ParamsError(ServiceError, ValueError):
    """A parameter combination the math cannot honour; ``field`` names the parameter to fix."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def detail(self) -> Any:
        return [{"loc": ["body", "params", self.field], "msg": self.message, "type": "value_error"}]


class ConflictError(ServiceError):
    """A part disagrees with its group, or reuses a part key with other content (HTTP 409).

    ``field`` names what disagrees: ``group_size``, ``part_id`` or ``params.<name>``."""

    status = 409

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.entry: int | None = None
        """The index of the request's group entry, set by whoever knows it."""

    def detail(self) -> Any:
        head, dot, name = self.field.partition(".")
        loc: list[str | int] = ["body", "params", name] if head == "params" and dot else \
            ["body", "groups", *([] if self.entry is None else [self.entry]), self.field]
        return [{"loc": loc, "msg": self.message, "type": "conflict"}]


class TooLargeError(ServiceError):
    """The request exceeds a size limit (413); the message names the limit and its setting."""

    status = 413


class UnauthorizedError(ServiceError):
    """No valid API key (401)."""

    status = 401

    def __init__(self) -> None:
        super().__init__("missing or invalid API key: send 'Authorization: Bearer <key>'")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class QueueFullError(ServiceError):
    """The RM queue is at capacity; the caller should answer 429 with ``retry_after`` seconds."""

    status = 429

    def __init__(self, retry_after: float = 1.0) -> None:
        super().__init__(f"reward model queue is full; retry in {retry_after:.0f}s")
        self.retry_after = retry_after


class UnavailableError(ServiceError):
    """The service cannot answer now; the client should retry after Retry-After seconds (503)."""

    status = 503
    retry_after = 5.0


class NotServingError(UnavailableError):
    """The server is starting, draining or failed; the client should retry later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RequestTimeoutError(UnavailableError):
    """A request took longer than HERO_REQUEST_TIMEOUT_S; retry it, or send fewer groups."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the request took longer than HERO_REQUEST_TIMEOUT_S ({timeout_s:g} s); "
                         "retry, or send fewer groups")


class StateUnavailableError(UnavailableError):
    """The shared state backend cannot be reached; parts of a group cannot be assembled without it."""

    retry_after = 2.0
