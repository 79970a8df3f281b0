"""The reward model engine: a Hugging Face sequence-classification RM, or the embedded MiniLM default.

Both go through the same dynamic batcher (:mod:`hero_service.reward_model.batcher`). torch and
transformers are imported only when a model is built, so importing this package stays cheap.
"""

from __future__ import annotations

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


def build_reward_model(settings: RMSettings, *, observer: BatchObserver | None = None) -> RewardModel:
    """The RM that ``settings`` names (not started): ``HERO_RM_MODEL`` if set (on the engine at
    ``HERO_RM_URL`` when that is set too), else the MiniLM scorer.

    ``observer`` receives the batcher's metrics hooks (queue size, batch size and tokens, durations).
    """
    limits = batch_limits(settings)
    if settings.rm_model is None:
        from hero_service.reward_model.similarity import SimilarityScorer

        return SimilarityScorer(
            device=settings.rm_device,
            dtype=settings.rm_dtype,
            max_length=settings.rm_max_length,
            limits=limits,
            observer=observer,
        )
    from hero_service.reward_model.hf import HFRewardModel

    if settings.rm_url is not None:
        from hero_service.reward_model.remote import RemoteConfig, RemoteRewardModel

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
            tokenize_workers=limits.tokenize_workers,
        )
        return RemoteRewardModel(settings.rm_model, encoder, config, observer=observer)
    return HFRewardModel(
        settings.rm_model,
        trust_remote_code=settings.rm_trust_remote_code,
        device=settings.rm_device,
        dtype=settings.rm_dtype,
        max_length=settings.rm_max_length,
        system_prompt=settings.rm_system_prompt,
        output=settings.rm_output,
        input_layout=settings.rm_input,
        limits=limits,
        observer=observer,
    )
