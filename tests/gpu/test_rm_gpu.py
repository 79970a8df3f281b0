"""The RM engines on a CUDA device: bf16 + SDPA by default, and scores that agree with float32 on the CPU.

Skipped without CUDA (tests/conftest.py). bf16 scores move with batch composition by about 1e-3 relative
(different kernels for different shapes), so the tolerances here are wider than the CPU tests'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from hero_service.reward_model.base import InProcess, RMItem
from hero_service.reward_model.engine import TorchRewardModel
from hero_service.reward_model.hf import HFRewardModel
from hero_service.reward_model.similarity import SimilarityScorer

QUESTION = "What is the sum of two and three? Please think carefully."
ITEMS = [RMItem(QUESTION, "The answer is \\boxed{5}." * k) for k in (1, 3, 9, 27)]


def scores(rm: TorchRewardModel[Any], items: list[RMItem]) -> list[float]:
    with torch.inference_mode():
        return rm.forward(rm.encode(items))


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def model_dir(request: pytest.FixtureRequest) -> Path:
    path: Path = request.getfixturevalue(f"tiny_{request.param}_rm_dir")
    return path


def test_auto_is_bf16_with_sdpa_on_the_gpu(model_dir: Path) -> None:
    rm = HFRewardModel(str(model_dir))
    rm.load()
    assert rm.device.type == "cuda"
    assert rm.dtype == torch.bfloat16
    assert isinstance(rm.info.runtime, InProcess) and rm.info.runtime.dtype == "bfloat16"
    assert next(rm._model.parameters()).dtype == torch.bfloat16
    assert rm._model.config._attn_implementation == "sdpa"


def test_bf16_gpu_scores_match_float32_cpu(model_dir: Path) -> None:
    gpu = HFRewardModel(str(model_dir), device="cuda")
    cpu = HFRewardModel(str(model_dir), device="cpu")
    gpu.load()
    cpu.load()
    expected = scores(cpu, ITEMS)
    got = scores(gpu, ITEMS)
    for g, e in zip(got, expected, strict=True):
        assert g == pytest.approx(e, rel=5e-2, abs=5e-2)


def test_bf16_score_barely_depends_on_batch_mates(model_dir: Path) -> None:
    rm = HFRewardModel(str(model_dir), device="cuda")
    rm.load()
    alone = [scores(rm, [item])[0] for item in ITEMS]
    together = scores(rm, ITEMS)
    assert together == pytest.approx(alone, rel=2e-2, abs=2e-2)


async def test_batched_requests_on_the_gpu(model_dir: Path) -> None:
    rm = HFRewardModel(str(model_dir), device="cuda")
    await rm.start()
    try:
        results = await rm.score(ITEMS * 16)
    finally:
        await rm.close()
    assert [r.status for r in results] == ["ok"] * len(ITEMS) * 16
    assert len({round(r.score or 0.0, 2) for r in results}) >= 2


def test_similarity_scorer_on_the_gpu(minilm_dir: Path) -> None:
    rm = SimilarityScorer(path=minilm_dir, device="cuda")
    rm.load()
    same, other = scores(rm, [RMItem("q", "The answer is 42.", "The answer is 42."),
                              RMItem("q", "Bananas are yellow.", "The answer is 42.")])
    assert same == pytest.approx(1.0, abs=1e-2)
    assert same > other
