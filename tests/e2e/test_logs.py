"""What the served process writes to its log at a given level."""

from __future__ import annotations

import signal
from collections.abc import Callable

from .conftest import Process


def test_warning_level_shows_no_weight_loading_progress_bars(start: Callable[..., Process]) -> None:
    server = start(HERO_LOG_LEVEL="warning")  # the fixture polls /ready until the model is loaded
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=60)
    text = server.log.read_text()
    assert "Loading weights" not in text and "it/s]" not in text, text
