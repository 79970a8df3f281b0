"""TRL adapter against the fake server: chunking by num_generations across ranks, chat data, None."""

from __future__ import annotations

import inspect
import pickle
import warnings
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from hero_client.integrations import AdvantageNormalizationWarning
from hero_client.integrations.trl import HeroReward

from .client_fakes import FakeHero, reward_of, status


def batch(prompts: list[str], step: int = 3) -> dict[str, Any]:
    """What GRPOTrainer passes: completions, the dataset columns per completion, the trainer state."""
    return {
        "prompts": prompts,
        "completions": [f"{p} -> \\boxed{{{i}}}" for i, p in enumerate(prompts)],
        "completion_ids": [[1, 2]] * len(prompts),
        "answer": [p.upper() for p in prompts],
        "trainer_state": SimpleNamespace(global_step=step),
    }


def reward(fake: FakeHero, **kwargs: Any) -> HeroReward:
    kwargs.setdefault("num_generations", 4)
    kwargs.setdefault("process_index", 0)
    return HeroReward("http://hero.test", retries=1, transport=fake.transport(), **kwargs)


# Global batch of 3 prompts x 4 generations, split over two ranks of 6 completions each.
GLOBAL = ["a"] * 4 + ["b"] * 4 + ["c"] * 4


async def test_one_post_per_call_with_whole_groups(fake: FakeHero) -> None:
    rewards = await reward(fake)(**batch(GLOBAL[:8]))

    assert len(fake.requests) == 1
    groups = fake.bodies()[0]["groups"]
    assert [(g["prompt"], len(g["responses"]), g["group_size"]) for g in groups] == [("a", 4, 4), ("b", 4, 4)]
    assert rewards == [reward_of(c) for c in batch(GLOBAL[:8])["completions"]]


async def test_a_group_split_across_ranks_gets_one_id_on_both(fake: FakeHero) -> None:
    await reward(fake, process_index=0)(**batch(GLOBAL[:6]))
    await reward(fake, process_index=1)(**batch(GLOBAL[6:]))

    rank0, rank1 = (body["groups"] for body in fake.bodies())
    assert [(g["prompt"], len(g["responses"])) for g in rank0] == [("a", 4), ("b", 2)]
    assert [(g["prompt"], len(g["responses"])) for g in rank1] == [("b", 2), ("c", 4)]
    assert all(g["group_size"] == 4 for g in rank0 + rank1)
    assert rank0[1]["id"] == rank1[0]["id"]  # the server joins these two parts
    assert len({g["id"] for g in rank0 + rank1}) == 3


async def test_ids_change_with_the_step_so_groups_never_mix_across_steps(fake: FakeHero) -> None:
    await reward(fake)(**batch(GLOBAL[:4], step=1))
    await reward(fake)(**batch(GLOBAL[:4], step=2))

    first, second = (body["groups"][0]["id"] for body in fake.bodies())
    assert first != second


async def test_conversational_prompts_and_completions(fake: FakeHero) -> None:
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"}]
    rewards = await reward(fake, num_generations=2)(
        prompts=[prompt, prompt],
        completions=[[{"role": "assistant", "content": "\\boxed{2}"}],
                     [{"role": "assistant", "content": [{"type": "text", "text": "3"}]}]],
        completion_ids=[[1], [2]],
        solution=["2", "2"],
    )

    group = fake.bodies()[0]["groups"][0]
    assert group["prompt"] == prompt
    assert group["responses"] == ["\\boxed{2}", "3"]
    assert group["reference"] == "2"  # found in the "solution" column
    assert rewards == [reward_of("\\boxed{2}"), reward_of("3")]


async def test_ungradable_items_are_none(fake: FakeHero) -> None:
    fake.verifier_status = "timeout"

    assert await reward(fake)(**batch(GLOBAL[:4])) == [None] * 4


async def test_a_failed_request_gives_none_for_all_and_does_not_raise(fake: FakeHero) -> None:
    fake.fail(status(500, "boom"))

    assert await reward(fake)(**batch(GLOBAL[:4])) == [None] * 4


async def test_metrics_are_logged_through_trls_log_metric(fake: FakeHero) -> None:
    fake.partial = True
    logged: dict[str, float] = {}

    await reward(fake)(**batch(GLOBAL[:4]), log_metric=logged.__setitem__)

    assert logged["hero/partial"] == 1.0
    assert logged["hero/ungraded"] == 0.0
    assert logged["hero/weight"] == 1.5


async def test_a_missing_reference_column_says_which_to_set(fake: FakeHero) -> None:
    kwargs = batch(GLOBAL[:4])
    del kwargs["answer"]

    with pytest.raises(KeyError, match="reference_column"):
        await reward(fake)(**kwargs)


def test_it_is_an_async_callable_with_a_name(fake: FakeHero) -> None:
    func = reward(fake, name="hero")

    assert func.__name__ == "hero"
    assert inspect.iscoroutinefunction(func.__call__)  # what TRL's is_async_callable checks
    assert pickle.loads(pickle.dumps(func)).num_generations == 4


def test_group_size_comes_from_the_config_or_is_required(fake: FakeHero) -> None:
    args = SimpleNamespace(num_generations=16, scale_rewards="none")
    assert HeroReward("http://hero.test", args=args).num_generations == 16
    with pytest.raises(ValueError, match="num_generations"):
        HeroReward("http://hero.test")


@pytest.mark.parametrize(("scale", "warns"), [("group", True), (True, True), ("batch", True),
                                              ("none", False), (False, False)])
def test_std_scaling_of_the_trainer_is_warned_about(scale: object, warns: bool) -> None:
    args = SimpleNamespace(num_generations=4, scale_rewards=scale)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HeroReward("http://hero.test", args=args)

    hits = [w for w in caught if issubclass(w.category, AdvantageNormalizationWarning)]
    assert len(hits) == int(warns)
    if warns:
        assert 'scale_rewards="none"' in str(hits[0].message)


async def test_hero_url_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeHero) -> None:
    monkeypatch.setenv("HERO_URL", "http://env.test")
    monkeypatch.setenv("HERO_MODE", "verifier")

    await HeroReward(num_generations=4, process_index=0, transport=fake.transport())(**batch(GLOBAL[:4]))

    assert fake.requests[0].url == httpx.URL("http://env.test/score")
    assert fake.bodies()[0]["params"] == {"mode": "verifier"}


class FakeTrainer:
    """What the adapter reaches through TRL's ``log_metric`` bound method."""

    def __init__(self, training: bool) -> None:
        self.args = SimpleNamespace(scale_rewards="group", num_generations=4)
        self.model = SimpleNamespace(training=training)
        self.num_generations, self.num_generations_eval = 4, 2
        self.metrics: dict[str, float] = {}

    def _log_metric(self, name: str, value: float) -> None:
        self.metrics[name] = value


@pytest.mark.parametrize(("training", "sizes"), [(True, [4]), (False, [2, 2])])
async def test_the_trainer_behind_log_metric_sets_group_size_and_is_checked(
        fake: FakeHero, training: bool, sizes: list[int]) -> None:
    trainer = FakeTrainer(training)
    func = reward(fake)

    with pytest.warns(AdvantageNormalizationWarning, match='scale_rewards="none"'):
        await func(**batch(GLOBAL[:4]), log_metric=trainer._log_metric)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per adapter, not per call
        await func(**batch(GLOBAL[:4]), log_metric=trainer._log_metric)

    groups = fake.bodies()[0]["groups"]
    assert [len(g["responses"]) for g in groups] == [g["group_size"] for g in groups] == sizes
    assert "hero/weight" in trainer.metrics
