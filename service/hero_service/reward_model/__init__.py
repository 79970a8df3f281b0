"""The reward model backends, chosen by name from :data:`BACKENDS`: the embedded MiniLM default, a Hugging
Face sequence-classification RM in this process, or the same model on a remote vLLM engine.

The in-process ones go through the dynamic batcher (:mod:`hero_service.reward_model.batcher`). torch and
transformers are imported only when a model is built, so importing this package stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from hero_service.errors import QueueFullError
from hero_service.reward_model.base import ModelInfo, RewardModel, RMItem, RMScore
from hero_service.reward_model.batcher import (
    BatcherClosedError,
    BatchLimits,
    BatchObserver,
    NullObserver,
)

if TYPE_CHECKING:
    from hero_service.settings import RMSettings

__all__ = [
    "BatchLimits",
    "BatchObserver",
    "BatcherClosedError",
    "ModelInfo",
    "NullObserver",
    "QueueFullError",
    "RMItem",
    "RMScore",
    "RewardModel",
    "BACKENDS",
    "backend_name",
    "batch_limits",
    "build_reward_model",
]


def batch_limits(settings: RMSettings) -> BatchLimits:
    """The batcher's limits from the ``HERO_MAX_*`` settings."""
    return BatchLimits(
        max_batch_tokens=settings.max_batch_tokens,
        max_batch_size=settings.max_batch_size,
        max_wait_ms=settings.max_wait_ms,
        max_queue=settings.max_queue,
        # tokenize_workers keeps its default (1): one thread keeps up with one GPU so far, so it has no
        # setting.
    )


Factory = Callable[["RMSettings", "BatchObserver | None"], RewardModel]
"""Builds one backend (not started) from the RM settings, with the batcher's metrics hooks."""


def _similarity(settings: RMSettings, observer: BatchObserver | None) -> RewardModel:
    """The embedded MiniLM reference-similarity scorer (no model named)."""
    from hero_service.reward_model.similarity import SimilarityScorer

    return SimilarityScorer(device=settings.rm_device, dtype=settings.rm_dtype, max_length=settings.rm_max_length,
                            limits=batch_limits(settings), observer=observer)


def _in_process(settings: RMSettings, observer: BatchObserver | None) -> RewardModel:
    """A transformers sequence classifier in this process, on its own forward thread."""
    from hero_service.reward_model.hf import HFRewardModel

    assert settings.rm_model is not None
    return HFRewardModel(
        settings.rm_model,
        trust_remote_code=settings.rm_trust_remote_code,
        device=settings.rm_device,
        dtype=settings.rm_dtype,
        max_length=settings.rm_max_length,
        system_prompt=settings.rm_system_prompt,
        output=settings.rm_output,
        input_layout=settings.rm_input,
        limits=batch_limits(settings),
        observer=observer,
    )


def _remote(settings: RMSettings, observer: BatchObserver | None) -> RewardModel:
    """The model on a vLLM engine (HERO_RM_URL); this process renders and tokenizes."""
    from hero_service.reward_model.hf import HFRewardModel
    from hero_service.reward_model.remote import RemoteConfig, RemoteRewardModel

    assert settings.rm_model is not None
    # Only its tokenizer is ever loaded: this server renders and tokenizes, the engine scores.
    encoder = HFRewardModel(settings.rm_model, trust_remote_code=settings.rm_trust_remote_code,
                            device="cpu", max_length=settings.rm_max_length,
                            system_prompt=settings.rm_system_prompt)
    config = RemoteConfig(
        urls=tuple(settings.rm_url_list),
        served_model=settings.rm_served_model or settings.rm_model,
        timeout_s=settings.rm_timeout_s,
        retries=settings.rm_retries,
        concurrency=settings.rm_concurrency,
        health_interval_s=settings.rm_health_interval_s,
        max_batch_size=settings.max_batch_size,
        max_queue=settings.max_queue,
        tokenize_workers=batch_limits(settings).tokenize_workers,
    )
    return RemoteRewardModel(settings.rm_model, encoder, config, observer=observer)


BACKENDS: Mapping[str, Factory] = MappingProxyType({"similarity": _similarity, "hf": _in_process, "remote": _remote})
"""The RM backends by name; a new one is a module under ``reward_model/`` and a line here."""


def backend_name(settings: RMSettings) -> str:
    """Which backend the settings name: ``remote`` with HERO_RM_URL, ``hf`` with HERO_RM_MODEL alone,
    else ``similarity``."""
    if settings.rm_model is None:
        return "similarity"
    return "remote" if settings.rm_url is not None else "hf"


def build_reward_model(settings: RMSettings, *, observer: BatchObserver | None = None) -> RewardModel:
    """The RM that ``settings`` names (not started), from :data:`BACKENDS`.

    ``observer`` receives the batcher's metrics hooks (queue size, batch size and tokens, durations).
    """
    return BACKENDS[backend_name(settings)](settings, observer)
