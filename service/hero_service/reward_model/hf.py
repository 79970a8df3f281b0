"""Any Hugging Face ``AutoModelForSequenceClassification`` reward model (Skywork-Reward-V2, AceMath-RM, ...).

The input is built the way the RM's own card builds it: the RM's chat template over the prompt (text or
chat messages, with an optional system turn) and the response as the assistant turn, BOS exactly once.
An RM without a chat template (DeBERTa-style, trained on text pairs) gets ``tokenizer(question, answer)``
instead, as its card calls it (``input_layout``). Batches are right-padded with an explicit pad id and the
score is the raw value of the classification head at the last real token, read from the attention mask
rather than from the pad id.
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
from hero_service.reward_model.locate import ModelSource, locate
from hero_service.reward_model.precut import keep_ends

log = logging.getLogger(__name__)

KIND = "reward-model"
Output = Literal["logits", "score"]
InputLayout = Literal["auto", "chat", "pair"]
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class EncodedChat:
    """The token ids of one rendered conversation (or text pair), ready to pad."""

    ids: list[int]
    truncated: bool
    token_types: list[int] | None = None
    """Segment ids of a text pair, for models that read them (BERT); None for a chat."""

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
        input_layout: InputLayout = "auto",
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
        self.input_layout: InputLayout = input_layout
        """As asked; after loading, ``chat`` or ``pair`` (``auto``: chat when the tokenizer has a template)."""
        self._pair: PairLayout | None = None
        self._tokenizer: Any = None
        self._model: Any = None
        self._pad_id = 0
        self._bos_id: int | None = None
        # Per thread, so forward() stays safe to call from several threads (the engine uses one).
        self._head_out = threading.local()
        self._source = ModelSource(model, local_files_only=False)

    # --- loading ---

    def _load(self) -> None:
        self.load_tokenizer()
        tok = self._tokenizer
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

        self._model = model
        head = getattr(model, "score", None)
        if self.output == "logits" and isinstance(head, nn.Linear):
            head.register_forward_hook(self._keep_head_output)

    def load_tokenizer(self) -> None:
        """Load the tokenizer and its chat template only: :meth:`encode` then works without the model
        (the remote backend renders and tokenizes with it and lets an engine run the forward pass)."""
        from transformers import AutoTokenizer

        self._source = locate(self._model_id)
        tok = AutoTokenizer.from_pretrained(self._source.name, trust_remote_code=self.trust_remote_code,
                                            local_files_only=self._source.local_files_only)
        has_template = bool(getattr(tok, "chat_template", None))
        if self.input_layout == "chat" and not has_template:
            raise ValueError(
                f"{self._model_id} has no chat template, and HERO_RM_INPUT=chat needs one. Fix: "
                "HERO_RM_INPUT=pair (or auto) for an RM trained on (question, answer) text pairs, as DeBERTa "
                "RMs are; else a reward model that ships a template (Skywork-Reward-V2, AceMath-RM)."
            )
        layout: InputLayout = "chat" if self.input_layout == "chat" or (
            self.input_layout == "auto" and has_template) else "pair"
        tok.model_max_length = sys.maxsize  # encode() truncates by itself; the warning would be noise
        self._bos_id = _added_bos(tok)
        self._pair = _pair_layout(tok) if layout == "pair" else None
        self.input_layout = layout
        log.info("reward model input: %s%s", layout, "" if has_template else " (the tokenizer has no chat "
                 "template; the model sees tokenizer(question, answer) as text-pair RMs' model cards do)")
        self._tokenizer = tok

    @property
    def end_tokens(self) -> list[str]:
        """The tokenizer's end and padding markers (``/get_reward`` strips them from rollouts)."""
        return _end_tokens(self._tokenizer)

    def _load_model(self) -> Any:
        from transformers import AutoModelForSequenceClassification

        kwargs: dict[str, Any] = {"dtype": self.dtype, "trust_remote_code": self.trust_remote_code,
                                  "local_files_only": self._source.local_files_only}
        if self.device.type == "cuda":
            kwargs["device_map"] = str(self.device)
        try:
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                self._source.name, attn_implementation="sdpa", output_loading_info=True, **kwargs
            )
        except (ValueError, ImportError) as exc:
            log.warning("SDPA attention unavailable for %s (%s); using the model's default",
                        self._model_id, exc)
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                self._source.name, output_loading_info=True, **kwargs
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

    def _input_layout(self) -> str:
        return self.input_layout

    def _extra_info(self) -> dict[str, object]:
        return {
            "output": self.output,
            "system_prompt": self.system_prompt is not None,
            "trust_remote_code": self.trust_remote_code,
            "pad_token_id": self._pad_id,
        }

    def _end_tokens(self) -> tuple[str, ...]:
        return tuple(self.end_tokens)

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
        if self._pair is not None:
            return self._encode_pairs(items, self._pair)
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

    def question(self, item: RMItem) -> str:
        """The first text of a pair: the prompt's turns (a system turn first), joined by blank lines."""
        return "\n\n".join(turn.get("content", "") for turn in self.messages(item)[:-1])

    def _encode_pairs(self, items: Sequence[RMItem], layout: PairLayout) -> list[EncodedChat]:
        """``tokenizer(question, response)`` as a text-pair RM's card calls it, cut like a chat."""
        room = self.max_length - layout.specials
        questions = [keep_ends(self.question(item), 0, room, self._count) for item in items]
        answers = [keep_ends(item.response, room // 4, room, self._count) for item in items]
        bodies: list[list[int]] = self._tokenizer(questions + answers, add_special_tokens=False)["input_ids"]
        out = []
        for question, answer in zip(bodies[: len(items)], bodies[len(items) :], strict=True):
            truncated = len(question) + len(answer) > room
            if truncated:
                question, answer = _truncate_pair(list(question), list(answer), room)
            ids, types = layout.build(question, answer)
            out.append(EncodedChat(ids, truncated, types))
        return out

    # --- forward pass (worker thread) ---

    def _keep_head_output(self, _module: nn.Module, _args: Any, output: torch.Tensor) -> None:
        self._head_out.value = output

    def forward(self, batch: Sequence[EncodedChat]) -> list[float]:
        ids, mask = pad_right([e.ids for e in batch], self._pad_id, self.device)
        self._head_out.value = None
        if self._pair is None:
            out = self._model(input_ids=ids, attention_mask=mask, use_cache=False)
        else:
            types = [e.token_types for e in batch]
            extra = {} if any(t is None for t in types) else \
                {"token_type_ids": pad_right([t for t in types if t is not None], 0, self.device)[0]}
            out = self._model(input_ids=ids, attention_mask=mask, **extra)
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


@dataclass(frozen=True, slots=True)
class PairLayout:
    """Where a tokenizer puts its special tokens and segment ids around a text pair ([CLS] a [SEP] b [SEP])."""

    prefix: list[int]
    middle: list[int]
    suffix: list[int]
    types: tuple[list[int], int, list[int], int, list[int]] | None
    """Segment ids of prefix, first text, middle, second text, suffix; None when the tokenizer has none."""

    @property
    def specials(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    def build(self, first: list[int], second: list[int]) -> tuple[list[int], list[int] | None]:
        ids = [*self.prefix, *first, *self.middle, *second, *self.suffix]
        if self.types is None:
            return ids, None
        pre, a, mid, b, suf = self.types
        return ids, [*pre, *[a] * len(first), *mid, *[b] * len(second), *suf]


def _pair_layout(tok: Any) -> PairLayout:
    """The tokenizer's own pair template, read off ``tok(first, second)`` for two probe texts.

    Tokenizing the texts without special tokens and assembling them here gives the ids ``tok(q, a)`` gives
    (a fast tokenizer encodes the two texts apart, then adds its template), and leaves room to truncate.
    """
    first = tok("question", add_special_tokens=False)["input_ids"]
    second = tok("answer", add_special_tokens=False)["input_ids"]
    both = tok("question", "answer", return_token_type_ids=True)
    ids: list[int] = list(both["input_ids"])
    try:
        i = next(k for k in range(len(ids)) if ids[k : k + len(first)] == first)
        j = next(k for k in range(i + len(first), len(ids)) if ids[k : k + len(second)] == second)
    except StopIteration:
        raise ValueError("the tokenizer's text-pair output does not contain the two texts it was given, so "
                         "HERO_RM_INPUT=pair cannot be used with it. Fix: a model with a chat template and "
                         "HERO_RM_INPUT=chat.") from None
    types: list[int] | None = list(both["token_type_ids"]) if "token_type_ids" in both else None
    layout_types = None if types is None else (
        types[:i], types[i], types[i + len(first) : j], types[j], types[j + len(second) :])
    return PairLayout(ids[:i], ids[i + len(first) : j], ids[j + len(second) :], layout_types)


def _truncate_pair(first: list[int], second: list[int], limit: int) -> tuple[list[int], list[int]]:
    """Cut a (question, answer) pair to ``limit`` tokens in the order :func:`_truncate` cuts a chat.

    The start of the question down to its last ``limit // 4`` tokens; then the middle of the answer,
    keeping its first quarter and its end (the final answer); then the rest of the question.
    (transformers' ``longest_first`` would cut the end of the answer, ``only_first`` the end of the
    question.)
    """
    excess = len(first) + len(second) - limit
    floor = min(len(first), limit // 4)
    cut = min(excess, len(first) - floor)
    first, excess = first[cut:], excess - cut
    if excess > 0 and second:
        kept = max(len(second) - excess, 0)
        head = kept // 4
        cut = min(excess, len(second))
        second, excess = second[:head] + second[head + cut :], excess - cut
    if excess > 0:
        first = first[min(excess, len(first)) :]
    return first, second
