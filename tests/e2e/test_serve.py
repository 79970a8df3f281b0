"""The README's serve command as a real process: it comes up ready, scores, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = _free_port()
    env = {**os.environ, "HERO_VERIFIER_WORKERS": "2", "HF_HUB_OFFLINE": "1"}
    env.pop("HERO_RM_MODEL", None)
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "hero_service", "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("server never became ready:\n" + (tmp_path / "server.log").read_text())
        yield proc, base, tmp_path / "server.log"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        log.close()


def test_serve_scores_and_shuts_down_on_sigterm(server: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    proc, base, log = server
    request = {"groups": [{"id": "g1", "prompt": "What is 6 * 7?", "reference": "42",
                           "responses": ["6 * 7 = 42, so \\boxed{42}.", "\\boxed{41}"]}]}
    body = httpx.post(f"{base}/score", json=request, timeout=60).json()
    assert body["groups"][0]["verifier"] == [1, 0]
    assert body["groups"][0]["rewards"][0] > body["groups"][0]["rewards"][1]
    proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once its graceful shutdown is done, so -SIGTERM is a clean exit.
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log.read_text()


def test_invalid_settings_exit_with_a_fix_it_message() -> None:
    env = {**os.environ, "HERO_ALPHA": "0.7", "HERO_BETA": "0.6"}
    done = subprocess.run([sys.executable, "-m", "hero_service", "serve"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "HERO_ALPHA + HERO_BETA must be < 1" in done.stderr
