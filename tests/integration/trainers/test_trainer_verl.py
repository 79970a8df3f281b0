"""veRL's own reward-loop loader and managers (0.9.1), scoring through a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hero_client.integrations import AdvantageNormalizationWarning
from hero_client.integrations.verl import RESULT_KEYS

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
omegaconf = pytest.importorskip("omegaconf")
reward = pytest.importorskip("verl.trainer.ppo.reward")
verl = pytest.importorskip("verl")

PROMPT = [{"role": "user", "content": "What is 6*7?"}]
RESPONSES = ["\\boxed{42}", "It is \\boxed{41}", "So \\boxed{42}.", "no idea"]


class CharTokenizer:
    """All veRL's managers need of a tokenizer here: ``decode``. One token per character, 0 = padding."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: Any, skip_special_tokens: bool = True) -> str:
        return "".join(chr(i) for i in ids.tolist() if i)


def sample(response: str, uid: str, tokenizer: CharTokenizer) -> Any:
    """One rollout as veRL's agent loop hands it to a reward manager (numpy object columns included)."""
    prompt_ids = tokenizer.encode("What is 6*7?")
    response_ids = tokenizer.encode(response)
    tensors = {
        "prompts": torch.tensor([prompt_ids]),
        "responses": torch.tensor([response_ids + [0, 0]]),  # right padding, masked out
        "attention_mask": torch.tensor([[1] * (len(prompt_ids) + len(response_ids)) + [0, 0]]),
    }
    non_tensors = {
        "data_source": np.array(["math"], dtype=object),
        "reward_model": np.array([{"ground_truth": np.array(["42"], dtype=object)}], dtype=object),
        "extra_info": np.array([{"index": np.int64(7), "question": "What is 6*7?"}], dtype=object),
        "uid": np.array([uid], dtype=object),
        "raw_prompt": np.array([PROMPT]),  # how agent_loop builds it: np.array([v] * n)
    }
    return verl.DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def config(base_url: str, **reward_cfg: Any) -> Any:
    return omegaconf.OmegaConf.create({
        "reward": {
            "custom_reward_function": {"path": None, "name": "compute_score"},
            "reward_manager": {"source": "register", "name": "naive",
                               "module": {"path": None, "name": "custom_reward_manager"}},
            "sandbox_fusion": {"url": None},
            "reward_model": {"enable": False},
            **reward_cfg,
        },
        "algorithm": {"adv_estimator": "grpo", "norm_adv_by_std_in_grpo": False},
        "actor_rollout_ref": {"rollout": {"n": 4}},
    })


def run_group(cfg: Any, uid: str) -> list[dict[str, Any]]:
    """Load the manager as RewardLoopWorker does and score the four samples concurrently, as it does."""

    async def main() -> list[dict[str, Any]]:
        tokenizer = CharTokenizer()
        manager = reward.load_reward_manager(cfg, tokenizer)
        return list(await asyncio.gather(*(manager.run_single(sample(r, uid, tokenizer)) for r in RESPONSES)))

    return asyncio.run(main())


def check(outputs: list[dict[str, Any]]) -> None:
    # veRL fixes the logged keys from the first sample, then indexes every sample with them.
    infos = [o["reward_extra_info"] for o in outputs]
    logged = {key: np.array([info[key] for info in infos]) for key in infos[0]}
    assert list(logged) == list(RESULT_KEYS)
    rewards = [o["reward_score"] for o in outputs]
    assert logged["acc"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert min(rewards[0], rewards[2]) > max(rewards[1], rewards[3])
    assert logged["partial"].tolist() == [0.0] * 4  # the four samples met in one group
    assert logged["error"].tolist() == [0.0] * 4


def test_compute_score_through_verls_naive_manager(embedded_server: Any) -> None:
    cfg = config(embedded_server.base_url, custom_reward_function={
        "path": "pkg://hero_client.integrations.verl", "name": "compute_score",
        "reward_kwargs": {"url": embedded_server.base_url, "group_size": 4},
    })

    check(run_group(cfg, uid="unused-by-compute-score"))


def test_hero_reward_manager_loaded_by_importlib_groups_by_uid(embedded_server: Any) -> None:
    cfg = config(embedded_server.base_url,
                 reward_manager={"source": "importlib", "name": "HeroRewardManager",
                                 "module": {"path": "pkg://hero_client.integrations.verl",
                                            "name": "custom_reward_manager"}},
                 reward_kwargs={"url": embedded_server.base_url})

    check(run_group(cfg, uid="3f1c-uid"))


def test_the_manager_warns_when_grpo_divides_by_the_std() -> None:
    cfg = config("http://hero.test")
    cfg.algorithm.norm_adv_by_std_in_grpo = True
    from hero_client.integrations.verl import HeroRewardManager

    async def make() -> Any:
        return HeroRewardManager(cfg, tokenizer=None, compute_score=None)

    with pytest.warns(AdvantageNormalizationWarning, match="norm_adv_by_std_in_grpo=False"):
        manager = asyncio.run(make())
    assert manager.settings.group_size == 4  # from actor_rollout_ref.rollout.n
