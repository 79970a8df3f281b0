"""Find the final answer in a model response. Pure string work: no sympy, cheap enough for the parent.

What each mode accepts (text inside ``<think>...</think>`` is never the answer, in any mode: an
unclosed ``<think>`` hides everything after it up to an ``<answer>`` tag, a stray ``</think>``
everything before it; chat tokens such as ``<|im_end|>`` are dropped). When the response holds a
complete ``<answer>...</answer>`` block, only the last such block is read, by the same rules.

- ``boxed``: the last ``\\boxed{}``/``\\fbox{}`` (with the boxes just before it joined as a list).
- ``boxed_or_last`` (default), the first of:
  a GSM8K ``#### 42`` final line written after the last box; the box, unless a "the answer is" /
  ``Answer:`` / ``Final Answer:`` / ``答案是`` phrase follows it; that phrase (or the value displayed on
  the lines below "the answer is:"); a bold last line; a bracketed value
  closing the response (``The angle is [90].``); a one-sentence response closing on its only math
  span (``The result is $3$``); a response that is itself a bare answer (``-15``, ``x = 3``,
  ``$10^3$``). Content of an ``<answer>`` block that is short and not prose is taken whole.
- ``any``: additionally the last math span or number in the tail (recall over precision).

A response that never commits is refused (None, so ``no_answer``): prose with no marker, a number in
the middle of a sentence, a phrase that hedges (``maybe 3``, ``either 3 or 4``) or offers
alternatives (``3 or 4``, ``(B) or (D)``). Every scan is linear in the response (``rfind``, one brace
walk, regexes on a bounded tail or a short string), so hostile responses cannot make extraction slow.
"""

from __future__ import annotations

import re

from hero_service.verifier.verdict import ExtractMode

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# Phrases are searched only in the response's tail: a final answer sits at the end, and a bounded
# window keeps every regex below linear-time on megabyte inputs.
_TAIL_CHARS = 4000
_LINE_CHARS = 600
# A box longer than this is not a final answer; the cap (and the retry cap) keep thousands of
# unclosed ``\\boxed{`` from turning the backwards search quadratic.
_MAX_BOX_CHARS = 4000
_MAX_BOX_TRIES = 32
_MAX_CONNECTOR_CHARS = 120

_UPTO = f"{{1,{_LINE_CHARS}}}"
# Longest phrases first: in "Final Answer: The final answer is 7." the last anchor wins.
# (Chinese K-12 solutions close on "故答案为：5" / "答案是 5".)
_ANCHOR = re.compile(r"(?:the final answer is|final answer is|the answer is|final answer\s*:|answer\s*:"
                     r"|(?:最终)?答案\s*(?:是|为|為|:|：)\s*[:：]?)\s*", re.IGNORECASE)
_BOLD_LINE = re.compile(rf"^\s*\*\*([^*\n]{_UPTO})\*\*\s*\.?\s*$")
_MATH_SPAN = re.compile(
    rf"\$\$([^$]{_UPTO})\$\$|\$([^$]{_UPTO})\$|\\\(([^\n]{_UPTO}?)\\\)|\\\[([^\n]{_UPTO}?)\\\]"
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_CONNECTOR = re.compile(
    r"(?:\s|[,;.$]|\\q?quad|\\[()\[\],;!]|\\\\|\\text\{[^{}]{0,40}\}|\band\b|\bor\b){0,30}"
)
# Two words in a row, or a contraction next to a word ("it's not 10"), mark prose rather than math.
_WORDY = re.compile(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}|[A-Za-z]+'[a-z]+\s+[A-Za-z]{2,}|[A-Za-z]{2,}\s+[A-Za-z]+'[a-z]+")
# ``y_1 = \\boxed{..}``: a one-letter name (optionally subscripted) labelling the box that follows.
_LABEL = re.compile(r"([A-Za-z](?:_\{?[A-Za-z0-9]{1,3}\}?)?)\s*=\s*$")
_LABEL_WINDOW = 24
# Quotes or a closing period around a phrase's math spans (``"$12$ and $13$"``).
_PHRASE_EDGE = re.compile(r"[\s\"'\\.]*")
# A gold shorter than this with several boxes is an answer in parts, not a worked solution.
_SHORT_GOLD = 200
_SEPARATOR = re.compile(r"\b(?:and|or)\b|[,;]")
_TIGHT_GAP = 10
_MAX_GOLD_GAP = 70
# An unboxed gold longer than this and written in sentences is a worked solution.
_SOLUTION_CHARS = 200

# --- answers without a box ---
_THINK_TAG = re.compile(r"<(/?)think>", re.IGNORECASE)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
_CHAT_TOKEN = re.compile(r"<\|[A-Za-z0-9_]{1,40}\|>")
# The model's turn ends here; what follows (a hallucinated next turn) is not its answer.
_END_OF_TURN = re.compile(r"<\|(?:im_end|eot_id|endoftext|end_of_text|eot)\|>|</s>")
_DISPLAY_BELOW = re.compile(
    r"[ \t:]*\n\s*(?:\\\[([^\n]{1,600}?)\\\]|\\\[[ \t]*\n([^\n]{1,600})\n[ \t]*\\\]|\$\$([^$]{1,600})\$\$"
    r"|([^\n]{1,200})[ \t]*(?:\n|$))"
)
# ``The result is $3$``: a closing span counts only after a word that states a value.
_STATES = re.compile(r"(?:\b(?:is|are|equals?|get|gets|obtain|obtains|gives?|yields?)|=)\s*$", re.IGNORECASE)
# A response, tag content or bracket longer than this is not "just an answer".
_BARE_CHARS = 200
# GSM8K: ``#### 42`` on the response's last non-empty line.
_HASHES = re.compile(r"####[ \t]*([^\n#]{1,200}?)[ \t.]*$")
# Words that mean the model has not committed to one value.
# (Not in a relative clause: "the most points that could be in the domain is 19" commits to 19.)
_HEDGE = re.compile(r"(?<!\bthat\s)(?<!\bwhich\s)\b(?:either|maybe|perhaps|possibly|probably|might|could|not sure|"
                    r"unsure|guess)\b|可能|大概|也许|或许|或者", re.IGNORECASE)
_OR = re.compile(r"\bor\b|\\text\{\s*or\s*\}", re.IGNORECASE)
_RELATION = re.compile(r"[=<>≤≥≠]|\\(?:le|ge|leq|geq|neq|ne|lt|gt|in)\b")
# Letter runs a bare answer may hold: LaTeX commands are checked apart; these are plain-text math.
_MATH_WORDS = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "lg", "exp", "sqrt", "pi",
                         "inf", "infty", "lim", "max", "min", "mod", "gcd", "lcm", "arcsin", "arccos",
                         "arctan", "sinh", "cosh", "tanh", "det", "and", "or"})
_LETTER_RUN = re.compile(r"(\\?)([A-Za-z]{2,})")
_TRAILING_WORD = re.compile(r"\s+([A-Za-z]{2,15})\s*$")
# The last ``[...]`` closing the text (no nesting), not a ``\\[`` display opener.
# (``a[5]`` is an index, ``\\[`` a display opener, neither an answer.)
_FINAL_BRACKET = re.compile(r"(?<![\w\\)\]])\[([^\[\]\n]{1,200})\][ \t.!]{0,3}$")


def extract_answer(response: str, mode: ExtractMode = "boxed_or_last") -> str | None:
    """The final answer in ``response`` as a bare string, or None when there is none."""
    text = _visible(response)
    tagged = _answer_block(text)
    if tagged is not None:
        return _tagged_answer(tagged, mode)
    return _find(text, mode)


def _find(text: str, mode: ExtractMode) -> str | None:
    boxed = _final_boxes(text)
    if mode == "boxed":
        return _clean(boxed[0]) if boxed is not None else None
    tail = text[-_TAIL_CHARS:]
    hashes = _gsm8k(tail)
    if hashes is not None and (boxed is None or len(text) - len(tail) + hashes[1] >= boxed[1]):
        return hashes[0]
    # A "final answer" sentence written after the last box is the model's latest word.
    if boxed is not None and not _ANCHOR.search(text, max(boxed[1], len(text) - _TAIL_CHARS)):
        return _read_box(boxed[0], mode)
    phrase = _answer_phrase(tail)
    if phrase is not None:
        return _read_phrase(phrase, mode)
    if boxed is not None:
        return _read_box(boxed[0], mode)
    unboxed = _final_bracket(tail) or _bare(text) or _closing_span(tail)
    if unboxed is not None:
        return unboxed
    return _last_math(tail) if mode == "any" else None


def _visible(response: str) -> str:
    """``response`` without its thinking and chat tokens."""
    if "<" not in response:
        return response
    parts: list[str] = []
    pos = 0
    for tag in _THINK_TAG.finditer(response):
        if tag.start() < pos:
            continue
        if tag.group(1):  # a close: everything before a stray ``</think>`` was thinking
            parts = []
            pos = tag.end()
            continue
        parts.append(response[pos : tag.start()])
        close = _THINK_TAG.search(response, tag.end())
        while close is not None and not close.group(1):
            close = _THINK_TAG.search(response, close.end())
        if close is not None:
            pos = close.end()
            continue
        # Unclosed: the thinking runs to an answer block, or to the end.
        opened = _ANSWER_OPEN.search(response, tag.end())
        pos = opened.start() if opened is not None else len(response)
        break
    parts.append(response[pos:])
    text = "".join(parts)
    for end in _END_OF_TURN.finditer(text):
        if text[: end.start()].strip():
            text = text[: end.start()]
            break
    return _CHAT_TOKEN.sub("\n", text)


def _answer_block(text: str) -> str | None:
    """Content of the last complete ``<answer>...</answer>``."""
    opened = None
    for match in _ANSWER_OPEN.finditer(text):
        opened = match
    if opened is None:
        return None
    close = _ANSWER_CLOSE.search(text, opened.end())
    return text[opened.end() : close.start()] if close is not None else None


def _tagged_answer(content: str, mode: ExtractMode) -> str | None:
    """An ``<answer>`` block: short math taken whole, anything longer read like a response."""
    found = _find(content, mode)
    if found is not None or mode == "boxed":
        return found
    short = _clean(content)
    if not short or len(short) > _BARE_CHARS or "\n" in short or _WORDY.search(short) or _hedged(short):
        return None
    return short


def _gsm8k(tail: str) -> tuple[str, int] | None:
    """``#### 42`` on the last non-empty line (a markdown heading holds words, so it never passes)."""
    stripped = tail.rstrip()
    line_start = stripped.rfind("\n") + 1
    if "####" not in stripped[line_start:]:
        return None
    match = _HASHES.search(stripped, line_start)
    if match is None:
        return None
    value = _bare(match.group(1))
    return (value, match.start()) if value is not None else None


def _final_bracket(tail: str) -> str | None:
    """``The angle is [90].``: a bracketed value closing the response. A bracket holding a comma is
    kept whole (``[0, 5]`` is an interval, not the list ``0, 5``)."""
    match = _FINAL_BRACKET.search(tail[-(_BARE_CHARS + 8) :])
    if match is None:
        return None
    value = _bare(match.group(1))
    if value is None:
        return None
    return f"[{value}]" if "," in value else value


def _closing_span(tail: str) -> str | None:
    """``The result is $3$``: a one-sentence response ending on its only math span."""
    text = tail.strip().rstrip(".").rstrip()
    if len(text) > _BARE_CHARS or "\n" in text or _hedged(text):
        return None
    spans = list(_MATH_SPAN.finditer(text))
    if len(spans) != 1 or spans[0].end() != len(text) or any(ch.isdigit() for ch in text[: spans[0].start()]):
        return None
    if not _STATES.search(text, 0, spans[0].start()):
        return None
    return _clean(next(g for g in spans[0].groups() if g is not None)) or None


def _bare(text: str) -> str | None:
    """``text`` when it is nothing but an answer (``-15``, ``x = 3``, ``$10^3$``, ``45 degrees``)."""
    value = text.strip()
    if len(value) > _BARE_CHARS or "\n" in value:
        return None
    value = _clean(value)
    if not value:
        return None
    whole = _MATH_SPAN.fullmatch(value)
    if whole is not None:
        value = _clean(next(g for g in whole.groups() if g is not None))
        return value if value and not _hedged(value) else None
    if "$" in value or _hedged(value) or not _mathlike(value):
        return None
    return value


def _mathlike(value: str) -> bool:
    """Digits, operators, one-letter names, LaTeX commands and math function names; at most one
    trailing unit word (``45 degrees``). Any other word is prose."""
    unit = _TRAILING_WORD.search(value)
    body = value[: unit.start()] if unit is not None and unit.start() > 0 else value
    if not any(ch.isalnum() for ch in body):
        return False
    if not any(ch.isdigit() for ch in body) and "\\" not in body and not (len(body) <= 3 and body.strip("()")):
        return False
    for run in _LETTER_RUN.finditer(body):
        if not run.group(1) and run.group(2).lower() not in _MATH_WORDS:
            return False
    # Letters of other scripts (CJK, Cyrillic prose) are words; Greek letters are math.
    return not any(ch.isalpha() and not ch.isascii() and not "\u0370" <= ch <= "\u03ff" for ch in body)


def _hedged(text: str) -> bool:
    """Hedging words, or alternatives joined by "or" that are not conditions (``x<1 or x>3`` is one
    answer; ``3 or 4`` is two)."""
    if _HEDGE.search(text):
        return True
    parts = _OR.split(text)
    return len(parts) > 1 and not all(_RELATION.search(part) for part in parts)


def _read_box(content: str, mode: ExtractMode) -> str | None:
    """A box holding a sentence ("the number is 1,000.99") gives its last number in ``any`` mode."""
    if mode == "any" and "\\" not in content and _WORDY.search(content):
        return _last_math(content) or _clean(content) or None
    return _clean(content)


def reference_answer(reference: str) -> str:
    """A gold given as a worked solution is read at its last box(es), or, with no box, at its "final
    answer is" phrase; a short gold in several boxes is all of them; a bare gold is
    used as is."""
    if "\\boxed" in reference or "\\fbox" in reference:
        if len(reference) <= _SHORT_GOLD:
            parts = _all_boxes(reference)
            if parts is not None:
                return parts
        boxed = _final_boxes(reference)
        if boxed is not None:
            return boxed[0]
        return reference
    tail = reference[-_TAIL_CHARS:]
    if len(reference) > _SOLUTION_CHARS and _WORDY.search(tail):
        # Only a stated final answer: a solution's last math span is too often a side remark.
        phrase = _answer_phrase(tail)
        found = _read_phrase(phrase, "any") if phrase is not None else None
        if found:
            return found
    return reference


def _all_boxes(text: str) -> str | None:
    """Every box of a short gold in order (``\\boxed{1} papers and \\boxed{2} bins`` -> ``1, 2``),
    when each gap reads as a list separator: a few characters, or words holding "and"/"or"/a comma,
    and never math (no digits, no ``=`` other than a name label)."""
    boxes: list[tuple[str, int, int]] = []
    end = len(text)
    while len(boxes) < _MAX_BOX_TRIES:
        box = _last_box(text, end)
        if box is None:
            break
        boxes.insert(0, box)
        end = box[1]
    if len(boxes) < 2:
        return None
    for before, after in zip(boxes, boxes[1:], strict=False):
        gap = text[before[2] : after[1]]
        label = _LABEL.search(gap)
        gap = gap[: label.start()] if label else gap
        if any(ch.isdigit() for ch in gap) or "=" in gap or len(gap) > _MAX_GOLD_GAP:
            return None
        if len(gap) >= _TIGHT_GAP and not _SEPARATOR.search(gap):
            return None
    return _joined(text, boxes)


def _joined(text: str, boxes: list[tuple[str, int, int]]) -> str:
    """Box contents as one comma list; when every box is labelled (``y_1 = \\boxed{..}``) the labels
    stay, so that ``x = \\boxed{2}, y = \\boxed{1}`` cannot pass for ``x = 1, y = 2``."""
    labels = [_LABEL.search(text[max(0, start - _LABEL_WINDOW) : start]) for _, start, _ in boxes]
    if len(boxes) > 1 and all(labels):
        items = [f"{label.group(1)} = {content.strip()}" for label, (content, _, _) in zip(
            labels, boxes, strict=True) if label]
    else:
        items = [content.strip() for content, _, _ in boxes]
    unique = [item for i, item in enumerate(items) if i == 0 or item != items[i - 1]]
    return ", ".join(unique)


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces balanced)."""
    box = _last_box(text, len(text))
    return box[0] if box is not None else None


def _final_boxes(text: str) -> tuple[str, int] | None:
    """The last box, joined with the boxes just before it when only connectors (and a name label
    such as ``y_2 =``) separate them (``\\boxed{-2} \\text{ and } \\boxed{1}`` -> ``-2, 1``); also
    where the last box ends."""
    box = _last_box(text, len(text))
    if box is None:
        return None
    boxes = [box]
    stop = box[2]
    while len(boxes) < _MAX_BOX_TRIES:
        previous = _last_box(text, box[1])
        if previous is None or box[1] - previous[2] > _MAX_CONNECTOR_CHARS:
            break
        gap = text[previous[2] : box[1]]
        label = _LABEL.search(gap)
        if not _CONNECTOR.fullmatch(gap[: label.start()] if label else gap):
            break
        boxes.insert(0, previous)
        box = previous
    return _joined(text, boxes), stop


def _last_box(text: str, end: int) -> tuple[str, int, int] | None:
    """(content, start, stop) of the last complete box that starts before ``end``."""
    for _ in range(_MAX_BOX_TRIES):
        start = max(text.rfind(cmd, 0, end) for cmd in _BOX_COMMANDS)
        if start < 0:
            return None
        cmd_len = len("\\boxed") if text.startswith("\\boxed", start) else len("\\fbox")
        found = _braced_argument(text, start + cmd_len)
        if found is not None:
            return found[0], start, found[1]
        # A truncated last box: fall back to the one before it.
        end = start
    return None


def _braced_argument(text: str, pos: int) -> tuple[str, int] | None:
    """The ``{...}`` group at ``pos`` (after spaces) or a ``\\boxed 5`` token, and where it stops."""
    n = len(text)
    while pos < n and text[pos] == " ":
        pos += 1
    if pos >= n:
        return None
    if text[pos] != "{":
        match = re.match(rf"[^\s$]{_UPTO}", text[pos : pos + _LINE_CHARS + 1])
        return (match.group(0), pos + match.end()) if match and text[pos - 1] == " " else None
    depth = 0
    for i in range(pos, min(n, pos + _MAX_BOX_CHARS)):
        ch = text[i]
        if ch == "\\":
            continue
        if ch == "{" and text[i - 1] != "\\":
            depth += 1
        elif ch == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[pos + 1 : i], i + 1
    return None


def _answer_phrase(tail: str) -> str | None:
    """The sentence after the last "answer is"/"Final answer:" (or a bold last line), as written."""
    lines = [line for line in tail.splitlines() if line.strip()]
    if lines:
        bold = _BOLD_LINE.match(lines[-1])
        if bold:
            return bold.group(1)
    anchors = list(_ANCHOR.finditer(tail))
    if not anchors:
        return None
    rest = tail[anchors[-1].end() :]
    line = rest.split("\n", 1)[0][:_LINE_CHARS]
    if not line.strip(" \t:"):
        # "the answer is:" with the value displayed below it (``\\[ 6 \\]``, ``$$6$$`` or a bare line).
        below = _DISPLAY_BELOW.match(rest[: 2 * _LINE_CHARS])
        if below is None:
            return None
        if below.group(4) is not None:
            return _bare(below.group(4))
        return next(g for g in below.groups() if g is not None).strip() or None
    return re.split(r"\.\s|\.$|。", line, maxsplit=1)[0].strip() or None


def _read_phrase(phrase: str, mode: ExtractMode) -> str | None:
    """A phrase that is one math span gives its content; a sentence gives its last math or number
    in ``any`` mode and itself otherwise ("12 apples", "east")."""
    if _hedged(phrase):
        return None
    whole = _MATH_SPAN.fullmatch(phrase.strip())
    if whole:
        return _clean(next(g for g in whole.groups() if g is not None)) or None
    joined = _joined_spans(phrase)
    if joined is not None:
        return joined
    if mode == "any" and (_WORDY.search(phrase) or _MATH_SPAN.search(phrase)):
        return _last_math(phrase) or _clean(phrase) or None
    if _MATH_SPAN.search(phrase):
        return _last_math(phrase)
    return _clean(phrase) or None


def _joined_spans(phrase: str) -> str | None:
    """A phrase of several math spans joined only by connectors (``"$12$ and $13$"``) is one answer
    in parts: ``12, 13``. None for any other phrase."""
    spans = list(_MATH_SPAN.finditer(phrase))
    if len(spans) < 2 or not _PHRASE_EDGE.fullmatch(phrase[: spans[0].start()]):
        return None
    if not _PHRASE_EDGE.fullmatch(phrase[spans[-1].end() :]):
        return None
    if not all(_CONNECTOR.fullmatch(phrase[a.end() : b.start()]) for a, b in zip(spans, spans[1:], strict=False)):
        return None
    parts = [_clean(next(g for g in span.groups() if g is not None)) for span in spans]
    return ", ".join(p for p in parts if p) or None


def _last_math(tail: str) -> str | None:
    """The later of the last ``$...$`` span and the last plain number."""
    tail = tail.replace("\\$", "")  # an escaped dollar is text, not a math delimiter
    spans = list(_MATH_SPAN.finditer(tail))
    numbers = list(_NUMBER.finditer(tail))
    span_end = spans[-1].end() if spans else -1
    number_end = numbers[-1].end() if numbers else -1
    if span_end < 0 and number_end < 0:
        return None
    if span_end >= number_end:
        return _clean(next(g for g in spans[-1].groups() if g is not None)) or None
    return numbers[-1].group(0)


def _clean(answer: str) -> str:
    answer = answer.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            answer = answer[len(left) : len(answer) - len(right)].strip()
    return answer.rstrip(".").strip()
