"""OpenRLHF's own reward clients (``SingleTurnAgentExecutor``), pointed at a real server both ways."""

from __future__ import annotations

import asyncio
import importlib.util
import random
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import hero_client.integrations.openrlhf as adapter

from .trainer_models import tiny_tokenizer

agent = pytest.importorskip("openrlhf.utils.agent")

PROMPT = "<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n"
RESPONSES = ["\\boxed{42}<|im_end|>", "It is \\boxed{41}<|im_end|>", "\\boxed{42}.<|im_end|>", "no idea<|im_end|>"]


async def _group(fetch: Any) -> list[dict[str, Any]]:
    """OpenRLHF >= 0.9.1 sends each sample of a prompt in its own concurrent request."""
    answers = await asyncio.gather(*(fetch([PROMPT + r], [PROMPT], ["42"]) for r in RESPONSES))
    return [a[0] for a in answers]


def _check_group(results: list[dict[str, Any]]) -> None:
    rewards = [r["rewards"][0] for r in results]
    assert [r["scores"][0] for r in results] == [1.0, 0.0, 1.0, 0.0]  # the verifier, for dynamic filtering
    assert min(rewards[0], rewards[2]) > max(rewards[1], rewards[3])
    assert all(r["extra_logs"]["partial"] == [0.0] for r in results)  # the four requests formed one group


def test_openrlhf_http_client_with_the_built_url(embedded_server: Any) -> None:
    url = adapter.remote_url(embedded_server.base_url, group_size=4, mode="hero")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=url.split(","))

    _check_group(asyncio.run(_group(executor._fetch_rewards_via_http)))


def test_openrlhf_reaches_a_keyed_server_through_the_url(make_server: Any) -> None:
    from hero_service.settings import Settings

    served = make_server(Settings(verifier_workers=1, api_keys="k1", mode="verifier"))
    url = adapter.remote_url(served.base_url, group_size=1, mode="verifier", api_key="k1")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=[url])

    (answer,) = asyncio.run(executor._fetch_rewards_via_http([PROMPT + RESPONSES[0]], [PROMPT], ["42"]))

    assert answer["rewards"] == [1.0]


def test_the_adapter_file_is_refused_as_a_reward_func_with_the_reason() -> None:
    # OpenRLHF runs a reward_func file in a bounded thread pool, where waiting for a group starves it.
    with pytest.raises(ImportError, match="--train.agent_func_path"):
        agent.SingleTurnAgentExecutor(remote_rm_url=[adapter.__file__])


# --- the adapter file as OpenRLHF's agent (--train.agent_func_path) --------------------------------

PROBLEMS = [(f"What is {i} + {i}?", str(2 * i)) for i in (3, 4, 5)]


def _answers(i: int, n: int) -> list[str]:
    right, wrong = PROBLEMS[i][1], str(int(PROBLEMS[i][1]) + 1)
    return [f"{'We add. ' * ((i + k) % 3)}The answer is \\boxed{{{right if (i + k) % 2 else wrong}}}."
            for k in range(n)]


class FakeEngine:
    """Stands in for vLLM: each prompt's next response, after a random delay, so samples finish out of
    order and the prompts' groups interleave."""

    def __init__(self, tokenizer: Any, responses: dict[str, list[str]], seed: int) -> None:
        self._tokenizer = tokenizer
        self._left = {prompt: list(rs) for prompt, rs in responses.items()}
        self._prompts = {tuple(tokenizer(text=p, add_special_tokens=False)["input_ids"]): p for p in responses}
        self._random = random.Random(seed)

    async def generate(self, prompt_token_ids: list[int], params: Any, multi_modal_data: Any = None) -> Any:
        await asyncio.sleep(self._random.uniform(0.0, 0.3))
        text = self._left[self._prompts[tuple(prompt_token_ids)]].pop(0) + "<|im_end|>"
        ids = self._tokenizer(text=text, add_special_tokens=False)["input_ids"]
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, finish_reason="stop", logprobs=None)])


def _load_agent_file() -> Any:
    """What OpenRLHF's ``_load_agent_executor`` does with ``--train.agent_func_path``."""
    spec = importlib.util.spec_from_file_location("agent_module", adapter.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert issubclass(module.AgentExecutor, agent.AgentExecutorBase)
    return module.AgentExecutor()


def _rollout(executor: Any, tokenizer: Any, n: int, seed: int) -> tuple[list[list[dict[str, Any]]], float]:
    """A rollout as OpenRLHF's vLLM actor runs it: per prompt, ``generate_responses`` gathers n
    ``execute`` calls; all prompts at once; a default executor of only 6 threads."""
    chat = {tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                          add_generation_prompt=True): i for i, (q, _) in enumerate(PROBLEMS)}
    engine = FakeEngine(tokenizer, {p: _answers(i, n) for p, i in chat.items()}, seed)
    params = SimpleNamespace(max_tokens=64, logprobs=None)

    async def generate_responses(prompt: str, label: str) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(
            executor.execute(prompt=prompt, label=label, sampling_params=params, max_length=256,
                             hf_tokenizer=tokenizer, llm_engine=engine) for _ in range(n))))

    async def main() -> list[list[dict[str, Any]]]:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=6))
        return list(await asyncio.gather(*(generate_responses(p, PROBLEMS[i][1]) for p, i in chat.items())))

    started = time.monotonic()
    outputs = asyncio.run(main())
    return outputs, time.monotonic() - started


def _score_whole(base_url: str, n: int, tokenizer: Any, outputs: list[list[dict[str, Any]]]) -> list[list[float]]:
    """One /score of the same groups, each group's responses in the order its samples came back."""
    groups = []
    for i, samples in enumerate(outputs):
        got = [tokenizer.decode(s["observation_tokens"][s["action_ranges"][0][0]:]) for s in samples]
        groups.append({"prompt": samples[0]["prompt"], "reference": PROBLEMS[i][1],
                       "responses": [text.removesuffix("<|im_end|>") for text in got]})
        assert sorted(groups[-1]["responses"]) == sorted(_answers(i, n))
    body = httpx.post(f"{base_url}/score", timeout=120,
                      json={"groups": groups, "params": {"sigma_ref": 0.5, "session": "whole"}}).json()
    return [g["rewards"] for g in body["groups"]]


@pytest.mark.parametrize("n", [4, 3], ids=["train-4-samples", "eval-3-samples"])
def test_the_agent_file_scores_each_prompts_samples_as_one_group(
    embedded_server: Any, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    monkeypatch.setenv("HERO_URL", embedded_server.base_url)
    monkeypatch.setenv("HERO_PARAMS", '{"sigma_ref": 0.5}')
    monkeypatch.setenv("HERO_GROUP_SIZE", "4")  # ignored by this route: a launch is a group, eval too
    tokenizer = tiny_tokenizer()
    executor = _load_agent_file()

    outputs, seconds = _rollout(executor, tokenizer, n, seed=n)

    # The server's deadline is 60 s: one waiting group would show here.
    assert seconds < 15
    print(f"{n} samples x {len(PROBLEMS)} prompts answered in {seconds:.2f} s")
    expected = _score_whole(embedded_server.base_url, n, tokenizer, outputs)
    for i, samples in enumerate(outputs):
        assert len(samples) == n
        for sample, want in zip(samples, expected[i], strict=True):
            assert sample["extra_logs"]["partial"] == [0.0]
            assert sample["extra_logs"]["server_error"] == [0.0]
            assert sample["reward"] == pytest.approx([want], abs=1e-6)
