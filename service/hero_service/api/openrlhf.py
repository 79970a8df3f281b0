"""OpenRLHF's remote-reward contract translated to and from group entries. Pure, no I/O.

OpenRLHF POSTs ``{"query", "prompts", "labels"}`` (one sample per request since v0.9.1, the whole
rollout batch before) and sends no group id: samples of one prompt share prompt and label, so those
two make the group id. ``query`` is the decoded prompt + response with special tokens kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hero_client import ids
from hero_client.schemas import GroupIn, GroupOut, OpenRLHFRequest, OpenRLHFResponse, reference_to_text

# End-of-turn and padding markers that policies' tokenizers write when OpenRLHF decodes with
# skip_special_tokens=False; the RM tokenizer's own are added. Per family (eos / end of turn / pad):
# Qwen2-3, Yi, InternLM2, Phi-4: <|im_end|>, <|endoftext|>; Llama 3.x: <|eot_id|>, <|eom_id|> (3.1 tool
# turns), <|end_of_text|>; Llama 2, Mistral, InternLM2: </s>; Gemma 1-3: <end_of_turn>, <eos>, <pad>;
# Phi-3: <|end|>, <|endoftext|>; gpt-oss (harmony): <|return|>, <|call|>, <|end|>; DeepSeek V2/V3/R1 and
# the R1 distills: <｜end▁of▁sentence｜>, written with FULLWIDTH VERTICAL LINE (U+FF5C) and U+2581, not
# ASCII bars; DeepSeek-Coder instruct: <|EOT|>; encoder RMs: [SEP], [PAD].
COMMON_END_TOKENS = (
    "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|end|>", "</s>", "<eos>",
    "<end_of_turn>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "<|EOT|>", "<pad>", "[PAD]", "[SEP]",
    "<|return|>", "<|call|>",
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One OpenRLHF item: where its response landed among the group entries."""

    entry: int
    position: int
    prefix_found: bool


def group_id(prompt: str, reference: str) -> str:
    """A stable id for the samples of one prompt: its text and its label (hashed as the client's
    adapters hash theirs)."""
    return ids.group_id("openrlhf", prompt, reference)


def strip_trailing(text: str, tokens: Iterable[str]) -> str:
    """Remove end-of-sequence and padding markers (and the whitespace between them) from the end."""
    markers = tuple(t for t in tokens if t)
    stripped_any = False
    while True:
        stripped = text.rstrip()
        marker = next((m for m in markers if stripped.endswith(m)), None)
        if marker is None:
            return stripped if stripped_any else text
        text = stripped[: -len(marker)]
        stripped_any = True


def to_entries(
    request: OpenRLHFRequest, *, group_size: int | None, end_tokens: Sequence[str]
) -> tuple[list[GroupIn], list[Sample]]:
    """Group entries for a request, and where each sample's reward will be found.

    Consecutive samples of one prompt become one entry (OpenRLHF <= 0.9.0 sends a prompt's samples
    together). With ``group_size`` unset, each prompt's samples in this request are its whole group.
    """
    tokens = tuple(end_tokens) + COMMON_END_TOKENS
    ids: list[str] = []
    items: list[tuple[str, str, str, bool]] = []
    for i, query in enumerate(request.query):
        prompt = request.prompts[i] if i < len(request.prompts) else ""
        label = request.labels[i] if i < len(request.labels) else ""
        reference = reference_to_text(label)
        found = query.startswith(prompt)
        response = strip_trailing(query[len(prompt):] if found else query, tokens)
        items.append((prompt, reference, response, found))
        ids.append(group_id(prompt, reference))

    counts: dict[str, int] = {}
    for gid in ids:
        counts[gid] = counts.get(gid, 0) + 1

    entries: list[GroupIn] = []
    samples: list[Sample] = []
    for gid, (prompt, reference, response, found) in zip(ids, items, strict=True):
        size = group_size if group_size is not None else counts[gid]
        last = entries[-1] if entries else None
        if last is not None and last.id == gid and len(last.responses) < size:
            last.responses.append(response)
        else:
            entries.append(GroupIn(id=gid, prompt=prompt, reference=reference, responses=[response],
                                   group_size=size))
        samples.append(Sample(len(entries) - 1, len(entries[-1].responses) - 1, found))
    return entries, samples


LOG_KEYS = ("verifier", "rm_score", "weight", "partial", "ungradable", "truncated", "prefix_mismatch",
            "server_error")
"""Every ``extra_logs`` key, always all of them: OpenRLHF merges the samples' logs key by key."""


_GRADED = frozenset({"ok", "skipped"})


def to_response(groups: Sequence[GroupOut], samples: Sequence[Sample]) -> OpenRLHFResponse:
    """Per-sample lists aligned with ``query``, numeric only (OpenRLHF tensors every value)."""
    rewards: list[float] = []
    scores: list[float] = []
    logs: dict[str, list[float]] = {key: [] for key in LOG_KEYS}
    for sample in samples:
        group, k = groups[sample.entry], sample.position
        rm_score = group.rm_scores[k]
        # A signal the mode skipped is not a failure.
        ungradable = group.verifier_status[k] not in _GRADED or group.rm_status[k] not in _GRADED
        rewards.append(group.rewards[k])
        # ``scores`` feed OpenRLHF's dynamic filtering, which expects 0..1: the verifier outcome.
        scores.append(float(group.verifier[k]))
        logs["verifier"].append(float(group.verifier[k]))
        logs["rm_score"].append(rm_score if rm_score is not None else 0.0)
        logs["weight"].append(group.weight)
        logs["partial"].append(float(group.partial))
        logs["ungradable"].append(float(ungradable))
        logs["truncated"].append(float(group.truncated[k]))
        logs["prefix_mismatch"].append(float(not sample.prefix_found))
        logs["server_error"].append(0.0)
    return OpenRLHFResponse(rewards=rewards, scores=scores, extra_logs=logs)


def failed_response(count: int) -> OpenRLHFResponse:
    """Zeros with a flag: OpenRLHF kills the run after five non-2xx answers, so never send one for
    an item that could not be graded."""
    logs = {key: [0.0] * count for key in LOG_KEYS}
    logs["ungradable"] = logs["server_error"] = [1.0] * count
    return OpenRLHFResponse(rewards=[0.0] * count, scores=[0.0] * count, extra_logs=logs)
