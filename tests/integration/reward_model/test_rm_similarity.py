"""The embedded MiniLM reference-similarity scorer, and how build_reward_model picks an engine."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch

from hero_service.reward_model import BatchLimits, NullObserver, build_reward_model
from hero_service.reward_model.base import RMItem
from hero_service.reward_model.hf import HFRewardModel
from hero_service.reward_model.similarity import SimilarityScorer
from hero_service.settings import Settings

REFERENCE = "The answer is 42."


@pytest.fixture
async def scorer(minilm_dir: Path) -> AsyncIterator[SimilarityScorer]:
    rm = SimilarityScorer(path=minilm_dir, device="cpu", limits=BatchLimits(max_wait_ms=2))
    await rm.start()
    yield rm
    await rm.close()


async def test_matching_response_beats_an_unrelated_one(scorer: SimilarityScorer) -> None:
    same, close, unrelated = await scorer.score([
        RMItem("q", REFERENCE, REFERENCE),
        RMItem("q", "So the final answer is 42.", REFERENCE),
        RMItem("q", "Bananas grow in tropical climates.", REFERENCE),
    ])
    assert same.score == pytest.approx(1.0, abs=1e-5)
    assert same.score is not None
    assert close.score is not None
    assert unrelated.score is not None
    assert same.score > close.score > unrelated.score
    assert -1.0 <= unrelated.score <= 1.0


async def test_score_does_not_depend_on_batch_mates(scorer: SimilarityScorer) -> None:
    target = RMItem("q", "After some algebra we find x = 42.", REFERENCE)
    [alone] = await scorer.score([target])
    mates = [RMItem("q", "word " * n, f"reference {n}") for n in (1, 30, 90)]
    batch = await scorer.score([mates[0], target, *mates[1:]])
    assert alone.score is not None
    assert batch[1].score is not None
    assert batch[1].score == pytest.approx(alone.score, abs=1e-4)


def test_long_response_keeps_its_end_and_is_flagged(minilm_dir: Path) -> None:
    rm = SimilarityScorer(path=minilm_dir, device="cpu", max_length=32)
    rm.load()
    [cut, whole] = rm.encode([
        RMItem("q", "filler words " * 50 + "final answer 42", REFERENCE),
        RMItem("q", "final answer 42", REFERENCE),
    ])
    assert cut.truncated
    assert not whole.truncated
    assert len(cut.response) == 32
    assert rm._tokenizer.decode(cut.response).endswith("final answer 42 [SEP]")
    with torch.inference_mode():
        scores = rm.forward([cut, whole])
    assert all(math.isfinite(s) for s in scores)
    assert scores[0] != pytest.approx(scores[1], abs=1e-3)  # the filler moved the embedding


def test_info_labels_it_as_reference_similarity(minilm_dir: Path) -> None:
    info = SimilarityScorer(path=minilm_dir, device="cpu").info
    assert info.kind == "reference-similarity"
    assert info.max_length == 256  # MiniLM's trained length caps HERO_RM_MAX_LENGTH
    assert "not a trained reward model" in str(info.extra["note"])


async def test_shares_one_batch_across_concurrent_requests(minilm_dir: Path) -> None:
    class Count(NullObserver):
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def on_batch(self, size: int, tokens: int) -> None:
            self.sizes.append(size)

    count = Count()
    rm = SimilarityScorer(path=minilm_dir, device="cpu", observer=count,
                          limits=BatchLimits(max_wait_ms=50, max_batch_size=64))
    await rm.start()
    try:
        requests = (rm.score([RMItem("q", f"answer {k}", REFERENCE)]) for k in range(16))
        results = await asyncio.gather(*requests)
    finally:
        await rm.close()
    assert all(r[0].status == "ok" for r in results)
    assert max(count.sizes) > 1
    assert sum(count.sizes) == 16  # the warm-up pass bypasses the batcher


def test_build_reward_model_picks_the_engine(tiny_qwen2_rm_dir: Path) -> None:
    default = build_reward_model(Settings())
    assert isinstance(default, SimilarityScorer)
    assert default.info.kind == "reference-similarity"
    settings = Settings(rm_model=str(tiny_qwen2_rm_dir), rm_device="cpu", rm_max_length=128,
                        rm_system_prompt="S", rm_output="score", max_batch_size=7, max_batch_tokens=999)
    rm = build_reward_model(settings)
    assert isinstance(rm, HFRewardModel)
    assert (rm.max_length, rm.system_prompt, rm.output, rm.trust_remote_code) == (128, "S", "score", False)
    assert rm.limits.max_batch_size == 7
    assert rm.limits.max_batch_tokens == 999
    assert rm.info.kind == "reward-model"
