"""Short text answers compared by their content words. Pure string work.

``\\text{every even number}`` answers ``even``; ``Triangles`` answers ``the triangle``. Case,
articles, punctuation and plural endings never decide; the content words must be the same set.
A negated answer (``not even``) never matches: ``equivalence`` rejects any negation the gold lacks.
"""

from __future__ import annotations

# Words that carry no content in a short answer; a gold made only of them compares word for word.
_FILLER = frozenset({"a", "an", "the", "every", "all", "each", "any", "number", "numbers", "is", "are", "it",
                     "its", "of", "only", "that", "which", "they", "them", "answer", "value", "values"})
MAX_WORDS = 12
"""Longer answers are sentences, not short text answers: they compare word for word."""


def text_key(words: str) -> frozenset[str] | tuple[str, ...]:
    """The content words of a lower-cased, punctuation-free answer, singular; the words themselves
    (in order) when the answer is long or has no content word."""
    tokens = words.split()
    if len(tokens) > MAX_WORDS:
        return tuple(tokens)
    content = frozenset(_singular(t) for t in tokens if t not in _FILLER)
    return content if content else tuple(tokens)


def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "ses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word
