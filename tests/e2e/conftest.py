"""Start the real ``hero-reward serve`` process on a free localhost port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def run(*, factory: bool = False, **env_overrides: str) -> Process:
        """``hero-reward serve``, or with ``factory`` the app as a plain ASGI server starts it."""
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_")}
        env.update({"HERO_VERIFIER_WORKERS": "2", "HF_HUB_OFFLINE": "1", **env_overrides})
        log = tmp_path / f"server-{port}.log"
        with log.open("wb") as out:
            argv = ["uvicorn", "--factory", "hero_service.app:create_app"] if factory else \
                ["hero_service", "serve"]
            proc = subprocess.Popen([sys.executable, "-m", *argv, "--port", str(port)],
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
