"""Which group store and sigma book the state settings name: this process's, or Redis shared by replicas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hero_service.groups.assembler import GroupAssembler
from hero_service.groups.records import CODEC, Combined, Part
from hero_service.groups.store import GroupStore, MemorySigma, MemoryStore, RedisSigma, RedisStore, SigmaBook
from hero_service.hero import SigmaTracker
from hero_service.metrics import Metrics
from hero_service.settings import StateSettings

Close = Callable[[str, list[Part], bool], Awaitable[Combined]]
"""Scores a closed group once: the scorer's, handed to the store it is built with."""

Groups = Callable[[Close], tuple[GroupStore[Part, Combined], SigmaBook]]
"""Builds the group store and the sigma book around the scorer's close."""


def group_backend(settings: StateSettings, sigma: SigmaTracker, *, momentum: float, metrics: Metrics) -> Groups:
    """The store and book ``settings`` name (HERO_STATE_URL unset: in memory), built once the scorer's
    close exists. ``sigma`` is this process's tracker: the book itself in memory, Redis's fallback."""
    local = MemorySigma(sigma)

    def partial(_id: str, _got: int, _size: int) -> None:
        metrics.partial_groups.inc()

    def state_error(kind: str) -> None:
        metrics.state_errors.labels(error=kind).inc()

    def build(close: Close) -> tuple[GroupStore[Part, Combined], SigmaBook]:
        if settings.state_url is None:
            assembler = GroupAssembler[Part, Combined](deadline_s=settings.group_deadline_s, close=close,
                                                       on_partial=partial)
            return MemoryStore(assembler), local
        store = RedisStore[Part, Combined](
            url=settings.state_url,
            password=settings.state_password,
            prefix=settings.state_prefix,
            ttl_s=settings.state_ttl_s,
            deadline_s=settings.group_deadline_s,
            codec=CODEC,
            close=close,
            on_partial=partial,
            on_error=state_error,
        )
        book = RedisSigma(store, prefix=settings.state_prefix, ttl_s=settings.state_ttl_s, momentum=momentum,
                          fallback=local, on_error=state_error)
        return store, book

    return build
