"""A real Redis on a free localhost port, and replicas as real processes that share it."""

from __future__ import annotations

import os
import shutil
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

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Redis:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI") == "true" or os.environ.get("HERO_REQUIRE_REDIS") == "1":
                pytest.fail("redis-server is missing; .ci/run installs Debian's redis-server")
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        # No persistence: each test run starts from an empty store.
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    """A fresh redis-server for one test (tests may stop and restart it)."""
    server = Redis(free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Callable[..., list[Replica]]]:
    """Start ``n`` replica processes with the given ``HERO_*`` settings; they start in parallel."""
    started: list[Replica] = []

    def launch(n: int, **settings: str) -> list[Replica]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
        env.update({"HERO_VERIFIER_WORKERS": "1", "HERO_LOG_LEVEL": "warning", "HF_HUB_OFFLINE": "1",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
        env.update({f"HERO_{k.upper()}": v for k, v in settings.items()})
        batch = []
        for _ in range(n):
            port = free_port()
            log = tmp_path / f"replica-{port}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tests.integration.shared_state.replica", str(port)],
                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
            batch.append(Replica(proc, f"http://127.0.0.1:{port}", log))
        started.extend(batch)
        deadline = time.monotonic() + 120
        for replica in batch:
            while True:
                try:
                    if httpx.get(f"{replica.base_url}/ready", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or replica.proc.poll() is not None:
                    pytest.fail("replica never became ready:\n" + replica.log.read_text())
                time.sleep(0.1)
        return batch

    yield launch
    for replica in started:
        if replica.proc.poll() is None:
            replica.proc.terminate()
    for replica in started:
        try:
            replica.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            replica.proc.kill()
            replica.proc.wait(timeout=10)
