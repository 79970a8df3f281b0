"""The HTTP answers of errors: the service's error tree (``hero_service.errors``) through one handler, and
request validation errors whatever input they echo."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from hero_client.schemas import clean_text
from hero_service.errors import ServiceError


def json_safe(value: Any) -> Any:
    """``value`` with what strict JSON cannot carry made printable: NaN and +-Infinity become the strings
    Python's json writes for them, lone surrogates become U+FFFD. Error answers echo client input, and
    JSON (RFC 8259) allows neither, so without this a bad request would become a 500."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": json_safe(detail)}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map the domain errors to HTTP answers that say what to do."""

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own handler fails on the input it echoes when that is NaN or a lone surrogate.
        assert isinstance(exc, RequestValidationError)
        return _error(422, jsonable_encoder(exc.errors()))

    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return _error(exc.status, exc.detail(), exc.headers() or None)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ServiceError, service_error)
