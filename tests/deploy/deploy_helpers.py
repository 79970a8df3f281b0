"""Shared helpers for the deploy tests: render the chart with the real helm binary, parse the Dockerfile.

helm comes from .deploy-tools/bin/helm (fetched by .ci/get-helm.sh) or PATH; without it the chart tests
skip cleanly, while the Dockerfile-only tests still run.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "hero-reward"
CI_VALUES = CHART / "ci"
DOCKERFILE = ROOT / "Dockerfile"
SERVICEMONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"


def find_helm() -> str | None:
    local = ROOT / ".deploy-tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("helm")


HELM = find_helm()
if HELM is None and os.environ.get("HERO_REQUIRE_HELM") == "1":
    # CI sets this so that a missing helm fails loudly instead of skipping every chart test.
    raise RuntimeError("HERO_REQUIRE_HELM=1 but no helm: run `bash .ci/get-helm.sh .deploy-tools/bin`")
needs_helm = pytest.mark.skipif(HELM is None, reason="helm not found: run `bash .ci/get-helm.sh .deploy-tools/bin`")


class HelmError(Exception):
    pass


@functools.cache
def _template(args: tuple[str, ...]) -> str:
    assert HELM is not None
    proc = subprocess.run([HELM, "template", "t", str(CHART), *args],
                          capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise HelmError(proc.stderr)
    return proc.stdout


def render(*values_files: str, sets: tuple[str, ...] = (), api_versions: tuple[str, ...] = (),
           extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """`helm template` -> manifests. values_files are names under ci/ or paths; sets are --set args."""
    args: list[str] = []
    for f in values_files:
        path = Path(f) if "/" in f else CI_VALUES / f
        args += ["-f", str(path)]
    for s in sets:
        args += ["--set", s]
    for a in api_versions:
        args += ["--api-versions", a]
    args += list(extra)
    return [d for d in yaml.safe_load_all(_template(tuple(args))) if d]


def helm_fails(*args: str) -> str:
    """Run `helm template` expecting failure; return stderr."""
    assert HELM is not None
    proc = subprocess.run([HELM, "template", "t", str(CHART), *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0, f"helm template {' '.join(args)} unexpectedly succeeded"
    return proc.stderr


def kinds(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def is_state_store(doc: dict[str, Any]) -> bool:
    """The chart's optional Redis (stateStore.redis), apart from the server's own objects."""
    return bool(doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "state-store")


def is_rm_engine(doc: dict[str, Any]) -> bool:
    """The chart's optional vLLM for the reward model (rmEngine.vllm)."""
    return bool(doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "rm-engine")


def one(docs: list[dict[str, Any]], kind: str, *, state_store: bool = False, rm_engine: bool = False
        ) -> dict[str, Any]:
    """The one server object (or, with ``state_store``/``rm_engine``, the one Redis/vLLM object) of ``kind``."""
    found = [d for d in docs if d["kind"] == kind and "helm.sh/hook" not in d["metadata"].get("annotations", {})
             and is_state_store(d) == state_store and is_rm_engine(d) == rm_engine]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment")["spec"]["template"]["spec"]


def server(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = pod_spec(docs)["containers"]
    assert [c["name"] for c in containers] == ["server"]
    return containers[0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> EnvVar; duplicated names are an error (the last would silently win)."""
    names = [e["name"] for e in container.get("env", [])]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicated env vars: {dupes}"
    return {e["name"]: e for e in container.get("env", [])}


def chart_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


# --- Dockerfile -------------------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [v for k, v in self.instructions if k == instruction]

    def last(self, instruction: str) -> str | None:
        values = self.all(instruction)
        return values[-1] if values else None


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def env(self) -> dict[str, str]:
        """ENV of the final stage (the image's environment), later values winning."""
        env: dict[str, str] = {}
        for value in self.final.all("ENV"):
            for token in shlex.split(value):
                key, _, val = token.partition("=")
                env[key] = val
        return env

    def exec_form(self, instruction: str) -> list[str]:
        raw = self.final.last(instruction)
        assert raw is not None, f"no {instruction} in the final stage"
        parsed = json.loads(raw)  # exec form is a JSON array; shell form raises here
        assert isinstance(parsed, list) and all(isinstance(x, str) for x in parsed)
        return parsed


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """A small Dockerfile parser: continuation lines, comments, stages, instructions. Heredocs unused."""
    logical: list[str] = []
    buf = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker too
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif not stages:
            assert instruction == "ARG", f"only ARG may precede FROM, got {instruction}"
            key, _, default = rest.partition("=")
            global_args[key] = default.strip('"')
        else:
            stages[-1].instructions.append((instruction, rest))
    return Dockerfile(global_args=global_args, stages=stages)
