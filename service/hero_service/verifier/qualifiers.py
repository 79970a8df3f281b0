"""Words around a value that do not change it: qualifiers, labels and ordinal suffixes. Pure string work.

``g(x)=0 \\text{ for every real } x`` answers ``g(x)=0``; ``\\text{only } n=1`` answers ``n=1``;
``\\text{largest: } 9, \\text{smallest: } 2`` answers ``9, 2``; ``3^{\\text{rd}}`` and ``21st`` answer 3
and 21. A qualifier that makes a parameter an integer (``k \\in \\mathbb{Z}``) is reported, because
it is what lets ``\\frac{\\pi}{2}+m\\pi`` stand for ``\\frac{\\pi}{2}+k\\pi``. Every pattern is anchored
or bounded, so the scan is linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex as re  # possessive quantifiers (*+) on every Python this supports; re has them from 3.11

_NAME = r"(?<![A-Za-z\\])[a-zA-Z](?:_\{?[a-zA-Z0-9]{1,3}\}?)?(?![A-Za-z])"
_SET = r"\\mathbb\s*\{?\s*([ZNRQC])\s*\}?"
# Possessive (*+): a gap never gives characters back, so adjacent gaps cannot backtrack quadratically.
_GAP = r"(?:\s|\\[,;:!]|\\q?quad(?![a-zA-Z])|~)*+"
_TEXT = r"\\(?:text|textrm|mathrm|mbox|textnormal)\s*\{"
_QUANTIFIER = r"(?:for|where|with)\s*(?:all|every|each|any|some)?"
# ", k \in \mathbb{Z}", "\quad (k \in \mathbb{Z})", "\text{ for } k \in \mathbb{Z}", "\forall x \in \mathbb{R}"
_MEMBERSHIP = re.compile(
    rf"[,;]?{_GAP}\(?{_GAP}(?:{_TEXT}\s*+,?\s*+{_QUANTIFIER}\s*\}}{_GAP}|\\forall{_GAP})?"
    rf"{_NAME}(?:{_GAP},{_GAP}{_NAME}){{0,3}}{_GAP}\\in{_GAP}{_SET}{_GAP}\)?{_GAP}\.?$"
)
# "\text{ for every real } x", "\text{ for any integer } k", "\text{ where } k \text{ is an integer}"
_WORDED = re.compile(
    rf"[,;]?{_GAP}{_TEXT}\s*+,?\s*+{_QUANTIFIER}\b([^{{}}]{{0,60}})\}}{_GAP}"
    rf"(?:{_NAME}(?:{_GAP},{_GAP}{_NAME}){{0,3}})?{_GAP}(?:{_TEXT}([^{{}}]{{0,40}})\}})?{_GAP}\.?$"
)
_FORALL = re.compile(rf"[,;]?{_GAP}\\forall{_GAP}{_NAME}{_GAP}\.?$")
_LEADING = re.compile(rf"^(?:{_TEXT}\s*(?:only|just|exactly)\s*:?\s*\}}|(?:only|just)\s)\s*", re.IGNORECASE)
# A label ends in a colon: "\text{largest: } 9", "\text{Largest}: 9", "largest: 9" (words of 3+ letters).
_LABEL = re.compile(
    rf"(^|,)\s*(?:{_TEXT}\s*[A-Za-z][A-Za-z ]{{0,30}}:\s*\}}|{_TEXT}\s*[A-Za-z][A-Za-z ]{{0,30}}\}}\s*:"
    r"|[A-Za-z]{3,20}(?: [A-Za-z]{3,20})?\s*:(?!\d))\s*"
)
_ORDINAL = re.compile(
    rf"(\d+)\s*(?:\^\s*\{{\s*(?:{_TEXT}\s*)?(st|nd|rd|th)\s*\}}?\s*\}}|{_TEXT}\s*(st|nd|rd|th)\s*\}}"
    r"|(st|nd|rd|th)\b)"
)
# "for no real x", "where k is not an integer": a negated qualifier changes the answer; keep it.
_NEGATION = re.compile(r"\b(?:no|not|none|never)\b|n't", re.IGNORECASE)
_TEXT_ARGUMENT = re.compile(rf"{_TEXT}([^{{}}]{{0,200}})\}}")
_SOME = re.compile(r"\b(?:some|exists?)\b", re.IGNORECASE)
_ALL = re.compile(r"\b(?:all|every|each|any)\b|\\forall", re.IGNORECASE)
_INTEGER_WORDS = re.compile(r"integer|whole number", re.IGNORECASE)
_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


@dataclass(frozen=True, slots=True)
class Qualified:
    """An answer with its qualifiers removed, and what they said."""

    text: str
    parameters: frozenset[str] = frozenset()
    """Names a removed qualifier declared integers (``k`` in ``k \\in \\mathbb{Z}``), lower-cased."""
    quantifier: str = ""
    """``all`` or ``some`` when a removed qualifier quantified (``for every real x``, ``for some x``)."""
    labels: tuple[str, ...] = ()
    """The labels removed, in order (``("largest", "smallest")``): they fix the order of the values."""


def strip_qualifiers(text: str) -> Qualified:
    """Remove qualifiers, labels and ordinal suffixes that do not change the value."""
    parameters: set[str] = set()
    quantifier = ""
    text = _LEADING.sub("", text.strip())
    for _ in range(3):  # "x=2k\pi, k \in \mathbb{Z}" may carry more than one trailing qualifier
        membership = _MEMBERSHIP.search(text)
        if membership is not None and membership.start() > 0:
            if membership.group(1) in "ZN":
                parameters |= _names(membership.group(0))
            quantifier = quantifier or _quantifier(membership.group(0))
            text = text[: membership.start()].rstrip()
            continue
        worded = _WORDED.search(text)
        if worded is not None and worded.start() > 0 and not _NEGATION.search(worded.group(0)):
            if _INTEGER_WORDS.search(" ".join(g or "" for g in worded.groups())):
                parameters |= _names(worded.group(0))
            quantifier = quantifier or _quantifier(worded.group(0))
            text = text[: worded.start()].rstrip()
            continue
        forall = _FORALL.search(text)
        if forall is not None and forall.start() > 0:
            quantifier = quantifier or "all"
            text = text[: forall.start()].rstrip()
            continue
        break
    labels: tuple[str, ...] = ()
    if ":" in text:
        labels = tuple(" ".join(re.sub(r"\\[a-z]+|[^A-Za-z ]", " ", m.group(0)).lower().split())
                       for m in _LABEL.finditer(text))
        text = _LABEL.sub(lambda m: m.group(1) + (" " if m.group(1) else ""), text).strip()
    text = _ORDINAL.sub(_ordinal, text)
    return Qualified(text, frozenset(parameters), quantifier, labels)


def _names(qualifier: str) -> set[str]:
    """The one-letter names a qualifier mentions outside its words and set symbols."""
    bare = re.sub(rf"{_TEXT}[^{{}}]*\}}|{_SET}|\\[a-zA-Z]+", " ", qualifier)
    return {name[0].lower() for name in re.findall(_NAME, bare)}


def _quantifier(qualifier: str) -> str:
    if _SOME.search(qualifier):
        return "some"
    return "all" if _ALL.search(qualifier) else ""


def negated(text: str) -> bool:
    """Does the answer's wording negate something (``\\text{for no real } x``, ``not even``)?"""
    words = " ".join(m.group(1) for m in _TEXT_ARGUMENT.finditer(text)) if "\\" in text else text
    return bool(_NEGATION.search(words))


def _ordinal(match: re.Match[str]) -> str:
    """``21st`` -> ``21``; a suffix that does not fit the number (``21th``) is left for the parser to refuse."""
    number = match.group(1)
    suffix = next(g for g in match.groups()[1:] if g)
    value = int(number[-2:]) if len(number) > 1 else int(number)
    expected = "th" if 11 <= value % 100 <= 13 else _SUFFIXES.get(value % 10, "th")
    return number if suffix == expected else match.group(0)
