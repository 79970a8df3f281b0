"""The verifier's contract: what goes in, what comes out. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VerifierStatus = Literal["ok", "no_answer", "unparsable", "timeout", "error", "skipped"]
"""``ok``: an answer was found and compared (``correct`` says how); ``no_answer``: no final answer
in the response; ``unparsable``: an answer was found but could not be read as math or compared;
``timeout``: the item ran past its deadline; ``error``: the worker crashed or raised; ``skipped``: not
verified, because the request's mode does not use the verifier."""

ExtractMode = Literal["boxed", "boxed_or_last", "any"]
"""``boxed``: only the last ``\\boxed{}``/``\\fbox{}``; ``boxed_or_last`` (default): that, else a GSM8K
``#### 42`` line, "the answer is" / "Answer:" / "Final answer:", a bold last line, a closing ``[value]``,
a one-sentence response ending on its only math span, or a response that is itself a bare answer;
``any``: additionally the last math span or number. In every mode ``<think>`` text is ignored and
only the last ``<answer>`` block is read when there is one; hedges ("3 or 4", "maybe 5") are no
answer. Full rules: ``hero_service.verifier.extract``."""


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """One (reference, response) pair to grade."""

    reference: str
    response: str
    extract: ExtractMode = "boxed_or_last"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one pair. ``correct`` is only ever True with status ``ok``."""

    correct: bool
    status: VerifierStatus
    answer: str | None = None
    """The extracted final answer (truncated for display), when one was found."""

    @property
    def value(self) -> int:
        return int(self.correct)


PercentPolicy = Literal["either", "fraction", "number"]
"""How ``50\\%`` compares with a bare number: ``fraction`` (only ``0.5``), ``number`` (only ``50``,
the sign read as a unit) or ``either`` (both; MATH-style graders do this)."""

ListPolicy = Literal["set", "ordered"]
"""How a bare comma list (``3, 5``, no brackets) compares: as a set (MATH's "enter all solutions")
or in order (the original Hendrycks check)."""

RatioPolicy = Literal["fraction", "parts"]
"""How a ratio ``a:b`` compares: as the fraction a/b (``2:4`` is ``1:2`` and ``\\frac12``; more parts
compare up to one common factor) or only part by part in order. A clock time (``4:30``, a two-digit
last part) always compares by parts."""


@dataclass(frozen=True, slots=True)
class VerifierPolicy:
    """The debatable equivalence choices. Defaults favour precision: when unsure, reject."""

    assignment: bool = True
    """Gold ``5`` accepts ``x = 5`` (and gold ``x = 5`` accepts ``5``) when the left side is one symbol."""
    percent: PercentPolicy = "either"
    bare_list: ListPolicy = "set"
    rounded_reference: bool = True
    """A decimal gold such as ``3.14`` accepts an exact irrational answer (``\\pi``) that rounds to it at
    the gold's number of decimals (a fraction such as ``1/3`` only with ``approximate_rationals``). For the
    reverse, a decimal answer to an exact gold, see ``approximate_digits``."""
    approximate_digits: int | None = 5
    """A decimal answer may stand for a gold with no finite decimal form (``1/3``, ``\\sqrt{2}``, ``\\pi``)
    when it has at least this many significant digits and is within one unit of its last digit
    (``125.663`` for ``40\\pi``). ``None``: never. A gold with a finite decimal form (``3/5``) always
    needs the exact value, and a rational gold (``1/3``) too unless ``approximate_rationals``."""
    approximate_rationals: bool = False
    """Let ``approximate_digits`` apply to rational golds with no finite decimal form as well
    (``0.33333`` for ``1/3``), and ``rounded_reference`` to rational answers (gold ``0.33`` for ``1/3``).
    Off: a decimal and a fraction with no finite decimal form are different answers."""
    ratio: RatioPolicy = "fraction"
    """``a:b`` equals ``a/b`` (see RatioPolicy)."""
    interval_inequality: bool = True
    """``x > 2`` equals ``(2, \\infty)``; a chain ``1 < x \\le 2`` equals ``(1, 2]``."""
    vector_tuple: bool = True
    """A column or row vector (``pmatrix``) equals a tuple with the same entries in order."""
    units: bool = True
    """Drop trailing units, degree signs and currency before comparing (``30^\\circ`` equals ``30``)."""
    max_answer_chars: int = 1000
    """Longer extracted answers (or references) are ``unparsable``, never parsed."""
