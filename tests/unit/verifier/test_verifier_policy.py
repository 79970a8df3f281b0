"""Every VerifierPolicy option, exercised at both settings."""

from __future__ import annotations

import dataclasses

import pytest

from hero_service.verifier import VerifierPolicy
from hero_service.verifier.equivalence import equivalent
from hero_service.verifier.parse import UnparsableError

DEFAULT = VerifierPolicy()


def judged(gold: str, answer: str, policy: VerifierPolicy) -> bool:
    try:
        return equivalent(gold, answer, policy)
    except UnparsableError:
        return False


def test_defaults_are_the_documented_ones() -> None:
    assert dataclasses.asdict(DEFAULT) == {
        "assignment": True, "percent": "either", "bare_list": "set", "rounded_reference": True,
        "approximate_digits": 5, "approximate_rationals": False, "ratio": "fraction",
        "interval_inequality": True, "vector_tuple": True, "units": True,
        "max_answer_chars": 1000,
    }


@pytest.mark.parametrize(("gold", "answer"), [("5", "x=5"), ("x=5", "5"), ("(p,q)=(3,2)", "(3,2)")])
def test_assignment(gold: str, answer: str) -> None:
    assert judged(gold, answer, DEFAULT)
    assert not judged(gold, answer, VerifierPolicy(assignment=False))


@pytest.mark.parametrize(
    ("percent", "expected"),
    [("either", (True, True, True)), ("fraction", (True, False, True)), ("number", (False, True, False))],
)
def test_percent(percent: str, expected: tuple[bool, bool, bool]) -> None:
    policy = VerifierPolicy(percent=percent)  # type: ignore[arg-type]
    got = (judged("50\\%", "0.5", policy), judged("50\\%", "50", policy), judged("0.5", "50\\%", policy))
    assert got == expected
    assert judged("50\\%", "50\\%", policy)
    assert not judged("50\\%", "5", policy)


def test_bare_list() -> None:
    assert judged("10, 4, -2", "4, 10, -2", DEFAULT)
    assert not judged("10, 4, -2", "4, 10, -2", VerifierPolicy(bare_list="ordered"))
    assert judged("10, 4, -2", "10, 4, -2", VerifierPolicy(bare_list="ordered"))


def test_rounded_reference() -> None:
    assert judged("3.14", "\\pi", DEFAULT)
    assert not judged("0.33", "\\frac{1}{3}", DEFAULT)  # a fraction for a rounded gold: only by policy
    assert judged("0.33", "\\frac{1}{3}", VerifierPolicy(approximate_rationals=True))
    assert judged("1.41", "\\sqrt{2}", DEFAULT)
    off = VerifierPolicy(rounded_reference=False)
    assert not judged("3.14", "\\pi", off)
    assert not judged("0.33", "\\frac{1}{3}", VerifierPolicy(rounded_reference=False, approximate_rationals=True))
    assert not judged("3.15", "\\pi", DEFAULT)


def test_approximate_digits() -> None:
    assert judged("\\sqrt{3}", "1.73205", DEFAULT)
    assert not judged("\\sqrt{3}", "1.732", DEFAULT)  # four significant digits are not enough
    assert judged("\\sqrt{3}", "1.732", VerifierPolicy(approximate_digits=4))
    assert not judged("\\sqrt{3}", "1.73205", VerifierPolicy(approximate_digits=None))
    rationals = VerifierPolicy(approximate_rationals=True)
    assert judged("\\frac{1}{3}", "0.33333", rationals)
    assert not judged("\\frac{1}{3}", "0.3333", rationals)
    assert judged("\\frac{1}{3}", "0.3333", VerifierPolicy(approximate_digits=4, approximate_rationals=True))
    assert not judged("\\frac{3}{5}", "0.600001", DEFAULT)  # 3/5 has an exact decimal: 0.6
    assert not judged("\\sqrt{2}", "1.41432", DEFAULT)


def test_interval_inequality() -> None:
    assert judged("x > 2", "(2, \\infty)", DEFAULT)
    assert judged("(1, 2]", "1 < x \\le 2", DEFAULT)
    off = VerifierPolicy(interval_inequality=False)
    assert not judged("x > 2", "(2, \\infty)", off)
    assert judged("x > 2", "2 < x", off)


def test_vector_tuple() -> None:
    vector = "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"
    assert judged(vector, "(1, 2)", DEFAULT)
    assert not judged(vector, "(1, 2)", VerifierPolicy(vector_tuple=False))


def test_units() -> None:
    assert judged("30^\\circ", "30", DEFAULT)
    assert judged("5", "5\\text{ cm}", DEFAULT)
    off = VerifierPolicy(units=False)
    assert not judged("5", "5\\text{ cm}", off)
    assert judged("5", "5", off)


def test_max_answer_chars() -> None:
    long_sum = "+".join(["1"] * 300)  # 599 chars, equal to 300
    assert judged("300", long_sum, DEFAULT)
    with pytest.raises(UnparsableError):
        equivalent("300", long_sum, VerifierPolicy(max_answer_chars=100))


def test_approximate_rationals() -> None:
    # A truncated decimal of a non-terminating fraction is a wrong answer unless the policy says otherwise.
    for answer in ("0.333333333333333", "0.33333", "0.3333333333333333333333"):
        assert not judged("\\frac{1}{3}", answer, DEFAULT)
        assert judged("\\frac{1}{3}", answer, VerifierPolicy(approximate_rationals=True))
    assert not judged("\\frac{1}{3}", "0.333343", VerifierPolicy(approximate_rationals=True))  # near miss
    assert judged("\\frac{\\pi}{3}", "1.047198", DEFAULT)  # irrational golds keep their rounding
    assert not judged("0.33", "\\frac{1}{3}", DEFAULT)  # nor a rounded gold for a fraction
    assert not judged("0.67", "\\frac{2}{3}", DEFAULT)
    assert judged("0.67", "\\frac{2}{3}", VerifierPolicy(approximate_rationals=True))
    assert not judged("0.4", "\\frac{2}{5}+\\frac{1}{1000}", VerifierPolicy(approximate_rationals=True))


def test_ratio() -> None:
    parts = VerifierPolicy(ratio="parts")
    for gold, answer in (("1:2", "2:4"), ("3:4", "\\frac{3}{4}"), ("1:2:3", "2:4:6"), ("3:4", "0.75")):
        assert judged(gold, answer, DEFAULT)
        assert not judged(gold, answer, parts)
    for gold, answer in (("1:2", "2:1"), ("1:2:3", "2:4:7"), ("3:4", "0.7"), ("2:3", "0.67")):
        assert not judged(gold, answer, DEFAULT)
    # clock times never read as fractions
    assert not judged("4:30", "9:60", DEFAULT)
    assert not judged("12:00", "1:00", DEFAULT)
    assert judged("4:30", "4:30", parts)
