"""Every Prometheus family the server exports, in one place, on a registry owned by the app."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from hero_service.verifier.verdict import Verdict

# Durations grow geometrically (x2 from 1 ms to ~65 s), sizes in powers of two, as TEI does.
_DURATION_BUCKETS = tuple(0.001 * 2**i for i in range(17))
_SIZE_BUCKETS = tuple(float(2**i) for i in range(11))
_TOKEN_BUCKETS = tuple(float(2**i) for i in range(4, 21))
_REWARD_BUCKETS = (-3.0, -1.0, -0.3, -0.1, -0.03, 0.0, 0.03, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.1, 1.5, 2.0,
                   3.0, 4.0)


class Metrics:
    """The metric families; one instance per app, each on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None, *, max_sessions: int = 1024) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        # Session names are client data: the sigma_ref series are bounded like the sessions themselves.
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, None] = OrderedDict()
        r = self.registry
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu, fds
        PlatformCollector(registry=r)
        self.requests = Counter("hero_requests", "HTTP requests by route and status.",
                                ["route", "status"], registry=r)
        self.in_flight = Gauge("hero_requests_in_flight", "HTTP requests being handled, by route.", ["route"],
                               registry=r)
        self.request_duration = Histogram("hero_request_duration_seconds", "HTTP request latency.",
                                          ["route"], buckets=_DURATION_BUCKETS, registry=r)
        self.queue_size = Gauge("hero_queue_size", "Items waiting for the reward model.", registry=r)
        self.batch_size = Histogram("hero_batch_size", "Items per RM forward pass.",
                                    buckets=_SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("hero_batch_tokens", "Padded tokens per RM forward pass.",
                                      buckets=_TOKEN_BUCKETS, registry=r)
        self.tokenization_duration = Histogram("hero_tokenization_duration_seconds",
                                               "Time to tokenize one batch.",
                                               buckets=_DURATION_BUCKETS, registry=r)
        self.inference_duration = Histogram("hero_inference_duration_seconds",
                                            "Time of one RM forward pass.",
                                            buckets=_DURATION_BUCKETS, registry=r)
        self.verification_duration = Histogram("hero_verification_duration_seconds",
                                               "Time to verify the responses of one group entry.",
                                               buckets=_DURATION_BUCKETS, registry=r)
        self.verifier_outcomes = Counter("hero_verifier_outcomes", "Verified responses by status.",
                                         ["status"], registry=r)
        self.rm_truncations = Counter("hero_rm_truncations",
                                      "Inputs cut to fit the RM's max length.", registry=r)
        self.rm_errors = Counter("hero_rm_errors", "Responses the RM could not score.", registry=r)
        self.groups_waiting = Gauge("hero_groups_waiting", "Groups waiting for their other parts.",
                                    registry=r)
        self.partial_groups = Counter("hero_partial_groups",
                                      "Groups scored at the deadline without all their parts.",
                                      registry=r)
        self.state_errors = Counter("hero_state_errors",
                                    "Shared state backend (Redis) calls that failed, by error.", ["error"],
                                    registry=r)
        self.rewards = Histogram("hero_reward", "Final rewards by verifier stratum.", ["stratum"],
                                 buckets=_REWARD_BUCKETS, registry=r)
        self.sigma_ref = Gauge("hero_sigma_ref", "Current running sigma_ref per session.", ["session"],
                               registry=r)

    # --- the reward model batcher's hooks (hero_service.reward_model.batcher.BatchObserver) ---

    def on_queue_size(self, n: int) -> None:
        self.queue_size.set(n)

    def on_batch(self, size: int, tokens: int) -> None:
        self.batch_size.observe(size)
        self.batch_tokens.observe(tokens)

    def on_tokenize(self, seconds: float) -> None:
        self.tokenization_duration.observe(seconds)

    def on_inference(self, seconds: float) -> None:
        self.inference_duration.observe(seconds)

    def on_truncated(self, n: int) -> None:
        self.rm_truncations.inc(n)

    def on_error(self, n: int) -> None:
        self.rm_errors.inc(n)

    # --- the scorer's observations ---

    def observe_verdicts(self, verdicts: Sequence[Verdict]) -> None:
        for verdict in verdicts:
            self.verifier_outcomes.labels(status=verdict.status).inc()

    def observe_rewards(self, rewards: Sequence[float], verifier: Sequence[int]) -> None:
        for reward, outcome in zip(rewards, verifier, strict=True):
            self.rewards.labels(stratum="correct" if outcome else "wrong").observe(reward)

    # --- sigma_ref per session: a series lives as long as its session ---

    def set_sigma_ref(self, session: str, value: float) -> None:
        self.sigma_ref.labels(session=session).set(value)
        self._sessions[session] = None
        self._sessions.move_to_end(session)
        # The session tracker evicts through drop_sigma_ref; this bound also holds where the sessions
        # live elsewhere (Redis) and nothing here is told when they expire.
        while len(self._sessions) > self._max_sessions:
            self.drop_sigma_ref(next(iter(self._sessions)))

    def drop_sigma_ref(self, session: str) -> None:
        """Remove the session's series (the session was evicted)."""
        if self._sessions.pop(session, False) is not False:
            self.sigma_ref.remove(session)

    def render(self) -> bytes:
        return generate_latest(self.registry)
