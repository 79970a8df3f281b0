"""Find the final answer in a model response. Pure string work: no sympy, cheap enough for the parent.

Every scan here is linear in the response (``rfind`` and one brace walk, or anchored regexes
on a bounded tail), so hostile responses cannot make extraction slow.
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
_ANCHOR = re.compile(r"(?:the final answer is|final answer is|the answer is|final answer\s*:|answer\s*:)\s*",
                     re.IGNORECASE)
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
# ``y_1 = \boxed{..}``: a one-letter name (optionally subscripted) labelling the box that follows.
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


def extract_answer(response: str, mode: ExtractMode = "boxed_or_last") -> str | None:
    """The final answer in ``response`` as a bare string, or None when there is none."""
    boxed = _final_boxes(response)
    if mode == "boxed":
        return _clean(boxed[0]) if boxed is not None else None
    # A "final answer" sentence written after the last box is the model's latest word.
    if boxed is not None and not _ANCHOR.search(response, max(boxed[1], len(response) - _TAIL_CHARS)):
        return _read_box(boxed[0], mode)
    tail = response[-_TAIL_CHARS:]
    phrase = _answer_phrase(tail)
    if phrase is not None:
        return _read_phrase(phrase, mode)
    if boxed is not None:
        return _read_box(boxed[0], mode)
    return _last_math(tail) if mode == "any" else None


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
    line = tail[anchors[-1].end() :].split("\n", 1)[0][:_LINE_CHARS]
    return re.split(r"\.\s|\.$", line, maxsplit=1)[0].strip() or None


def _read_phrase(phrase: str, mode: ExtractMode) -> str | None:
    """A phrase that is one math span gives its content; a sentence gives its last math or number
    in ``any`` mode and itself otherwise ("12 apples", "east")."""
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
