"""Progress of an offline scoring run: a bar with rate and ETA on a terminal, a plain line log otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@dataclass(slots=True)
class Meter:
    """Counts, rate and ETA of a run of ``total`` groups; ``clock`` is injectable for tests."""

    total: int
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    responses: int = 0
    failed: int = 0
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def advance(self, groups: int, responses: int, failed: int = 0) -> None:
        """``groups`` more done, ``failed`` of them not scored (bad lines), ``responses`` scored."""
        self.done += groups
        self.responses += responses
        self.failed += failed

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    @property
    def rate(self) -> float:
        """Groups per second so far (0 before any time has passed)."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None until there is a rate."""
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None

    def line(self) -> str:
        eta = self.eta
        left = "?" if eta is None else _clock(eta)
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"scored {self.done - self.failed}/{self.total} groups ({self.responses} responses){failed} in "
                f"{_clock(self.elapsed)}, {self.rate:.2f} groups/s, ETA {left}")


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ProgressView(Protocol):
    def advance(self, groups: int, responses: int, failed: int = 0) -> None: ...

    def close(self) -> None: ...


class LineLog:
    """One plain line per update, at most every ``interval`` seconds (and always the last one)."""

    def __init__(self, meter: Meter, stream: TextIO, interval: float = 5.0) -> None:
        self._meter = meter
        self._stream = stream
        self._interval = interval
        self._last: float | None = None

    def advance(self, groups: int, responses: int, failed: int = 0) -> None:
        self._meter.advance(groups, responses, failed)
        now = self._meter.clock()
        if self._meter.done >= self._meter.total or self._last is None or now - self._last >= self._interval:
            self._last = now
            self._stream.write(self._meter.line() + "\n")
            self._stream.flush()

    def close(self) -> None:
        return None


class Bar:
    """A rich progress bar: groups done of total, groups/s, and the time left."""

    def __init__(self, meter: Meter, stream: TextIO) -> None:
        self._meter = meter
        self._progress = Progress(
            TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("groups"),
            TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(file=stream), transient=False,
        )
        self._task = self._progress.add_task("score", total=meter.total, rate="- groups/s")
        self._progress.start()

    def advance(self, groups: int, responses: int, failed: int = 0) -> None:
        self._meter.advance(groups, responses, failed)
        note = f", {self._meter.failed} failed" if self._meter.failed else ""
        self._progress.update(self._task, advance=groups, rate=f"{self._meter.rate:.2f} groups/s{note}")

    def close(self) -> None:
        self._progress.stop()


def progress_view(total: int, stream: TextIO) -> ProgressView:
    """A bar when ``stream`` is a terminal, else the line log."""
    meter = Meter(total)
    return Bar(meter, stream) if stream.isatty() else LineLog(meter, stream)
