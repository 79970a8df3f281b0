"""LaTeX -> sympy through latex2sympy2_extended's ANTLR grammar, with size bounds on both sides.

Why this is safe: latex2sympy builds sympy objects from a parse tree. Its only ``parse_expr`` call is
on caller-supplied ``variable_values`` (we pass none), and its ``sympy.Number(text)`` calls receive
lexer tokens made of digits, ``.``, ``,`` and ``e``. Model text never reaches ``eval``. We never use
math-verify's ``ExprExtractionConfig`` path (``parse_expr`` on a regex-filtered string) at all.

Why bounds: sympy works on exact integers, so ``9^{9^{9^9}}`` or ``(10^9)!`` would run out of time or
memory in C code that no alarm can interrupt. The string is screened before parsing and the tree is
screened (by an estimate of digit counts) before anything is evaluated.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import sympy
from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig

MAX_DEPTH = 40
MAX_DIGIT_RUN = 200
MAX_NODES = 3000
MAX_DIGITS = 20000
"""The largest number (in decimal digits) any subexpression may reach; ``1/2006!`` has ~5,700."""
MAX_FACTORIAL = 10000
MAX_TOWER = 2
"""``x^{x^x}`` is allowed, ``x^{x^{x^x}}`` is not."""

# A digit or ")" then "(": not an exponent or subscript digit (\sec^2(y) is sec(y)^2).
_DIFFERENTIAL = re.compile(r"d[a-zA-Z]")
_JUXTAPOSED = re.compile(r"(?:(?<=\))|(?<=\d)(?<![\^_]\d))\s*\(")
_DIGIT_RUN = re.compile(rf"\d{{{MAX_DIGIT_RUN + 1},}}")
MAX_TERMS = 200
"""Most terms a finite ``\\sum``/``\\prod`` (nested ones multiplied) is expanded into; symbolic ranges are refused."""

_REFUSED_COMMANDS = ("\\int", "\\lim", "\\iint", "\\oint", "\\partial")
# d/dx, dy/dx, d^2y/dx^2 (a fraction whose numerator is a "d" followed by at most a name is a derivative,
# while \frac{d}{240} is a variable d over 240).
_DERIVATIVE = re.compile(r"\\frac\s*\{\s*d\s*(?:\^\s*\{?\d\}?)?\s*[a-zA-Z]?\s*\}\s*\{\s*d\s*[a-zA-Z]")
_CONVERSION = ConversionConfig(
    interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False, interpret_contains_as_eq=True,
    lowercase_symbols=True,
)


class UnparsableError(Exception):
    """The answer could not be read as math, or is too large to compare safely."""


def screen_text(text: str, max_chars: int) -> None:
    """Refuse strings whose size alone could make parsing expensive."""
    if len(text) > max_chars:
        raise UnparsableError(f"longer than {max_chars} chars")
    if _DIGIT_RUN.search(text):
        raise UnparsableError("integer literal too long")
    if any(cmd in text for cmd in _REFUSED_COMMANDS) or _DERIVATIVE.search(text):
        raise UnparsableError("integrals, limits and derivatives are not compared")
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH or text.count("^") > MAX_DEPTH:
        raise UnparsableError("nested too deeply")


@lru_cache(maxsize=4096)
def to_sympy(latex: str) -> sympy.Basic:
    """One scalar LaTeX answer as a sympy object (expression, relation, set or matrix)."""
    # The grammar reads "2(3)" and "(2)(3)" as 2+3 (a mixed number); juxtaposition is a product.
    latex = _JUXTAPOSED.sub(r"\\cdot (", latex)
    try:
        expr = latex2sympy(latex, normalization_config=None, conversion_config=_CONVERSION)
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:  # the grammar raises bare Exceptions for syntax errors
        raise UnparsableError(str(exc)[:200]) from exc
    if not isinstance(expr, sympy.Basic | sympy.MatrixBase):
        raise UnparsableError(f"unsupported result {type(expr).__name__}")
    screen_tree(expr)
    if isinstance(expr, sympy.Basic) and expr.has(sympy.Sum, sympy.Product):
        expr = _expand_finite(expr, MAX_TERMS)
        screen_tree(expr)
    if isinstance(expr, sympy.MatrixExpr):
        # A sum or product of explicit matrices: its size is bounded by the screen above.
        expr = expr.doit()
    # The grammar reads "da" as one differential-like symbol; with integrals and derivatives refused
    # above, it can only be the product d*a (\frac{da}{c} is \frac{ad}{c}).
    differentials = {s: sympy.Symbol("d") * sympy.Symbol(s.name[1:]) for s in expr.free_symbols
                     if isinstance(s, sympy.Symbol) and _DIFFERENTIAL.fullmatch(s.name)}
    if differentials:
        expr = expr.xreplace(differentials)
    # Answers use i for the imaginary unit (3+4i); an index variable named i in a final answer is rare.
    imaginary = [s for s in expr.free_symbols if isinstance(s, sympy.Symbol) and s.name == "i"]
    return expr.xreplace(dict.fromkeys(imaginary, sympy.I)) if imaginary else expr


def screen_tree(expr: sympy.Basic) -> None:
    """Refuse trees whose evaluation could blow up; see MAX_DIGITS."""
    for nodes, _ in enumerate(sympy.preorder_traversal(expr)):
        if nodes >= MAX_NODES:
            raise UnparsableError("expression too large")
    if _digits(expr) > MAX_DIGITS:
        raise UnparsableError("numbers too large")


def _digits(expr: sympy.Basic) -> float:
    """Upper estimate of log10 of the largest magnitude (or smallest reciprocal) ``expr`` reaches."""
    if isinstance(expr, sympy.MatrixBase):
        return max((_digits(e) for e in expr), default=0.0)
    if isinstance(expr, sympy.Integer):
        return max(1.0, int(expr).bit_length() * 0.30103)
    if isinstance(expr, sympy.Rational):
        return _digits(sympy.Integer(expr.p)) + _digits(sympy.Integer(expr.q))
    if isinstance(expr, sympy.Float):
        return max(1.0, abs(float(sympy.log(abs(expr), 10))) if expr != 0 else 1.0)
    if isinstance(expr, sympy.Pow):
        base, exponent = expr.args
        if base in (sympy.S.One, sympy.S.NegativeOne, sympy.S.Zero):
            return _digits(exponent)
        if not exponent.is_number:
            # x^{x^{x^x}} at x = 13.8 has ~10^(10^15) digits: spot checks could never evaluate it.
            if _tower(expr) > MAX_TOWER:
                return math.inf
            return _digits(base) + _digits(exponent)
        if _digits(exponent) > 60:
            return math.inf
        # Safe to evaluate: the exponent itself has at most ~60 digits.
        size = abs(complex(exponent.evalf(20)))
        return math.inf if size > 1e7 else _digits(base) * max(1.0, size) + 1.0
    if isinstance(expr, sympy.factorial | sympy.gamma | sympy.factorial2 | sympy.subfactorial):
        arg = expr.args[0]
        if arg.is_number:
            if _digits(arg) > 5 or abs(float(arg)) > MAX_FACTORIAL:
                return math.inf
            n = abs(float(arg)) + 2
            return n * math.log10(n)
        return _digits(arg) * 10
    if isinstance(expr, sympy.binomial):
        top = expr.args[0]
        if not top.is_number:
            return sum(_digits(a) for a in expr.args) + 1.0
        if _digits(top) > 6 or abs(complex(top.evalf(20))) > MAX_FACTORIAL * 10:
            return math.inf
        return abs(complex(top.evalf(20))) * 0.302 + 1.0
    if isinstance(expr, sympy.Mul | sympy.Add):
        return sum(_digits(a) for a in expr.args)
    if not expr.args:
        return 1.0
    return sum(_digits(a) for a in expr.args if isinstance(a, sympy.Basic)) + 1.0


def _expand_finite(expr: sympy.Basic, budget: int) -> sympy.Basic:
    """``\\sum_{k=1}^{3} k^2`` -> ``1 + 4 + 9``: each finite sum or product written out term by term,
    within ``budget`` terms in all (nested ranges multiply). Symbolic or longer ranges are refused."""
    if not expr.has(sympy.Sum, sympy.Product):
        return expr
    if isinstance(expr, sympy.Sum | sympy.Product):
        # \\sum_i \\sum_j arrives as one Sum over (j, ...), (i, ...): innermost range first.
        body, *limits = expr.args
        counts = []
        for limit in limits:
            if len(limit) != 3 or not (limit[1].is_Integer and limit[2].is_Integer):
                raise UnparsableError("sums and products over symbolic ranges are not compared")
            counts.append(max(0, int(limit[2]) - int(limit[1]) + 1))
        total = math.prod(counts)
        if total > budget:
            raise UnparsableError(f"sums and products of more than {MAX_TERMS} terms are not compared")
        combine = sympy.Add if isinstance(expr, sympy.Sum) else sympy.Mul
        result = _expand_finite(body, budget // max(total, 1))
        for index, low, high in limits:
            result = combine(*(result.xreplace({index: sympy.Integer(k)}) for k in range(int(low), int(high) + 1)))
        return result
    return expr.func(*(_expand_finite(a, budget) for a in expr.args))


def _tower(expr: sympy.Basic) -> int:
    """Height of the tallest power tower whose exponents contain symbols."""
    if isinstance(expr, sympy.Pow) and expr.exp.free_symbols:
        return 1 + _tower(expr.exp)
    return max((_tower(a) for a in expr.args), default=0)
