"""Cut a text down to what truncation keeps *before* tokenizing it, without changing those tokens.

Tokenizing a 20 MB response whole takes tens of seconds and gigabytes, only for truncation to keep a few
thousand of its tokens. :func:`keep_ends` cuts the middle out of a text so that its first ``head`` and last
``tail`` tokens survive as they are: it keeps a window of characters at each end (a generous number of
characters per token), moves each cut to the start of a whitespace run, where tokenizers' pre-tokenizers
split, and counts the tokens of each kept end; an end that holds fewer than its tokens plus a margin (long
whitespace runs, very long tokens) is widened and counted again. The margin absorbs what a cut changes
next to it (the first or last word), so the tokens truncation keeps are those of the whole text.
The one known limit: a text with no whitespace within 1,024 characters of a cut (a megabyte of digits) is
cut mid-run, and a tokenizer that groups digits by threes from the start of a run (Llama 3) may then group
the kept part of that run differently.
"""

from __future__ import annotations

from collections.abc import Callable

CHARS_PER_TOKEN = 8
"""First guess of characters per token: English runs at about 4, code and math lower."""
MARGIN = 16
"""Tokens kept beyond what truncation keeps, next to each cut."""
_SEARCH = 1024
"""How far a cut moves to reach a whitespace boundary; a text without one nearby is cut where it is."""


def keep_ends(text: str, head: int, tail: int, count: Callable[[str], int]) -> str:
    """``text``, or its first ``head`` and last ``tail`` tokens (and a margin) with the middle cut out.

    ``count(s)`` is the number of tokens of ``s``. Every string it is given is bounded by the tokens asked
    for (unless the text has far fewer tokens than characters, when the window grows towards the whole).
    """
    head_chars = (head + MARGIN) * CHARS_PER_TOKEN if head > 0 else 0
    tail_chars = (tail + MARGIN) * CHARS_PER_TOKEN
    while head_chars + tail_chars + 2 * _SEARCH < len(text):
        end = _boundary_after(text, head_chars) if head > 0 else 0
        start = _boundary_before(text, len(text) - tail_chars)
        head_short = head > 0 and count(text[:end]) < head + MARGIN
        tail_short = count(text[start:]) < tail + MARGIN
        if not head_short and not tail_short:
            return text[:end] + text[start:]
        head_chars *= 2 if head_short else 1
        tail_chars *= 2 if tail_short else 1
    return text


def _boundary_before(text: str, pos: int) -> int:
    """The nearest start of a whitespace run at or before ``pos`` (``pos`` itself when none is near)."""
    for i in range(pos, max(pos - _SEARCH, 1), -1):
        if text[i].isspace() and not text[i - 1].isspace():
            return i
    return pos


def _boundary_after(text: str, pos: int) -> int:
    """The nearest start of a whitespace run at or after ``pos`` (``pos`` itself when none is near)."""
    for i in range(max(pos, 1), min(pos + _SEARCH, len(text))):
        if text[i].isspace() and not text[i - 1].isspace():
            return i
    return pos
