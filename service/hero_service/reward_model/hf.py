"""Any Hugging Face ``AutoModelForSequenceClassification`` reward model (Skywork-Reward-V2, AceMath-RM, ...).

The input is built the way the RM's own card builds it: the RM's chat template over the prompt (text or
chat messages, with an optional system turn) and the response as the assistant turn, BOS exactly once.
Batches are right-padded with an explicit pad id and the score is the raw value of the classification head
at the last real token, read from the attention mask rather than from the pad id.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from hero_service.reward_model.base import ChatMessage, RMItem
from hero_service.reward_model.batcher import BatchLimits, BatchObserver
from hero_service.reward_model.engine import TorchRewardModel, pad_right
from hero_service.reward_model.precut import keep_ends

log = logging.getLogger(__name__)

KIND = "reward-model"
Output = Literal["logits", "score"]
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class EncodedChat:
    """The token ids of one rendered conversation, ready to pad."""

    ids: list[int]
    truncated: bool

    @property
    def length(self) -> int:
        return len(self.ids)


class HFRewardModel(TorchRewardModel[EncodedChat]):
    """A sequence-classification RM loaded by hub id or local path.

    ``output="logits"`` reads ``logits[:, 0]``; ``"score"`` reads ``.score`` (ArmoRM, whose ``logits`` are
    not the reward). ``trust_remote_code`` must be asked for explicitly.
    """

    def __init__(
        self,
        model: str,
        *,
        trust_remote_code: bool = False,
        device: str = "auto",
        dtype: str = "auto",
        max_length: int = 4096,
        system_prompt: str | None = None,
        output: Output = "logits",
        limits: BatchLimits | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        super().__init__(
            model_id=model,
            kind=KIND,
            device=device,
            dtype=dtype,
            max_length=max_length,
            limits=limits if limits is not None else BatchLimits(),
            observer=observer,
        )
        self.trust_remote_code = trust_remote_code
        self.system_prompt = system_prompt
        self.output: Output = output
        self._tokenizer: Any = None
        self._model: Any = None
        self._pad_id = 0
        self._bos_id: int | None = None
        # Per thread, so forward() stays safe to call from several threads (the engine uses one).
        self._head_out = threading.local()

    # --- loading ---

    def _load(self) -> None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(self._model_id, trust_remote_code=self.trust_remote_code)
        if not getattr(tok, "chat_template", None):
            raise ValueError(
                f"{self._model_id} has no chat template, so the (prompt, response) layout it was trained on "
                "is unknown. Hint: use a reward model that ships one (Skywork-Reward-V2, AceMath-RM)."
            )
        model = self._load_model()

        text_config = model.config.get_text_config()
        positions = getattr(text_config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions < self.max_length:
            log.warning("HERO_RM_MAX_LENGTH=%d is past the model's %d positions; using %d",
                        self.max_length, positions, positions)
            self.max_length = positions

        # Any pad id works with right padding and a mask, but the model must have one: transformers refuses
        # batches larger than one without it. Qwen2.5-Math-RM's config, for one, has none.
        pad = _first_int(text_config.pad_token_id, tok.pad_token_id, tok.eos_token_id, 0)
        text_config.pad_token_id = pad
        model.config.pad_token_id = pad
        self._pad_id = pad

        tok.model_max_length = sys.maxsize  # encode() truncates by itself; the warning would be noise
        self._bos_id = _added_bos(tok)
        self._tokenizer = tok
        self._model = model
        head = getattr(model, "score", None)
        if self.output == "logits" and isinstance(head, nn.Linear):
            head.register_forward_hook(self._keep_head_output)

    def _load_model(self) -> Any:
        from transformers import AutoModelForSequenceClassification

        kwargs: dict[str, Any] = {"dtype": self.dtype, "trust_remote_code": self.trust_remote_code}
        if self.device.type == "cuda":
            kwargs["device_map"] = str(self.device)
        try:
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                self._model_id, attn_implementation="sdpa", output_loading_info=True, **kwargs
            )
        except (ValueError, ImportError) as exc:
            log.warning("SDPA attention unavailable for %s (%s); using the model's default",
                        self._model_id, exc)
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                self._model_id, output_loading_info=True, **kwargs
            )
        missing = [k for k in loading.get("missing_keys", ()) if "score" in k or "classifier" in k]
        if missing:
            raise ValueError(
                f"{self._model_id} has no trained classification head (missing {missing}); it is not a "
                "sequence-classification reward model. Hint: HERO_RM_MODEL must name a checkpoint saved as "
                "*ForSequenceClassification, such as Skywork/Skywork-Reward-V2-Qwen3-0.6B."
            )
        return model.to(self.device).eval()

    def _release(self) -> None:
        self._model = None

    def _extra_info(self) -> dict[str, object]:
        return {
            "output": self.output,
            "system_prompt": self.system_prompt is not None,
            "trust_remote_code": self.trust_remote_code,
            "pad_token_id": self._pad_id,
            "special_tokens": _end_tokens(self._tokenizer),
        }

    # --- tokenization (tokenizer thread) ---

    def messages(self, item: RMItem) -> list[ChatMessage]:
        """The conversation the RM sees: [system], prompt turn(s), the response as the assistant turn."""
        if isinstance(item.prompt, str):
            turns: list[ChatMessage] = [{"role": "user", "content": item.prompt}]
        else:
            turns = [dict(m) for m in item.prompt]
        if self.system_prompt is not None and (not turns or turns[0].get("role") != "system"):
            turns.insert(0, {"role": "system", "content": self.system_prompt})
        turns.append({"role": "assistant", "content": item.response})
        return turns

    def encode(self, items: Sequence[RMItem]) -> list[EncodedChat]:
        tok = self._tokenizer
        conversations = [self._precut(self.messages(item)) for item in items]
        texts: list[str] = [tok.apply_chat_template(c, tokenize=False) for c in conversations]
        fast = bool(getattr(tok, "is_fast", False))
        # The template writes every special token it wants, BOS included; the tokenizer adding its own
        # would give Skywork-V2 two BOS, which its card strips. So add none, then restore a missing BOS.
        enc = tok(texts, add_special_tokens=False, return_offsets_mapping=fast)
        out = []
        for k, text in enumerate(texts):
            ids: list[int] = list(enc["input_ids"][k])
            offsets: list[Span] = [tuple(o) for o in enc["offset_mapping"][k]] if fast else []
            if self._bos_id is not None and (not ids or ids[0] != self._bos_id):
                ids.insert(0, self._bos_id)
                offsets.insert(0, (0, 0))
            if len(ids) <= self.max_length:
                out.append(EncodedChat(ids, truncated=False))
                continue
            if fast:
                prompt_spans, response_span = _content_spans(text, conversations[k])
                ids = _truncate(ids, offsets, prompt_spans, response_span, self.max_length)
            else:
                ids = ids[-self.max_length :]
            out.append(EncodedChat(ids, truncated=True))
        return out

    def _precut(self, conversation: list[ChatMessage]) -> list[ChatMessage]:
        """Each content cut, before rendering and tokenizing, to what truncation can keep of it.

        Truncation keeps at most the last ``max_length`` tokens of a prompt turn, and the first quarter
        and the end of the response (see :func:`_truncate`); the cut keeps those tokens as they are.
        """
        limit = self.max_length
        *turns, last = conversation
        out = [{**turn, "content": keep_ends(turn.get("content", ""), 0, limit, self._count)} for turn in turns]
        out.append({**last, "content": keep_ends(last.get("content", ""), limit // 4, limit, self._count)})
        return out

    def _count(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    # --- forward pass (worker thread) ---

    def _keep_head_output(self, _module: nn.Module, _args: Any, output: torch.Tensor) -> None:
        self._head_out.value = output

    def forward(self, batch: Sequence[EncodedChat]) -> list[float]:
        ids, mask = pad_right([e.ids for e in batch], self._pad_id, self.device)
        self._head_out.value = None
        out = self._model(input_ids=ids, attention_mask=mask, use_cache=False)
        if self.output == "score":
            values = getattr(out, "score", None)
            if values is None:
                raise ValueError(f"{self._model_id} returns no .score; set HERO_RM_OUTPUT=logits")
            scores: list[float] = values.reshape(len(batch), -1)[:, 0].float().cpu().tolist()
            return scores
        per_token: torch.Tensor | None = self._head_out.value
        self._head_out.value = None
        if per_token is not None and per_token.dim() == 3:
            # The head's value at the last attended position. transformers pools at the right-most token
            # that is not the pad id, which is wrong when a template ends in the pad token itself.
            last = mask.sum(dim=1) - 1
            values = per_token[torch.arange(len(batch), device=per_token.device), last, 0]
        else:
            values = out.logits[:, 0]
        return [float(v) for v in values.float().cpu().tolist()]


def _end_tokens(tok: Any) -> list[str]:
    """The tokenizer's end and padding markers, which a decoded rollout may still carry at its end."""
    if tok is None:
        return []
    names = (tok.eos_token, tok.pad_token, getattr(tok, "sep_token", None))
    return sorted({t for t in names if isinstance(t, str) and t})


def _first_int(*candidates: object) -> int:
    for value in candidates:
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, int):
            return value
    raise AssertionError("unreachable: the last candidate is an int")


def _added_bos(tok: Any) -> int | None:
    """The BOS id when the tokenizer adds one to plain text by itself (Llama), else None (Qwen)."""
    bos = tok.bos_token_id
    if bos is None:
        return None
    with_special = tok("x", add_special_tokens=True)["input_ids"]
    return bos if with_special and with_special[0] == bos else None


def _content_spans(text: str, conversation: Sequence[ChatMessage]) -> tuple[list[Span], Span | None]:
    """Character spans, in the rendered ``text``, of the prompt turns' contents and of the response.

    System turns are not listed: an instruction such as AceMath's is never cut. A content the template
    rewrote (and so cannot be found verbatim) is left out, which only protects its tokens from truncation.
    """
    *turns, last = conversation
    response_span = _locate(text, last.get("content", ""), 0, len(text), last=True)
    limit = response_span[0] if response_span is not None else len(text)
    prompt_spans: list[Span] = []
    cursor = 0
    for turn in turns:
        span = _locate(text, turn.get("content", ""), cursor, limit, last=False)
        if span is None:
            continue
        cursor = span[1]
        if turn.get("role") != "system":
            prompt_spans.append(span)
    return prompt_spans, response_span


def _locate(text: str, content: str, start: int, end: int, *, last: bool) -> Span | None:
    """Where ``content`` sits in ``text[start:end]``; many templates trim contents (Llama 3 does)."""
    for needle in (content, content.strip()):
        if not needle:
            return None
        at = text.rfind(needle, start, end) if last else text.find(needle, start, end)
        if at >= 0:
            return at, at + len(needle)
    return None


def _truncate(
    ids: list[int],
    offsets: Sequence[Span],
    prompt_spans: Sequence[Span],
    response_span: Span | None,
    limit: int,
) -> list[int]:
    """Cut ``ids`` to ``limit`` tokens, keeping the template and the end of the response.

    Order of cuts: the start of the prompt down to its last ``limit // 4`` tokens (the question usually
    ends the prompt); then the middle of the response, keeping its first quarter and its end (the final
    answer); then the rest of the prompt; then, if the template alone is too long, everything but the end.
    """

    def inside(i: int, span: Span) -> bool:
        start, end = offsets[i]
        return end > start and span[0] <= start and end <= span[1]

    keep = [True] * len(ids)
    excess = len(ids) - limit
    prompt = [i for i in range(len(ids)) if any(inside(i, s) for s in prompt_spans)]
    response = [i for i in range(len(ids)) if response_span is not None and inside(i, response_span)]

    def drop(indices: Sequence[int]) -> None:
        nonlocal excess
        for i in indices:
            keep[i] = False
        excess -= len(indices)

    floor = min(len(prompt), limit // 4)
    drop(prompt[: min(excess, len(prompt) - floor)])
    if excess > 0 and response:
        kept = max(len(response) - excess, 0)
        head = kept // 4
        drop(response[head : head + min(excess, len(response))])
    if excess > 0:
        remaining = prompt[len(prompt) - floor :]
        drop(remaining[: min(excess, len(remaining))])
    out = [t for t, k in zip(ids, keep, strict=True) if k]
    return out[-limit:]
