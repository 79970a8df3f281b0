"""Huge texts are cut before tokenizing, and the model still sees exactly the tokens truncation keeps."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

from hero_service.reward_model.base import RMItem
from hero_service.reward_model.hf import HFRewardModel
from hero_service.reward_model.similarity import SimilarityScorer

WORDS = ["so", "we", "add", "the", "numbers", "x", "=", "3.14159", "1234567890", "(a+b)^2", "\\frac{1}{2}",
         "therefore", "step", "é", "naïve", "∑", "!!", "...", "\n", "\n\n", "  ", "\t", "carefully", "ok,"]


def text(seed: int, n_words: int, end: str = " The answer is \\boxed{42}.") -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + end


class LengthSpy:
    """Wraps a tokenizer and records the longest string it was asked to tokenize."""

    def __init__(self, tok: Any) -> None:
        self.tok, self.longest = tok, 0

    def __call__(self, texts: Any, *args: Any, **kwargs: Any) -> Any:
        for t in [texts] if isinstance(texts, str) else texts:
            self.longest = max(self.longest, len(t))
        return self.tok(texts, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tok, name)


@pytest.fixture(scope="module")
def minilm(minilm_dir: Path) -> SimilarityScorer:
    rm = SimilarityScorer(path=minilm_dir, device="cpu", max_length=128)
    rm.load()
    return rm


def whole_text_ids(tok: Any, body: str, room: int) -> list[int]:
    """What the scorer kept before the cut existed: the whole text tokenized, then its last tokens."""
    ids: list[int] = tok(body, add_special_tokens=False)["input_ids"]
    return [tok.cls_token_id, *ids[-room:], tok.sep_token_id]


@pytest.mark.parametrize("seed", range(6))
def test_similarity_precut_keeps_the_tokens_and_scores_of_the_whole_text(minilm: SimilarityScorer,
                                                                         seed: int) -> None:
    response, reference = text(seed, 3000), text(seed + 100, 2000, end=" 42")
    [enc] = minilm.encode([RMItem("q", response, reference)])
    room = minilm.max_length - 2
    assert enc.truncated
    assert enc.response == whole_text_ids(minilm._tokenizer, response, room)
    assert enc.reference == whole_text_ids(minilm._tokenizer, reference, room)
    with torch.inference_mode():
        [whole] = minilm.forward([type(enc)(whole_text_ids(minilm._tokenizer, response, room),
                                            whole_text_ids(minilm._tokenizer, reference, room), True)])
        assert minilm.forward([enc]) == pytest.approx([whole], abs=1e-6)


def test_a_short_text_is_not_flagged_truncated(minilm: SimilarityScorer) -> None:
    [enc] = minilm.encode([RMItem("q", "so \\boxed{42}", "42")])
    assert not enc.truncated


def test_similarity_tokenizer_never_sees_a_huge_text(minilm_dir: Path) -> None:
    rm = SimilarityScorer(path=minilm_dir, device="cpu", max_length=128)
    spy = LengthSpy(rm._tokenizer)
    rm._tokenizer = spy
    huge = text(7, 400_000)  # about 3 MB
    items = [RMItem("q", huge, huge[-50_000:]) for _ in range(3)]
    encoded = rm.encode(items)
    assert all(e.truncated for e in encoded)
    assert encoded[0].response[-3:-1] == spy.tok("42}.", add_special_tokens=False)["input_ids"][-2:]
    assert spy.longest < 20_000


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def chat_rm(request: pytest.FixtureRequest) -> HFRewardModel:
    path: Path = request.getfixturevalue(f"tiny_{request.param}_rm_dir")
    rm = HFRewardModel(str(path), device="cpu", max_length=96)
    rm.load()
    return rm


def without_precut(rm: HFRewardModel, item: RMItem) -> list[int]:
    """The ids the RM saw before the cut existed: the whole conversation rendered and tokenized."""
    precut = rm._precut
    rm._precut = lambda conversation: conversation  # type: ignore[method-assign]
    try:
        return rm.encode([item])[0].ids
    finally:
        rm._precut = precut  # type: ignore[method-assign]


@pytest.mark.parametrize("shape", ["long-response", "long-prompt", "both-long", "chat-turns", "system"])
@pytest.mark.parametrize("seed", range(3))
def test_chat_precut_keeps_the_tokens_and_scores_of_the_whole_text(chat_rm: HFRewardModel, shape: str,
                                                                   seed: int) -> None:
    long_prompt, long_response = text(seed, 2500, end=" What is it?"), text(seed + 50, 2500)
    item = {
        "long-response": RMItem("What is 6 * 7?", long_response),
        "long-prompt": RMItem(long_prompt, "It is \\boxed{42}."),
        "both-long": RMItem(long_prompt, long_response),
        "chat-turns": RMItem([{"role": "user", "content": long_prompt}, {"role": "assistant", "content": "hm"},
                              {"role": "user", "content": text(seed + 9, 40)}], long_response),
        "system": RMItem([{"role": "system", "content": long_prompt}, {"role": "user", "content": "6 * 7?"}],
                         long_response),
    }[shape]
    [enc] = chat_rm.encode([item])
    whole = without_precut(chat_rm, item)
    assert enc.truncated
    assert enc.ids == whole
    with torch.inference_mode():
        assert chat_rm.forward([enc]) == pytest.approx(chat_rm.forward([type(enc)(whole, True)]), abs=1e-6)


def test_chat_tokenizer_never_sees_a_huge_text(tiny_qwen2_rm_dir: Path) -> None:
    rm = HFRewardModel(str(tiny_qwen2_rm_dir), device="cpu", max_length=96)
    rm.load()
    spy = LengthSpy(rm._tokenizer)
    rm._tokenizer = spy
    [enc] = rm.encode([RMItem(text(3, 100_000, end=" Q?"), text(4, 300_000))])
    assert enc.truncated
    assert len(enc.ids) == 96
    assert spy.tok.decode(enc.ids).endswith("The answer is \\boxed{42}.<|im_end|>\n")
    assert spy.longest < 20_000
