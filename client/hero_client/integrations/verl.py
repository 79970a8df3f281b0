"""veRL adapter (veRL >= 0.7.1 reward loop; checked against 0.9.1).

Two ways in; both POST to ``/score`` and return the same keys for every sample, as veRL requires:

1. ``compute_score``, an async ``reward.custom_reward_function``. veRL does not give it the GRPO
   ``uid``, so the group id is derived from the data source, ``extra_info["index"]``, the prompt
   (``extra_info["question"]``) and the ground truth. A prompt that occurs twice in one step joins
   the wrong group, and without ``HERO_CLIENT_GROUP_SIZE`` every response is a group of one::

       reward.custom_reward_function.path=pkg://hero_client.integrations.verl
       reward.custom_reward_function.name=compute_score
       +reward.custom_reward_function.reward_kwargs.group_size=8      # = actor_rollout_ref.rollout.n

2. ``HeroRewardManager``, a ``RewardManagerBase`` that sends each sample's ``uid`` and chat prompt, so
   groups are exact; the group size is ``actor_rollout_ref.rollout.n``::

       reward.reward_manager.source=importlib
       reward.reward_manager.module.path=pkg://hero_client.integrations.verl
       reward.reward_manager.name=HeroRewardManager
       +reward.reward_kwargs.url=http://hero:8000                      # or HERO_CLIENT_URL

Validation rollouts (``val_kwargs.n`` per prompt) use the same group size: set ``val_kwargs.n`` to
``rollout.n``, or their groups are scored partial at the server's deadline (``acc`` is exact either way).
veRL pads batches with copies of their first samples (same uid); ``HeroRewardManager`` claims each
sample's place in its group so that a copy is never counted as another sample, ``compute_score``
cannot tell a copy from a sample.

Settings: keyword overrides (``reward_kwargs``: url, api_key, group_size, mode, session, params,
timeout, retries), then ``HERO_*`` environment variables (see ``AdapterSettings``). Set
``algorithm.norm_adv_by_std_in_grpo=False``: dividing by the group std cancels HERO's weighting.
Imports of this module are absolute because veRL may load it from a file path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib
import logging
import warnings
import weakref
from collections.abc import Mapping
from typing import Any

from hero_client._client import AsyncHeroClient
from hero_client._exceptions import HeroError, HeroStatusError
from hero_client._types import ScoredResponse
from hero_client.integrations._common import (
    AdapterSettings,
    group_id,
    to_jsonable,
    to_reference,
    warn_std_normalization,
)
from hero_client.schemas import Message, Prompt

# HeroRewardManager is resolved lazily by __getattr__ (it needs veRL), so it is not in __all__.
__all__ = ["RESULT_KEYS", "compute_score", "result_dict", "score_sample"]

log = logging.getLogger(__name__)

# veRL fixes a batch's logged keys from its first sample, so every result carries all of these.
RESULT_KEYS = ("score", "acc", "verifier", "rm_score", "normalized", "weight", "sigma", "partial",
               "graded", "error")

# Estimators whose per-group std division ``algorithm.norm_adv_by_std_in_grpo`` switches.
_STD_ESTIMATORS = frozenset({"grpo", "grpo_vectorized", "gdpo"})


def result_dict(scored: ScoredResponse | None) -> dict[str, float]:
    """veRL's per-sample result: ``score`` is the reward, the rest is logged. All numeric, so veRL can
    average them; ``scored=None`` (the request failed) gives reward 0 with ``error=1``."""
    if scored is None:
        return dict.fromkeys(RESULT_KEYS, 0.0) | {"error": 1.0}
    return {
        "score": scored.reward,
        "acc": float(scored.verifier),
        "verifier": float(scored.verifier),
        "rm_score": scored.rm_score if scored.rm_score is not None else 0.0,
        "normalized": scored.normalized,
        "weight": scored.weight,
        "sigma": scored.sigma,
        "partial": float(scored.partial),
        "graded": float(scored.graded),
        "error": 0.0,
    }


async def score_sample(
    client: AsyncHeroClient,
    settings: AdapterSettings,
    *,
    prompt: Prompt,
    reference: Any,
    response: str,
    gid: str,
    part_id: str | None = None,
) -> dict[str, float]:
    """One sample's result dict; a failed request (after the client's retries) is logged, not raised,
    because an exception would fail the whole veRL step.

    ``part_id`` names the sample's place in its group: a copy sent again under it (veRL's padding) is
    answered from the first instead of joining the group as another sample."""
    size = settings.group_size or 1
    group: dict[str, Any] = {"id": gid, "prompt": prompt, "reference": reference, "responses": [response],
                             "group_size": size}
    if part_id is not None and size > 1:
        group["part_id"] = part_id
    try:
        scored = ScoredResponse.from_group((await client.score([group], settings.params)).groups[0], 0)
    except HeroStatusError as exc:
        if exc.status_code != 409 or "part_id" not in group:
            log.warning("hero-reward: sample of group %s not scored (reward 0, error=1): %s", gid, exc)
            return result_dict(None)
        # Another sample already holds this place: a pad copy that was generated anew (validation pads
        # before generating) reached the server first. Grade this one alone (a group of one) so that
        # its verifier outcome, veRL's validation ``acc``, stays right.
        log.warning("hero-reward: place %s of group %s taken by a pad copy; scoring alone", part_id, gid)
        return await score_sample(client, dataclasses.replace(settings, group_size=1), prompt=prompt,
                                  reference=reference, response=response, gid=f"{gid}-{part_id}")
    except HeroError as exc:
        log.warning("hero-reward: sample of group %s not scored (reward 0, error=1): %s", gid, exc)
        return result_dict(None)
    return result_dict(scored)


class _LoopClients:
    """One ``AsyncHeroClient`` per event loop and server. ``compute_score`` is a bare function by veRL's
    contract, so its connection pool cannot live in an object of ours; making a client per call costs
    ~25 ms of CPU on the loop. httpx's async connections belong to the loop that opened them, and the
    weak keys let a closed loop's clients go with it."""

    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[Any, ...], AsyncHeroClient]
        ] = weakref.WeakKeyDictionary()

    def get(self, settings: AdapterSettings) -> AsyncHeroClient:
        per_loop = self._clients.setdefault(asyncio.get_running_loop(), {})
        client = per_loop.get(settings.client_key)
        if client is None:
            client = per_loop[settings.client_key] = settings.async_client()
        return client


_clients = _LoopClients()


async def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """veRL's ``custom_reward_function``: the HERO reward of one response; keys are ``RESULT_KEYS``.

    ``kwargs`` holds veRL's ``reward_kwargs`` (our keys are read, the rest ignored).
    """
    settings = AdapterSettings.resolve(kwargs)
    if settings.group_size is None:
        warnings.warn("hero-reward: no group size (HERO_CLIENT_GROUP_SIZE, formerly HERO_GROUP_SIZE, or "
                      "reward_kwargs.group_size), so each "
                      "response is scored as a group of one; set it to actor_rollout_ref.rollout.n.",
                      UserWarning, stacklevel=2)
    info = to_jsonable(extra_info) if isinstance(extra_info, Mapping) else {}
    prompt = _text_prompt(info)
    reference = to_reference(ground_truth)
    gid = group_id("verl", to_jsonable(data_source), info.get("index"), prompt, reference)
    return await score_sample(_clients.get(settings), settings, prompt=prompt, reference=reference,
                              response=solution_str, gid=gid)


def _text_prompt(info: Mapping[str, Any]) -> str:
    for key in ("question", "prompt", "problem"):
        value = info.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _chat_prompt(raw: Any) -> Prompt | None:
    """veRL's ``raw_prompt`` (chat messages, as a list or numpy object array) as wire messages."""
    messages = to_jsonable(raw)
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list) or not messages:
        return None
    out: list[Message] = []
    for message in messages:
        if not isinstance(message, Mapping) or "role" not in message:
            return None
        content = message.get("content", "")
        if isinstance(content, list):  # multimodal parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        out.append(Message(role=str(message["role"]), content=content if isinstance(content, str)
                           else str(content)))
    return out


def _config_get(config: Any, dotted: str, default: Any = None) -> Any:
    node = config
    for part in dotted.split("."):
        getter = getattr(node, "get", None)
        if getter is None:
            return default
        node = getter(part)
        if node is None:
            return default
    return node


def _uses_std_normalization(config: Any) -> bool:
    estimator = str(_config_get(config, "algorithm.adv_estimator", ""))
    divides = bool(_config_get(config, "algorithm.norm_adv_by_std_in_grpo", True))
    return estimator in _STD_ESTIMATORS and divides


@functools.cache
def _manager_class() -> type:
    # Built on first access so that importing this module (for compute_score) never imports veRL.
    base: Any = importlib.import_module("verl.experimental.reward_loop.reward_manager.base").RewardManagerBase

    class HeroRewardManager(base):  # type: ignore[misc]
        """veRL reward manager that scores through hero-reward with exact groups (the sample's ``uid``)."""

        def __init__(
            self,
            config: Any,
            tokenizer: Any,
            compute_score: Any,
            reward_router_address: str | None = None,
            reward_model_tokenizer: Any = None,
        ) -> None:
            super().__init__(config, tokenizer, compute_score)
            overrides = dict(to_jsonable(_config_get(config, "reward.reward_kwargs", {})) or {})
            overrides.setdefault("group_size", _config_get(config, "actor_rollout_ref.rollout.n"))
            self.settings = AdapterSettings.resolve(overrides)
            self._client: AsyncHeroClient | None = None
            if _uses_std_normalization(config):
                warn_std_normalization("algorithm.norm_adv_by_std_in_grpo=False")

        @property
        def client(self) -> AsyncHeroClient:
            # Made on first use, inside the worker's running loop, which its connections belong to.
            if self._client is None:
                self._client = self.settings.async_client()
            return self._client

        async def run_single(self, data: Any) -> dict[str, Any]:
            """``{"reward_score": float, "reward_extra_info": {key: float}}`` for the last sample of
            ``data``, as veRL's naive manager returns it."""
            item = data[-1:][0]
            response_ids = item.batch["responses"]
            valid = int(item.batch["attention_mask"][-response_ids.shape[-1]:].sum())
            response = await self.loop.run_in_executor(
                None, lambda: self.tokenizer.decode(response_ids[:valid], skip_special_tokens=True)
            )
            extras = item.non_tensor_batch
            info = to_jsonable(extras.get("extra_info")) or {}
            info = info if isinstance(info, Mapping) else {}
            reference = to_reference(extras["reward_model"]["ground_truth"])
            prompt = _chat_prompt(extras.get("raw_prompt")) or _text_prompt(info)
            uid = extras.get("uid")
            if uid is not None:
                gid = f"verl-{to_jsonable(uid)}"
            else:  # not a GRPO batch: fall back to compute_score's derived id
                source = to_jsonable(extras.get("data_source"))
                gid = group_id("verl", source, info.get("index"), _text_prompt(info), reference)
            result = await score_sample(self.client, self.settings, prompt=prompt, reference=reference,
                                        response=response, gid=gid, part_id=self._place(extras))
            return {"reward_score": result["score"], "reward_extra_info": result}

        def _place(self, extras: Mapping[str, Any]) -> str | None:
            """The sample's place in its group, the same for veRL's pad copies of it.

            veRL pads a batch to a multiple of its workers with copies of the first samples, uid
            included (``pad_dataproto_to_divisor``). The agent loop numbers the samples of a step
            (``priority``), a prompt's ``n`` samples consecutively: ``priority % n`` is a sample's place,
            and a pad appended after the batch lands on the place of the sample it copies (the batch
            holds whole groups). A copy made after generation (the reward workers' padding) carries its
            original's priority and response, so the server answers it as a retry of that place."""
            priority = to_jsonable(extras.get("priority"))
            # Without the numbering (veRL < 0.9) a copy cannot be told from a sample that happens to
            # give the same response, so no place is claimed.
            return f"place-{priority % (self.settings.group_size or 1)}" if isinstance(priority, int) else None

    return HeroRewardManager


def __getattr__(name: str) -> Any:
    if name == "HeroRewardManager":
        return _manager_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

