"""A server that cannot start says why in one line and exits non-zero, instead of "starting" forever."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def _serve(model: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HERO_", "HF_"))}
    full.update({"HERO_VERIFIER_WORKERS": "1", **env})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hero_service", "serve", "--model", model, "--port", str(port)],
                          env=full, capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - t0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connections to it are refused


def test_a_missing_model_directory_exits_with_one_line(tmp_path: Path) -> None:
    done, took = _serve("/no/such/dir", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path))
    assert done.returncode == 1
    assert took < 60
    naming = [line for line in done.stderr.splitlines() if "/no/such/dir" in line]
    assert len(naming) == 1, done.stderr
    assert "no such directory" in naming[0] and "Fix:" in naming[0]
    assert "Traceback" not in done.stderr


def test_an_unreachable_hub_fails_fast_with_one_line(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    done, took = _serve("someorg/some-reward-model", HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path))
    assert done.returncode == 1
    assert took < 40  # one bounded probe, not a minute of download retries
    naming = [line for line in done.stderr.splitlines() if "someorg/some-reward-model" in line]
    assert len(naming) == 1, done.stderr
    assert "unreachable" in naming[0] and "Fix:" in naming[0]
    assert "Traceback" not in done.stderr
