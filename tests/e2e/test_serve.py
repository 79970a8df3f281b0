"""The README's serve command as a real process: it comes up ready, scores, logs, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def run(**env_overrides: str) -> Process:
        port = _free_port()
        env = {**os.environ, "HERO_VERIFIER_WORKERS": "2", "HF_HUB_OFFLINE": "1", **env_overrides}
        env.pop("HERO_RM_MODEL", None)
        log = tmp_path / f"server-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "hero_service", "serve", "--port", str(port)],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        process = Process(proc, f"http://127.0.0.1:{port}", log)
        started.append(process)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{process.base_url}/ready", timeout=5).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail("server never became ready:\n" + log.read_text())

    yield run
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
        process.proc.wait(timeout=30)


def test_serve_scores_and_shuts_down_on_sigterm(start: Callable[..., Process]) -> None:
    server = start()
    request = {"groups": [{"id": "g1", "prompt": "What is 6 * 7?", "reference": "42",
                           "responses": ["6 * 7 = 42, so \\boxed{42}.", "\\boxed{41}"]}]}
    body = httpx.post(f"{server.base_url}/score", json=request, timeout=60).json()
    assert body["groups"][0]["verifier"] == [1, 0]
    assert body["groups"][0]["rewards"][0] > body["groups"][0]["rewards"][1]
    server.proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once its graceful shutdown is done, so -SIGTERM is a clean exit.
    assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log.read_text()


def test_json_logs_carry_the_request_id_and_never_the_key(start: Callable[..., Process]) -> None:
    secret = "s3cret-key-value"
    server = start(HERO_API_KEYS=secret, HERO_LOG_FORMAT="json")
    reply = httpx.post(f"{server.base_url}/get_reward?key={secret}&group_size=1", timeout=60,
                       json={"query": ["Q \\boxed{1}"], "prompts": ["Q"], "labels": ["1"]},
                       headers={"X-Request-ID": "trace-123"})
    assert reply.status_code == 200
    assert reply.headers["x-request-id"] == "trace-123"
    assert httpx.post(f"{server.base_url}/score", json={"groups": []}).status_code == 401
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=60)
    text = server.log.read_text()
    assert secret not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert records, text
    access = [r for r in records if r["logger"] == "hero_service.access"]
    assert any(r["request_id"] == "trace-123" and "/get_reward 200" in r["message"] for r in access)


def test_invalid_settings_exit_with_a_fix_it_message() -> None:
    env = {**os.environ, "HERO_ALPHA": "0.7", "HERO_BETA": "0.6"}
    done = subprocess.run([sys.executable, "-m", "hero_service", "serve"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "HERO_ALPHA + HERO_BETA must be < 1" in done.stderr
