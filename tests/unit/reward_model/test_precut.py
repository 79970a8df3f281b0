"""keep_ends with a whitespace tokenizer: the kept ends hold their tokens, widened when whitespace is long."""

from __future__ import annotations

from hero_service.reward_model.precut import MARGIN, keep_ends


def count(text: str) -> int:
    return len(text.split())


def test_a_short_text_is_left_whole() -> None:
    assert keep_ends("a b c", 1, 2, count) == "a b c"


def test_the_ends_keep_their_tokens_and_the_middle_goes() -> None:
    words = [f"w{i}" for i in range(100_000)]
    cut = keep_ends(" ".join(words), 10, 50, count)
    kept = cut.split()
    assert len(cut) < 10_000
    assert kept[: 10 + MARGIN] == words[: 10 + MARGIN]
    assert kept[-(50 + MARGIN):] == words[-(50 + MARGIN):]


def test_long_whitespace_widens_the_window_until_the_tokens_are_there() -> None:
    words = [f"w{i}" for i in range(2_000)]
    text = (" " * 500).join(words)  # 500 characters per token: the first guess holds too few
    kept = keep_ends(text, 0, 100, count).split()
    assert kept[-100:] == words[-100:]
