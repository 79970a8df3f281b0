"""Slow clients over real sockets: header and body deadlines, and the connection cap."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from hero_service.settings import Settings

from .conftest import LengthRM, Served


@pytest.fixture
def slow_server(make_server: Callable[..., Served]) -> Served:
    return make_server(Settings(verifier_workers=1, header_timeout_s=1.0, body_timeout_s=1.5),
                       reward_model=LengthRM())


def _connect(served: Served) -> socket.socket:
    url = urlsplit(served.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=5)
    sock.settimeout(0.05)
    return sock


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed its side (EOF or reset); a reply before that is ignored."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _closed(sock):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _trickle(sock: socket.socket, data: bytes, every_s: float) -> Iterator[float]:
    """Send ``data`` one byte every ``every_s``; yield the seconds elapsed after each byte."""
    start = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # the server closed the connection: report when
            yield time.monotonic() - start
            return
        time.sleep(every_s)
        yield time.monotonic() - start


def test_a_client_trickling_headers_is_cut_off(slow_server: Served) -> None:
    sock = _connect(slow_server)
    headers = b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"  # never ends
    cut_at = None
    for elapsed in _trickle(sock, headers[:25], 0.1):  # 25 bytes over 2.5 s, under uvicorn's 5 s keep-alive
        if _closed(sock):
            cut_at = elapsed
            break
    assert cut_at is not None, "the connection is still open after 2.5 s of trickled headers"
    assert 0.9 < cut_at < 2.0
    assert httpx.get(f"{slow_server.base_url}/ready").status_code == 200


def test_a_silent_connection_is_closed(slow_server: Served) -> None:
    sock = _connect(slow_server)
    started = time.monotonic()
    assert _closed_within(sock, 3)
    assert time.monotonic() - started > 0.9


def test_a_client_trickling_its_body_gets_408(slow_server: Served) -> None:
    body = json.dumps({"groups": [{"reference": "1", "responses": ["\\boxed{1}"]}]}).encode()
    sock = _connect(slow_server)
    sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body))
    reply = b""
    for _ in _trickle(sock, body[:30], 0.1):  # 30 of its bytes over 3 s
        try:
            reply += sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if b"\r\n\r\n" in reply:
            break
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert b"HERO_BODY_TIMEOUT_S" in reply
    assert _closed_within(sock, 2)


def test_a_keep_alive_client_is_not_cut_off(slow_server: Served) -> None:
    with httpx.Client(base_url=slow_server.base_url) as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
            time.sleep(0.5)  # idle under the header deadline between requests


def test_connections_above_the_cap_get_503(make_server: Callable[..., Served]) -> None:
    served = make_server(Settings(verifier_workers=1, max_connections=3, header_timeout_s=30),
                         reward_model=LengthRM())
    held = [_connect(served) for _ in range(3)]
    time.sleep(0.2)
    reply = httpx.get(f"{served.base_url}/health")
    assert reply.status_code == 503
    for sock in held:
        sock.close()
    time.sleep(0.2)
    assert httpx.get(f"{served.base_url}/health").status_code == 200
