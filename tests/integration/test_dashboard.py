"""The Grafana dashboard parses and plots only metric families the server really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from .conftest import Served

DASHBOARD = Path(__file__).resolve().parents[2] / "helm" / "hero-reward" / "dashboards" / "hero-reward.json"
_METRIC = re.compile(r"\b((?:hero|process)_[a-z_]+)\b")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_dashboard_references_only_exported_metrics(length_server: Served) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {_family(m) for expr in exprs for m in _METRIC.findall(expr)}
    exposition = httpx.get(f"{length_server.base_url}/metrics").text
    exported = {_family(line.split()[2]) for line in exposition.splitlines() if line.startswith("# TYPE ")}
    assert used, "the dashboard plots nothing"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    # Every family the server exports for operators is on the dashboard.
    ours = {name for name in exported if name.startswith("hero_")}
    assert ours <= used, f"not plotted: {sorted(ours - used)}"
