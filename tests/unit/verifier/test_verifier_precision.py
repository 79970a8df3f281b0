"""Issue 13 item 3: no near miss at any magnitude. Each rule: the exact form accepted, the near miss rejected."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
from verdict_checks import rejected

from hero_service.verifier import VerifierPolicy
from hero_service.verifier.equivalence import equivalent
from hero_service.verifier.exact import exact_rational

POLICY = VerifierPolicy()



SAME = [
    ("3^{80}+1", "1+3^{80}"), ("25!-1", "-1+25!"), ("2^{100}", "1267650600228229401496703205376"),
    ("\\frac{30!}{28!}", "870"), ("\\binom{40}{20}", "137846528820"), ("e^{100}+1", "1+e^{100}"),
    ("\\sqrt{2}^{200}", "2^{100}"), ("10^{40}\\pi", "\\pi\\cdot 10^{40}"), ("(2^3)^2", "2^6"),
    ("E", "E"), ("f'(x) = 2x", "f'(x)=2x"), ("B", "(B)"), ("B", "\\text{(B) } 12"),
    ("1<2x \\le 3", "\\frac12 < x \\le \\frac32"), ("(x^3)^{1/2}", "x^{3/2}"), ("\\log(x^y)", "y\\log x"),
    ("a^{b+c}", "a^b a^c"), ("\\sin(\\pi/12)", "\\frac{\\sqrt{6}-\\sqrt{2}}{4}"),
    ("\\sqrt{3+2\\sqrt{2}}", "1+\\sqrt{2}"), ("\\frac{1+\\sqrt{5}}{2}", "\\frac{2}{\\sqrt{5}-1}"),
    ("\\ln 8", "3\\ln 2"), ("\\log_2 10", "\\frac{1}{\\log_{10}2}"),
    ("(1+\\sqrt{2})^{2000}", "(3+2\\sqrt{2})^{1000}"), ("e^{1900}", "e^{950}e^{950}"),
    ("(-1,3)", "x>-1 \\text{ and } x<3"), ("x>-1 \\text{ and } x<3", "-1<x<3"), ("x=1 \\text{ and } x=2", "1, 2"),
    ("6", "2(3)"), ("\\log_2 8", "3"), ("x^2-1", "(x-1)(x+1)"), ("(x+1)^{300}", "(1+x)^{300}"),
    ("\\tan^2(y)+1", "\\sec^2(y)"), ("x<-2 \\text{ or } x>3", "(-\\infty,-2)\\cup(3,\\infty)"),
]
NEAR_MISSES = [
    # exact sides compare exactly, at any magnitude
    ("3^{80}", "3^{80}+1"), ("3^{80}+1", "3^{80}"), ("25!", "25!-1"), ("25!-1", "25!"),
    ("2^{100}", "1267650600228229401496703205377"), ("\\binom{40}{20}", "137846528821"),
    ("\\frac{1}{3^{80}}", "\\frac{1}{3^{80}+1}"), ("e^{100}", "e^{100}+1"), ("\\pi^{80}", "\\pi^{80}+1"),
    ("10^{40}\\pi", "10^{40}\\pi+1"), ("\\sqrt{2}", "\\sqrt{2}+10^{-40}"), ("\\sqrt{2}+10^{-40}", "\\sqrt{2}"),
    ("640320^3+744", "e^{\\pi\\sqrt{163}}"), ("\\pi", "\\pi+10^{-35}"), ("e^{100}", "e^{100}+10^{-10}"),
    # within the spot-check tolerance, yet different; a rational value in disguise needs the exact value
    ("x^2-1", "(x-1)(x+1)+10^{-40}"), ("(1+\\sqrt{2})^{2000}", "(1+\\sqrt{2})^{2000}+10^{-100}"),
    ("(x+1)^{300}", "(x+1)^{300}+10^{-20}"), ("\\log_2 8", "3.0000001"), ("\\frac{\\ln 27}{\\ln 3}", "2.9999999"),
    # conditions joined by "and" all hold: an intersection, not a union
    ("(-\\infty,-1)\\cup(3,+\\infty)", "x<-1 \\text{ and } x>3"), ("(-1,3)", "x>-1 \\text{ and } x<4"),
    # juxtaposed numbers are a product, not a mixed number
    ("5", "2(3)"), ("5", "(2)(3)"), ("13", "9(4)"),
    # power of a power: (a^b)^c is a^{bc} only for a > 0
    ("a^{bc}", "(a^b)^c"), ("(a^b)^c", "a^{bc}"), ("(x^a)^b", "x^{ab}"),
    # a prime makes another point or function
    ("E", "E'"), ("E'", "E"), ("f'(x) = 2x", "f''(x) = 2x"),
    # hedged choices
    ("(B)", "(B) or (D)"), ("B", "B, D"), ("B", "\\text{(B) and (D)}"), ("(D)", "(B) or (D)"),
    # a renamed free variable in a condition
    ("1<2x \\le 3", "1<2y \\le 3"), ("-5 < 3x + 7 \\le 22", "-5 < 3z + 7 \\le 22"),
    ("x<-2 \\text{ or } x>3", "y<-2 \\text{ or } y>3"), ("x \\ne 3", "y \\ne 3"),
    # truncated decimals of exact fractions (default policy)
    ("\\frac{1}{3}", "0.333333333333333"), ("\\frac{2}{7}", "0.285714285714"), ("\\frac{1}{12}", "0.08333333"),
]


@pytest.mark.parametrize(("gold", "answer"), SAME)
def test_exact_forms_are_accepted(gold: str, answer: str) -> None:
    assert equivalent(gold, answer, POLICY) is True


@pytest.mark.parametrize(("gold", "answer"), NEAR_MISSES)
def test_near_misses_are_rejected(gold: str, answer: str) -> None:
    assert rejected(gold, answer, POLICY)


def test_exact_rational_values_and_refusals() -> None:
    three = sympy.Integer(3)
    assert exact_rational(sympy.Add(sympy.Pow(three, 80, evaluate=False), 1, evaluate=False)) == 3**80 + 1
    assert exact_rational(sympy.factorial(sympy.Integer(5), evaluate=False)) == 120
    assert exact_rational(sympy.Rational(1, 3)) == Fraction(1, 3)
    assert exact_rational(sympy.sqrt(2)) is None
    assert exact_rational(sympy.Symbol("x") + 1) is None
    # bounded: a power or factorial past the caps is refused, not computed
    assert exact_rational(sympy.Pow(three, 10**6, evaluate=False)) is None
    assert exact_rational(sympy.factorial(sympy.Integer(10**6), evaluate=False)) is None
    assert exact_rational(sympy.Pow(sympy.Integer(0), -1, evaluate=False)) is None
