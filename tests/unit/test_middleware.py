"""Request ids: a client's X-Request-ID is kept only when it cannot forge a log line."""

from __future__ import annotations

import re

import pytest

from hero_service.middleware import request_id_from

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("header", [b"abc-123", b"0af7651916cd43dd8448eb211c80319c", b"trace:span/1.2+x=y_z",
                                    b"a" * 128])
def test_safe_ids_are_kept(header: bytes) -> None:
    assert request_id_from(header) == header.decode()


@pytest.mark.parametrize("header", [b"abc] ERROR hero_service.scorer [forged", b"a\nb", b"a\r\nX: y", b"a" * 129,
                                    b"", b"caf\xc3\xa9", b'"quoted"', b"tab\there", None])
def test_unsafe_or_missing_ids_are_replaced(header: bytes | None) -> None:
    assert GENERATED.fullmatch(request_id_from(header))
