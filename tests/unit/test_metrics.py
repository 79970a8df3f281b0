"""The sigma_ref series: bounded like the sessions, even where nothing reports their eviction (Redis)."""

from __future__ import annotations

import re

from hero_service.metrics import Metrics


def _series(metrics: Metrics) -> list[str]:
    return re.findall(r'^hero_sigma_ref\{session="([^"]+)"\}', metrics.render().decode(), re.MULTILINE)


def test_sigma_ref_series_keep_the_most_recent_sessions() -> None:
    metrics = Metrics(max_sessions=2)
    for name in ["a", "b", "a", "c"]:
        metrics.set_sigma_ref(name, 0.5)
    assert sorted(_series(metrics)) == ["a", "c"]


def test_an_evicted_session_loses_its_series() -> None:
    metrics = Metrics(max_sessions=8)
    metrics.set_sigma_ref("a", 0.5)
    metrics.set_sigma_ref("b", 0.5)
    metrics.drop_sigma_ref("a")
    metrics.drop_sigma_ref("never-seen")  # nothing to drop: no error
    assert _series(metrics) == ["b"]
