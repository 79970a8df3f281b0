"""The reward model engine: a Hugging Face sequence-classification RM, or the embedded MiniLM default.

Both go through the same dynamic batcher (:mod:`hero_service.reward_model.batcher`). torch and
transformers are imported only when a model is built, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hero_service.reward_model.base import ModelInfo, QueueFullError, RewardModel, RMItem, RMScore
from hero_service.reward_model.batcher import (
    BatcherClosedError,
    BatchLimits,
    BatchObserver,
    NullObserver,
)

if TYPE_CHECKING:
    from hero_service.settings import Settings

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


def batch_limits(settings: Settings) -> BatchLimits:
    """The batcher's limits from the ``HERO_MAX_*`` settings."""
    return BatchLimits(
        max_batch_tokens=settings.max_batch_tokens,
        max_batch_size=settings.max_batch_size,
        max_wait_ms=settings.max_wait_ms,
        max_queue=settings.max_queue,
        # Not a Settings field yet (HERO_RM_TOKENIZE_WORKERS); one thread keeps up with one GPU so far.
        tokenize_workers=getattr(settings, "rm_tokenize_workers", 1),
    )


def build_reward_model(settings: Settings, *, observer: BatchObserver | None = None) -> RewardModel:
    """The RM that ``settings`` names (not started): ``HERO_RM_MODEL`` if set, else the MiniLM scorer.

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
