"""veRL's own reward-loop loader and managers (0.9.1), scoring through a real server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
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


def padded_step(uids: list[str], responses: list[list[str]], tokenizer: CharTokenizer, width: int = 48) -> Any:
    """A step's batch as the agent loop returns it: groups of consecutive samples sharing a uid and
    numbered by ``priority``; every row padded to one width so that the rows stack."""
    rows = []
    for g, (uid, group) in enumerate(zip(uids, responses, strict=True)):
        for k, response in enumerate(group):
            prompt_ids = tokenizer.encode("What is 6*7?")
            response_ids = tokenizer.encode(response)
            pad = width - len(response_ids)
            tensors = {
                "prompts": torch.tensor([prompt_ids]),
                "responses": torch.tensor([response_ids + [0] * pad]),
                "attention_mask": torch.tensor([[1] * (len(prompt_ids) + len(response_ids)) + [0] * pad]),
            }
            rows.append(verl.DataProto.from_dict(tensors=tensors, non_tensors={
                "data_source": np.array(["math"], dtype=object),
                "reward_model": np.array([{"ground_truth": "42"}], dtype=object),
                "extra_info": np.array([{"index": g, "question": "What is 6*7?"}], dtype=object),
                "uid": np.array([uid], dtype=object),
                "raw_prompt": np.array([PROMPT]),
                "priority": np.array([g * len(group) + k], dtype=np.int64),
            }))
    return verl.DataProto.concat(rows)


def test_the_reward_workers_pad_copy_is_not_sent_as_a_sample(embedded_server: Any) -> None:
    from verl.protocol import pad_dataproto_to_divisor

    cfg = config(embedded_server.base_url,
                 reward_manager={"source": "importlib", "name": "HeroRewardManager",
                                 "module": {"path": "pkg://hero_client.integrations.verl",
                                            "name": "custom_reward_manager"}},
                 reward_kwargs={"url": embedded_server.base_url, "params": {"sigma_ref": 0.5}})
    groups = [RESPONSES, ["\\boxed{42}", "\\boxed{42}", "maybe \\boxed{24}", "\\boxed{42} it is"]]
    tokenizer = CharTokenizer()
    data = padded_step(["uid-a", "uid-b"], groups, tokenizer)

    async def compute_rm_score() -> list[dict[str, Any]]:
        # RewardLoopManager.compute_rm_score with 3 workers: 8 samples padded to 9 (a copy of the first),
        # one chunk per worker, each worker scoring its samples concurrently (compute_score_batch).
        padded, pad_size = pad_dataproto_to_divisor(data, 3)
        assert pad_size == 1 and padded[8].non_tensor_batch["uid"] == "uid-a"
        managers = [reward.load_reward_manager(cfg, tokenizer) for _ in range(3)]
        chunks = padded.chunk(3)
        outs = await asyncio.gather(*(asyncio.gather(*(m.run_single(chunk[i:i + 1]) for i in range(len(chunk))))
                                      for m, chunk in zip(managers, chunks, strict=True)))
        return [o for chunk_out in outs for o in chunk_out][:len(data)]

    started = time.monotonic()
    outputs = asyncio.run(compute_rm_score())
    seconds = time.monotonic() - started

    assert seconds < 15  # the server's deadline is 60 s
    whole = httpx.post(f"{embedded_server.base_url}/score", timeout=60, json={
        "groups": [{"prompt": PROMPT, "reference": "42", "responses": g} for g in groups],
        "params": {"sigma_ref": 0.5, "session": "whole"}}).json()
    expected = [r for g in whole["groups"] for r in g["rewards"]]
    assert [o["reward_score"] for o in outputs] == pytest.approx(expected, abs=1e-6)
    assert [o["reward_extra_info"]["partial"] for o in outputs] == [0.0] * 8


def test_a_regenerated_validation_pad_that_comes_first_does_not_cost_the_real_sample(embedded_server: Any) -> None:
    # Validation pads before generating: the copy of sample 0 gets its own response and the next number
    # (priority 4 = place 0 of a group of 4) and may reach the server before sample 0 itself.
    cfg = config(embedded_server.base_url,
                 reward_manager={"source": "importlib", "name": "HeroRewardManager",
                                 "module": {"path": "pkg://hero_client.integrations.verl",
                                            "name": "custom_reward_manager"}},
                 reward_kwargs={"url": embedded_server.base_url})
    tokenizer = CharTokenizer()
    real = padded_step(["uid-v"], [RESPONSES], tokenizer)
    pad = padded_step(["uid-v"], [["I guess \\boxed{7}"] * 5], tokenizer)[4:5]

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        manager = reward.load_reward_manager(cfg, tokenizer)
        first = asyncio.ensure_future(manager.run_single(pad))
        await asyncio.sleep(1.0)
        rest = await asyncio.gather(*(manager.run_single(real[i:i + 1]) for i in range(4)))
        return await first, list(rest)

    started = time.monotonic()
    pad_out, outputs = asyncio.run(run())

    assert time.monotonic() - started < 15
    assert [o["reward_extra_info"]["acc"] for o in outputs] == [1.0, 0.0, 1.0, 0.0]
    assert [o["reward_extra_info"]["error"] for o in outputs + [pad_out]] == [0.0] * 5
