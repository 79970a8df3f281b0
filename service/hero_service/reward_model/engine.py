"""What every torch-backed scorer shares: device and dtype choice, one forward thread, the batcher."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import torch

from hero_service.reward_model.base import InProcess, ModelInfo, RMItem, RMScore
from hero_service.reward_model.batcher import (
    Batcher,
    BatcherClosedError,
    BatchLimits,
    BatchObserver,
    BatchTooLargeError,
    Encoded,
)

log = logging.getLogger(__name__)

EncT = TypeVar("EncT", bound=Encoded)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str) -> torch.device:
    """``auto`` is the first GPU when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"HERO_RM_DEVICE={device} but torch sees no CUDA device; use auto or cpu.")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` is bfloat16 on a GPU and float32 on the CPU, where bf16 matmuls are slow and lossy."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use one of auto, {', '.join(_DTYPES)}") from None


def pad_right(
    rows: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token rows into ``(input_ids, attention_mask)`` on ``device``.

    Right padding keeps every real token at the positions it has alone, so with causal attention a
    score cannot depend on which other items share the batch.
    """
    width = max(len(r) for r in rows)
    ids = torch.tensor([[*r, *([pad_id] * (width - len(r)))] for r in rows], dtype=torch.long)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
    return ids.to(device), mask.to(device)


class TorchRewardModel(ABC, Generic[EncT]):
    """A :class:`~hero_service.reward_model.base.RewardModel` whose model lives on one worker thread.

    Loading, warm-up and every forward pass run on that thread, so the event loop never blocks on torch
    and CUDA work is issued from a single thread. Subclasses implement :meth:`_load`, :meth:`encode`
    (called on the tokenizer thread; must not touch the model) and :meth:`forward`.
    """

    def __init__(
        self,
        *,
        model_id: str,
        kind: str,
        device: str,
        dtype: str,
        max_length: int,
        limits: BatchLimits,
        observer: BatchObserver | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.max_length = max_length
        self._model_id = model_id
        self._kind = kind
        self._limits = limits
        self._observer = observer
        self._worker: ThreadPoolExecutor | None = None
        self._batcher: Batcher[RMItem, EncT] | None = None

    @property
    def info(self) -> ModelInfo:
        limits = self._limits
        return ModelInfo(
            model_id=self._model_id,
            kind=self._kind,
            max_length=self.max_length,
            input=self._input_layout(),
            end_tokens=self._end_tokens(),
            batching={"max_batch_tokens": limits.max_batch_tokens, "max_batch_size": limits.max_batch_size,
                      "max_wait_ms": limits.max_wait_ms, "max_queue": limits.max_queue},
            runtime=InProcess(device=str(self.device), dtype=str(self.dtype).removeprefix("torch.")),
            extra=self._extra_info(),
        )

    @property
    def limits(self) -> BatchLimits:
        return self._limits

    async def start(self) -> None:
        if self._batcher is not None:
            return
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="hero-rm-forward")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._worker, self._load_and_warm_up)
        batcher: Batcher[RMItem, EncT] = Batcher(
            encode=self.encode,
            forward=self._guarded_forward,
            forward_executor=self._worker,
            limits=self._limits,
            observer=self._observer,
        )
        await batcher.start()
        self._batcher = batcher

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.close()
            self._batcher = None
        if self._worker is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._worker, self._unload)
            self._worker.shutdown(wait=True)
            self._worker = None

    def score(self, items: Sequence[RMItem]) -> asyncio.Future[list[RMScore]]:
        if self._batcher is None:
            raise BatcherClosedError("the reward model is not running (not started, or shutting down)")
        return self._batcher.admit(items)

    def load(self) -> None:
        """Load on the calling thread, without the batcher (benchmarks and tests drive forward() directly)."""
        self._load()

    def _load_and_warm_up(self) -> None:
        self._load()
        # The first pass pays for lazy initialisation (kernels, allocator); do it before /ready says yes.
        warm = self.encode([RMItem(prompt="What is 1 + 1?", response="2", reference="2")])
        self._guarded_forward(warm)
        log.info("reward model %s loaded on %s as %s", self._model_id, self.device, self.dtype)

    def _guarded_forward(self, batch: Sequence[EncT]) -> list[float]:
        try:
            with torch.inference_mode():
                return self.forward(batch)
        except torch.OutOfMemoryError as exc:
            # The caching allocator still holds the failed pass's blocks; free them before the halves run.
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise BatchTooLargeError(f"{len(batch)} items") from exc

    def _unload(self) -> None:
        self._release()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    @abstractmethod
    def _load(self) -> None:
        """Load tokenizer and model (on the worker thread)."""

    @abstractmethod
    def _release(self) -> None:
        """Drop the references to the model so its memory can be freed."""

    @abstractmethod
    def encode(self, items: Sequence[RMItem]) -> list[EncT]:
        """Tokenize ``items``; thread-safe, no model access."""

    @abstractmethod
    def forward(self, batch: Sequence[EncT]) -> list[float]:
        """One forward pass over ``batch`` (already under inference mode); one float per item."""

    def _extra_info(self) -> dict[str, object]:
        return {}

    def _end_tokens(self) -> tuple[str, ...]:
        """Tokens a response may end with, once the tokenizer is loaded."""
        return ()

    def _input_layout(self) -> str | None:
        """How a (prompt, response) reaches the model, for /info and the log."""
        return None
