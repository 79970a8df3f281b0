"""The exceptions the client raises. Everything derives from ``HeroError``::

    HeroError
    ├── TransportError                 no answer: connect/read/write failed or timed out   (retried)
    ├── DecodingError                  an answer that is not the wire format (or not decodable)
    └── HeroStatusError                a non-2xx answer; .status_code, .detail, .response
        ├── AuthenticationError        401, 403: missing or wrong API key
        ├── InvalidRequestError        422, 413: the request itself is wrong or too large
        └── OverloadedError            429, 503: try again later; .retry_after            (retried)

Only ``TransportError`` and ``OverloadedError`` are retried: a 4xx would fail again, and a 500 means a
server bug that a retry would hammer rather than fix. After the last attempt the last error is raised.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "AuthenticationError",
    "DecodingError",
    "HeroError",
    "HeroStatusError",
    "InvalidRequestError",
    "OverloadedError",
    "TransportError",
]


class HeroError(Exception):
    """Base class of every error the client raises."""


class TransportError(HeroError):
    """The request got no HTTP answer: the connection failed, broke or timed out."""


class DecodingError(HeroError):
    """The server answered 2xx with a body that does not match the wire format."""


class HeroStatusError(HeroError):
    """The server answered with a non-2xx status.

    ``detail`` is the ``detail`` member of a JSON error body (FastAPI's convention: a string, or a
    list of ``{"loc", "msg", "type"}`` entries for a 422), else the body text.
    """

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code
        self.detail: Any = _detail(response)


class AuthenticationError(HeroStatusError):
    """401 or 403: the server wants an API key (``api_key=``) and got none or a wrong one."""


class InvalidRequestError(HeroStatusError):
    """422 (a field is invalid; ``detail`` says which) or 413 (the body is too large)."""


class OverloadedError(HeroStatusError):
    """429 or 503: the server is busy or not ready. ``retry_after`` is its hint in seconds, or None."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message, response=response)
        self.retry_after = _retry_after(response)


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return body.get("detail", body) if isinstance(body, dict) else body


def _retry_after(response: httpx.Response) -> float | None:
    # Only the delta-seconds form: our server sends it, and an HTTP date would need clock agreement.
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds)


def status_error(response: httpx.Response) -> HeroStatusError:
    """The exception for a non-2xx response."""
    code = response.status_code
    message = f"{response.request.method} {response.request.url.copy_with(query=None)} -> {code}"
    detail = _detail(response)
    if detail:
        message = f"{message}: {detail}"
    cls: type[HeroStatusError]
    if code in (401, 403):
        cls = AuthenticationError
    elif code in (413, 422):
        cls = InvalidRequestError
    elif code in (429, 503):
        cls = OverloadedError
    else:
        cls = HeroStatusError
    return cls(message, response=response)
