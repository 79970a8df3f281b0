"""Exact fast paths that need no sympy: cosmetic string equality and plain numeric literals.

These run in the parent before any IPC, so most RL items (numeric golds) never reach a worker.
They decide only what they are sure of and return None otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hero_service.verifier.verdict import VerifierPolicy

# Cosmetic LaTeX that never changes a value.
_COSMETIC = (
    ("\\left", ""), ("\\right", ""), ("\\displaystyle", ""), ("\\!", ""), ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"), ("{,}", ","), ("$", ""), ("\\,", ""), ("\\;", ""), ("\\ ", ""), ("~", ""),
)
# A leading group of 0 (``0,111``) is never a thousands separator: that is a decimal comma.
_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_FRACTION = re.compile(r"^([+-]?)\\frac\{([+-]?\d{1,40})\}\{(\d{1,40})\}$|^([+-]?\d{1,40})/(\d{1,40})$")
_MAX_DIGITS = 60
_DECIMAL_COMMA = re.compile(r"^(-?\d{1,30}),(\d{1,30})$")
_SPACE = re.compile(r"(?<=[,\d])(\s+)(?=\d)|\s+")


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    """A plain number: its exact value and, for decimals, how many places were written."""

    value: Fraction
    decimals: int | None


def cosmetic(text: str) -> str:
    """Strip spacing and sizing commands and all whitespace; the value is unchanged."""
    for old, new in _COSMETIC:
        text = text.replace(old, new)
    # Whitespace that separates is kept: "32, 349" is a list and "1 1/2" a mixed number.
    text = _SPACE.sub(lambda m: " " if m.group(1) else "", text)
    text = text.removeprefix("\\boxed{").removesuffix("}") if text.startswith("\\boxed{") else text
    return text.rstrip(".")


def parse_literal(text: str) -> NumberLiteral | None:
    """A decimal, integer (thousands separators allowed) or integer fraction; None otherwise."""
    if len(text) > _MAX_DIGITS * 2:
        return None
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    if _DECIMAL.match(text):
        if len(text) > _MAX_DIGITS:
            return None
        decimals = len(text.split(".", 1)[1]) if "." in text else None
        return NumberLiteral(Fraction(text), decimals)
    match = _FRACTION.match(text)
    if match is None:
        return None
    if match.group(2) is not None:
        sign, num, den = match.group(1), match.group(2), match.group(3)
    else:
        sign, num, den = "", match.group(4), match.group(5)
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    return NumberLiteral(-value if sign == "-" else value, None)


def rounds_to(value: Fraction, reference: NumberLiteral, *, value_is_exact: bool) -> bool:
    """Policy ``rounded_reference``: does ``value`` rounded half-up at the reference's written decimals
    equal the reference? Only for a reference with two or more significant digits, and never for a
    value that has a finite decimal form of its own (``0.49`` must not pass for a gold ``0.5``)."""
    if reference.decimals is None:
        return value == reference.value
    if value_is_exact and terminates(value):
        return False
    scaled = abs(reference.value) * 10**reference.decimals
    if len(str(scaled.numerator // scaled.denominator)) < 2:
        return False
    quantum = Decimal(1).scaleb(-reference.decimals)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return Fraction(exact.quantize(quantum, rounding=ROUND_HALF_UP)) == reference.value


def terminates(value: Fraction) -> bool:
    """Does ``value`` have a finite decimal expansion?"""
    q = value.denominator
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    return q == 1


def approximates(pred: NumberLiteral, gold: Fraction, *, exact_gold: bool, min_digits: int | None) -> bool:
    """Policy ``approximate_digits``: a decimal ``pred`` with enough significant digits, within one
    unit of its last digit of a gold that has no finite decimal form (``gold`` is exact or 50 digits)."""
    if min_digits is None or not pred.decimals or (exact_gold and terminates(gold)):
        return False
    scaled = abs(pred.value) * 10**pred.decimals
    if len(str(scaled.numerator // scaled.denominator).lstrip("0")) < min_digits:
        return False
    return abs(gold - pred.value) <= Fraction(1, 10**pred.decimals)


def _decimal_comma(comma: str, dot: str) -> bool:
    """``2,74`` written for the decimal ``2.74``: same digits, the comma in place of the point.
    A three-digit group (``1,000``) stays a thousands separator unless the whole part is 0."""
    match = _DECIMAL_COMMA.match(comma)
    if match is None or "." not in dot or (len(match.group(2)) == 3 and match.group(1).lstrip("-") != "0"):
        return False
    return comma.replace(",", ".") == dot


def fast_verdict(reference: str, answer: str, policy: VerifierPolicy) -> bool | None:
    """True/False when cheap exact rules decide; None means "ask the symbolic engine"."""
    ref, ans = cosmetic(reference), cosmetic(answer)
    if ref == ans and ref:
        return True
    ref_lit, ans_lit = parse_literal(ref), parse_literal(ans)
    if ref_lit is None or ans_lit is None:
        return _decimal_comma(ref, ans) or _decimal_comma(ans, ref) or None
    if ref_lit.value == ans_lit.value:
        return True
    if policy.rounded_reference and ref_lit.decimals and ans_lit.decimals is None:
        # 0.33 for 1/3: a rounded gold stands for a fraction only when the policy says so.
        return policy.approximate_rationals and rounds_to(ans_lit.value, ref_lit, value_is_exact=True)
    if ref_lit.decimals is None and ans_lit.decimals:
        return policy.approximate_rationals and approximates(
            ans_lit, ref_lit.value, exact_gold=True, min_digits=policy.approximate_digits)
    return False
