"""TRL's own GRPOTrainer and reward plumbing, rewarded by a real server through ``HeroReward``."""

from __future__ import annotations

import asyncio
import math
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hero_client.integrations import AdvantageNormalizationWarning
from hero_client.integrations.trl import HeroReward

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from .trainer_models import tiny_policy, tiny_tokenizer  # noqa: E402  (needs transformers: after the skips)

PINNED = {"mode": "hero", "sigma_ref": 0.1}  # a pinned sigma_ref makes rewards independent of history


def completions(prompt: str, answers: list[str]) -> dict[str, Any]:
    return {"prompts": [prompt] * len(answers), "completions": [f"So \\boxed{{{a}}}" for a in answers],
            "completion_ids": [[0]] * len(answers)}


def test_trl_recognises_the_adapter_as_an_async_reward_with_its_name(embedded_server: Any) -> None:
    from trl.trainer.utils import get_callable_name, is_async_callable

    func = HeroReward(embedded_server.base_url, num_generations=4)

    assert is_async_callable(func)
    assert get_callable_name(func) == "hero_reward"


def test_a_group_split_over_two_ranks_is_scored_as_one(embedded_server: Any) -> None:
    """Two ranks hold halves of group "b"; the server joins them, so the rewards equal a one-rank run."""
    answers = {"a": ["2", "3", "2", "5"], "b": ["4", "4", "1", "9"], "c": ["6", "0", "6", "6"]}
    batch: dict[str, list[Any]] = {"prompts": [], "completions": [], "completion_ids": [], "answer": []}
    for prompt, gold in (("a", "2"), ("b", "4"), ("c", "6")):
        part = completions(f"Question {prompt}?", answers[prompt])
        for key in ("prompts", "completions", "completion_ids"):
            batch[key] += part[key]
        batch["answer"] += [gold] * 4

    def rank_slice(lo: int, hi: int, step: int) -> dict[str, Any]:
        return {k: v[lo:hi] for k, v in batch.items()} | {"trainer_state": SimpleNamespace(global_step=step)}

    def adapter(rank: int) -> HeroReward:
        return HeroReward(embedded_server.base_url, num_generations=4, process_index=rank, params=PINNED)

    async def run() -> tuple[list[Any], list[Any]]:
        one_rank = await adapter(0)(**rank_slice(0, 12, step=100))
        halves = await asyncio.gather(adapter(0)(**rank_slice(0, 6, step=101)),
                                      adapter(1)(**rank_slice(6, 12, step=101)))
        return one_rank, halves[0] + halves[1]

    one_rank, two_ranks = asyncio.run(run())

    assert None not in one_rank
    assert two_ranks == pytest.approx(one_rank, abs=1e-6)
    b_rewards = two_ranks[4:8]  # right answers outrank wrong ones inside the split group
    assert min(b_rewards[0], b_rewards[1]) > max(b_rewards[2], b_rewards[3])


def grpo(reward: HeroReward, args: Any) -> Any:
    """A GRPOTrainer on CPU: a tiny random policy, eight arithmetic prompts with answers."""
    tokenizer = tiny_tokenizer()
    dataset = datasets.Dataset.from_dict({
        "prompt": [f"What is {i} + {i}?" for i in range(8)],
        "answer": [str(2 * i) for i in range(8)],
    })
    return trl.GRPOTrainer(model=tiny_policy(tokenizer), reward_funcs=[reward], args=args,
                           train_dataset=dataset, processing_class=tokenizer)


def grpo_config(tmp_path: Path, scale_rewards: str) -> Any:
    return trl.GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4, max_completion_length=8,
        max_steps=1, use_cpu=True, report_to="none", logging_steps=1, save_strategy="no", bf16=False,
        scale_rewards=scale_rewards, seed=0,
    )


def test_one_grpo_training_step_rewarded_by_the_server(embedded_server: Any, tmp_path: Path) -> None:
    args = grpo_config(tmp_path, scale_rewards="none")
    trainer = grpo(HeroReward(embedded_server.base_url, args=args), args)

    with warnings.catch_warnings():
        warnings.simplefilter("error", AdvantageNormalizationWarning)  # "none" is the right setting
        trainer.train()

    logs = trainer.state.log_history[0]
    assert trainer.state.global_step == 1
    assert math.isfinite(logs["rewards/hero_reward/mean"])
    # Logged by the adapter through TRL's log_metric: every completion graded, every group complete.
    assert logs["hero/ungraded"] == 0.0
    assert logs["hero/partial"] == 0.0


def test_the_adapter_finds_the_trainers_std_scaling_without_being_told(embedded_server: Any,
                                                                       tmp_path: Path) -> None:
    args = grpo_config(tmp_path, scale_rewards="group")  # TRL's default
    trainer = grpo(HeroReward(embedded_server.base_url, num_generations=4), args)

    with pytest.warns(AdvantageNormalizationWarning, match='scale_rewards="none"'):
        trainer.train()


def test_evaluation_with_another_generation_count_is_not_left_waiting(embedded_server: Any, tmp_path: Path) -> None:
    args = trl.GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4, num_generations_eval=2,
        per_device_eval_batch_size=4, max_completion_length=8, use_cpu=True, report_to="none", bf16=False,
        scale_rewards="none", seed=0, save_strategy="no",
    )
    trainer = grpo(HeroReward(embedded_server.base_url, args=args), args)
    eval_set = datasets.Dataset.from_dict({"prompt": [f"What is {i} + 1?" for i in range(4)],
                                           "answer": [str(i + 1) for i in range(4)]})

    started = time.monotonic()
    metrics = trainer.evaluate(eval_dataset=eval_set)
    seconds = time.monotonic() - started

    assert seconds < 15  # the server's deadline is 60 s: one eval group of 4 waiting for 2 more shows here
    assert metrics["eval_hero/partial"] == 0.0
    assert metrics["eval_hero/ungraded"] == 0.0
