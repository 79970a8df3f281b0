"""Exact rational values of sympy trees made of integers, fractions, integer powers, factorials and binomials.

Why: a float comparison, however many digits, calls ``3^{80}+1`` equal to ``3^{80}`` once the numbers
outgrow its precision. When both sides are exact rationals we compare them as ``Fraction``s instead.
Every step is bounded (bits of each intermediate, factorial and binomial arguments), so a hostile
tree is refused (None) rather than computed; ``parse.screen_tree`` has already capped the tree size.
"""

from __future__ import annotations

import math
from fractions import Fraction

import sympy

MAX_BITS = 70000
"""Largest numerator or denominator (in bits, about 21,000 digits) any step may produce."""
MAX_FACTORIAL = 5000
MAX_DEPTH = 60


def exact_rational(expr: sympy.Basic) -> Fraction | None:
    """The exact value of ``expr`` when it is a rational number built from exact parts, else None."""
    try:
        return _value(expr, 0)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def _bounded(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise ValueError("too large")
    return value


def _integer(value: Fraction | None) -> int | None:
    return value.numerator if value is not None and value.denominator == 1 else None


def _value(expr: sympy.Basic, depth: int) -> Fraction | None:
    if depth > MAX_DEPTH:
        return None
    if isinstance(expr, sympy.Rational):  # Integer is a Rational
        return Fraction(int(expr.p), int(expr.q))
    if isinstance(expr, sympy.UnevaluatedExpr):
        return _value(expr.args[0], depth + 1)
    if isinstance(expr, sympy.Add | sympy.Mul):
        parts = [_value(a, depth + 1) for a in expr.args]
        if any(p is None for p in parts):
            return None
        total = Fraction(0) if isinstance(expr, sympy.Add) else Fraction(1)
        for part in parts:
            assert part is not None
            total = _bounded(total + part if isinstance(expr, sympy.Add) else total * part)
        return total
    if isinstance(expr, sympy.Pow):
        base, exponent = _value(expr.base, depth + 1), _integer(_value(expr.exp, depth + 1))
        if base is None or exponent is None:
            return None
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if bits * abs(exponent) > MAX_BITS:
            raise ValueError("power too large")
        return _bounded(base**exponent)
    if isinstance(expr, sympy.factorial):
        n = _integer(_value(expr.args[0], depth + 1))
        if n is None or n < 0 or n > MAX_FACTORIAL:
            return None
        return Fraction(math.factorial(n))
    if isinstance(expr, sympy.binomial):
        n, k = (_integer(_value(a, depth + 1)) for a in expr.args)
        if n is None or k is None or n < 0 or n > MAX_FACTORIAL * 4:
            return None
        return Fraction(math.comb(n, k)) if k >= 0 else Fraction(0)
    return None
