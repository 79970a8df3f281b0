"""TRL adapter: ``HeroReward``, an async reward function for ``GRPOTrainer`` (TRL >= 0.27; 1.16 checked).

Usage::

    from hero_client.integrations.trl import HeroReward

    args = GRPOConfig(num_generations=8, scale_rewards="none", ...)   # "none": see below
    trainer = GRPOTrainer(model, reward_funcs=[HeroReward("http://hero:8000", args=args)], args=args, ...)

TRL calls a reward function once per generation batch in every process, with that process's slice
of the batch. A prompt's ``num_generations`` completions are consecutive in the global batch (all
ranks' slices, in rank order), but a slice boundary may cut a group in two. So each call sends one
POST in which every group, or the part of it this rank holds, is an entry with
``group_size=num_generations`` and an id made of the prompt, the global step and the group's position
in the global batch: the server joins the parts that the other ranks send under the same id.

TRL hands reward functions bound methods of the trainer (``log_metric``); through it the adapter follows
the trainer's own ``num_generations`` (``num_generations_eval`` while evaluating) and checks its config.

With ``scale_rewards="group"`` (TRL's default) the advantage is divided by each group's std, which
cancels HERO's weight and bands; use ``scale_rewards="none"``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from hero_client._client import AsyncHeroClient, ParamsLike
from hero_client._exceptions import HeroError
from hero_client._types import ScoredResponse
from hero_client.ids import group_id, to_jsonable
from hero_client.integrations._common import AdapterSettings, warn_std_normalization
from hero_client.schemas import Message, Prompt, ScoreParams

__all__ = ["HeroReward"]

log = logging.getLogger(__name__)

_REFERENCE_COLUMNS = ("answer", "solution", "ground_truth", "reference")


class HeroReward:
    """An async ``reward_funcs`` entry for TRL's ``GRPOTrainer`` that scores through hero-reward.

    Args:
        url: base URL(s) of the server; default ``HERO_CLIENT_URL``, then ``http://127.0.0.1:8000``.
        num_generations: completions per prompt; default ``args.num_generations``, then ``HERO_CLIENT_GROUP_SIZE``.
        args: the ``GRPOConfig``; gives ``num_generations`` and lets the adapter check ``scale_rewards``.
        reference_column: dataset column with the gold answer; default the first of
            answer, solution, ground_truth, reference that the batch has.
        params: ``ScoreParams`` (or a dict of them) for every request, e.g. ``{"mode": "hero"}``.
        process_index: this process's rank; default accelerate's (TRL's own) process index.
        name: the name TRL logs the reward under.
        api_key, timeout, retries: as for ``AsyncHeroClient`` (defaults from ``HERO_*``).
        transport: an ``httpx.AsyncBaseTransport`` to use instead of the network (tests).

    Returns ``None`` for a completion the server could not grade (or all of them when the request
    fails after retries): TRL then leaves it out of the group's mean and gives it zero advantage.
    """

    def __init__(
        self,
        url: str | Sequence[str] | None = None,
        *,
        num_generations: int | None = None,
        args: Any = None,
        reference_column: str | None = None,
        params: ParamsLike | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        process_index: int | None = None,
        name: str = "hero_reward",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        overrides = {"url": url, "api_key": api_key, "timeout": timeout, "retries": retries,
                     "group_size": num_generations if num_generations is not None
                     else getattr(args, "num_generations", None)}
        if params is not None:
            overrides["params"] = ScoreParams.model_validate(params).model_dump(exclude_none=True)
        self.settings = AdapterSettings.resolve(overrides)
        if self.settings.group_size is None:
            raise ValueError("HeroReward needs num_generations= (or args=GRPOConfig, or HERO_CLIENT_GROUP_SIZE)")
        self.num_generations: int = self.settings.group_size
        self.reference_column = reference_column
        self.process_index = process_index
        self.__name__ = name
        # Part of every group id, so that two runs scoring on one server at the same step stay apart.
        self._run = getattr(args, "run_name", None) or self.settings.params.session or ""
        self._transport = transport
        self._client: AsyncHeroClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._checked = False
        if args is not None:
            self.check_args(args)

    def check_args(self, args: Any) -> None:
        """Warn (once) when the trainer's advantage divides by the group std."""
        if self._checked:
            return
        self._checked = True
        raw: Any = getattr(args, "scale_rewards", "none")
        scale = "group" if raw is True else "none" if raw is False else str(raw)  # TRL's bool aliases
        if getattr(args, "multi_objective_aggregation", None) == "normalize_then_sum":
            warn_std_normalization('multi_objective_aggregation="sum_then_normalize" and scale_rewards="none"')
        elif scale == "group":
            warn_std_normalization('GRPOConfig(scale_rewards="none")')
        elif scale != "none":
            warn_std_normalization(
                f'GRPOConfig(scale_rewards="none") (scale_rewards="{scale}" divides every group by the '
                "same batch std: the weight survives, but rewards lose their scale)"
            )

    async def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        """One reward per completion, aligned with ``completions``."""
        references = self._references(kwargs, len(completions))
        size, mode = self._group_size(kwargs)
        step = getattr(kwargs.get("trainer_state"), "global_step", 0)
        offset = self._rank() * len(completions)

        # Consecutive completions in one global group form one entry (a whole group or this rank's part).
        entries: list[dict[str, Any]] = []
        slots: list[tuple[int, int]] = []  # (entry, position in it) per completion
        last_group = -1
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            group = (offset + i) // size
            if group != last_group:
                wire_prompt = _prompt(prompt)
                entries.append({
                    "id": group_id("trl", self._run, mode, step, group, to_jsonable(wire_prompt)),
                    "prompt": wire_prompt,
                    "reference": references[i],
                    "responses": [],
                    "group_size": size,
                })
                last_group = group
            slots.append((len(entries) - 1, len(entries[-1]["responses"])))
            entries[-1]["responses"].append(_completion(completion))

        try:
            result = await self._client_for_loop().score(entries, self.settings.params)
        except HeroError as exc:
            log.warning("hero-reward: %d completions not scored (None): %s", len(completions), exc)
            _log_metric(kwargs, "hero/ungraded", 1.0)
            return [None] * len(completions)

        scored = [ScoredResponse.from_group(result.groups[e], k) for e, k in slots]
        rewards = [s.reward if s.graded else None for s in scored]
        n = max(1, len(scored))
        _log_metric(kwargs, "hero/ungraded", sum(r is None for r in rewards) / n)
        _log_metric(kwargs, "hero/partial", sum(s.partial for s in scored) / n)
        _log_metric(kwargs, "hero/verifier", sum(s.verifier for s in scored) / n)
        _log_metric(kwargs, "hero/weight", sum(s.weight for s in scored) / n)
        return rewards

    def __getstate__(self) -> dict[str, Any]:
        # The HTTP client holds sockets bound to an event loop; a copy opens its own.
        state = self.__dict__.copy()
        state["_client"] = state["_client_loop"] = None
        return state

    def _group_size(self, kwargs: Mapping[str, Any]) -> tuple[int, str]:
        """The group size and mode ("train" or "eval") of this call.

        TRL passes bound methods of the trainer (``log_metric``), so the trainer is reachable: its config
        is checked once, and its own ``num_generations`` (``num_generations_eval`` while evaluating)
        decides the grouping, as it decides the advantage's."""
        trainer = getattr(kwargs.get("log_metric"), "__self__", None)
        if trainer is None:
            return self.num_generations, "train"
        args = getattr(trainer, "args", None)
        if args is not None:
            self.check_args(args)
        training = bool(getattr(getattr(trainer, "model", None), "training", True))
        size = getattr(trainer, "num_generations" if training else "num_generations_eval", None)
        return (int(size) if size else self.num_generations), ("train" if training else "eval")

    def _client_for_loop(self) -> AsyncHeroClient:
        # TRL runs async rewards on one long-lived loop; a new loop (tests, asyncio.run) needs a new client.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = self.settings.async_client(self._transport)
            self._client_loop = loop
        return self._client

    def _rank(self) -> int:
        if self.process_index is None:
            try:
                state = importlib.import_module("accelerate").PartialState()
                self.process_index = int(state.process_index)
            except ImportError:  # no accelerate means no TRL multi-process run
                self.process_index = 0
        return self.process_index

    def _references(self, columns: Mapping[str, Any], count: int) -> list[Any]:
        names = (self.reference_column,) if self.reference_column else _REFERENCE_COLUMNS
        for name in names:
            values = columns.get(name)
            if values is not None:
                if len(values) != count:
                    raise ValueError(f"column {name!r} has {len(values)} values for {count} completions")
                return [to_jsonable(v) for v in values]
        have = sorted(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric"))
        raise KeyError(f"no reference column {list(names)} in the batch (columns: {have}); "
                       "pass HeroReward(reference_column=...)")


def _prompt(prompt: Any) -> Prompt:
    """A TRL prompt (text, or chat messages for conversational data) on the wire."""
    if isinstance(prompt, str):
        return prompt
    return [Message(role=str(m["role"]), content=_text(m.get("content", ""))) for m in prompt]


def _completion(completion: Any) -> str:
    """A completion's text; conversational ones are ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, str):
        return completion
    return "".join(_text(m.get("content", "")) for m in completion if m.get("role", "assistant") == "assistant")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: keep the text
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return str(content)


def _log_metric(kwargs: Mapping[str, Any], name: str, value: float) -> None:
    log_metric = kwargs.get("log_metric")
    if callable(log_metric):
        log_metric(name, float(value))
