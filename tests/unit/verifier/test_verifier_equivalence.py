"""The equivalence table: each answer type, accepted and rejected forms, gold first."""

from __future__ import annotations

import contextlib

import pytest

from hero_service.verifier import VerifierPolicy, VerifyRequest, verify_one
from hero_service.verifier.equivalence import equivalent
from hero_service.verifier.parse import UnparsableError

POLICY = VerifierPolicy()

# (gold, answer): the answer must be accepted.
EQUIVALENT = [
    # integers and decimals
    ("10000", "10,000"), ("10{,}000", "10000"), ("11,\\! 111", "11111"), ("10\\,000", "10000"),
    ("2.50", "2.5"), ("-3", "-3.0"), ("0.5", "\\frac{1}{2}"), ("007", "7"),
    # fractions and mixed numbers
    ("\\frac{1}{2}", "\\dfrac{1}{2}"), ("\\frac12", "1/2"), ("\\frac{6}{4}", "\\frac{3}{2}"),
    ("2\\frac{1}{2}", "\\frac{5}{2}"), ("1 1/2", "1.5"),
    ("-\\frac{3}{4}", "\\frac{-3}{4}"),
    # radicals
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"), ("2\\sqrt{3}", "\\sqrt{12}"), ("\\sqrt[3]{8}", "2"),
    # pi and e
    ("\\frac{\\pi}{2}", "\\pi/2"), ("e^{2}", "e^2"), ("2\\pi r", "2 r \\pi"), ("e^{16}-1", "-1+e^{16}"),
    # algebraic expressions
    ("x^2+2x+1", "(x+1)^2"), ("\\frac{x^2-1}{x-1}", "x+1"), ("\\sin^2 x + \\cos^2 x", "1"),
    ("\\frac{1}{\\sqrt{n}}", "\\sqrt{\\frac{1}{n}}"),
    # equations and lines
    ("y = 2x+3", "2x - y + 3 = 0"), ("x^2+y^2=1", "y^2 = 1 - x^2"), ("2x+4y-3=0", "y=-\\frac{x}{2}+\\frac34"),
    ("f(x) = 2x + 3", "y = 2x + 3"),
    # intervals and unions
    ("(1, 2]", "(1,2]"), ("[0, \\infty)", "[0,\\infty)"), ("(-\\infty, 2] \\cup (3, 4)", "(3,4) \\cup (-\\infty,2]"),
    ("x \\in [0.5, \\infty)", "[\\frac12, \\infty)"),
    # inequalities (and their interval form)
    ("x > 2", "2 < x"), ("x \\geq 2", "x \\ge 2"), ("1 < x \\le 2", "(1, 2]"),
    ("x > 2", "(2, \\infty)"),
    ("-2 \\le x \\le 7", "x \\in [-2,7]"), ("x \\neq 3", "x != 3"),
    # sets (unordered), tuples and points (ordered)
    ("\\{1, 2\\}", "\\{2, 1\\}"), ("1, 2, 3", "3, 2, 1"), ("\\{1,2,3\\}", "3, 1, 2"), ("(1, 2)", "(1,2)"),
    ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)"), ("(p,q)=(3,2)", "(3,2)"),
    ("(1,2),(3,4)", "(3,4),(1,2)"),
    ("\\{1,2\\}", "\\{1,1,2\\}"),
    # vectors and matrices
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1, 2)"),
    ("\\begin{pmatrix} 1 & \\frac12 \\\\ 0 & 4 \\end{pmatrix}", "\\begin{bmatrix} 1 & 0.5 \\\\ 0 & 4 \\end{bmatrix}"),
    # complex numbers
    ("3+4i", "4i+3"), ("1+2i", "i(2-i)"), ("\\frac{1}{i}", "-i"),
    # scientific notation
    ("1.5 \\times 10^{3}", "1500"), ("3 \\cdot 10^{-2}", "0.03"),
    # percentages (default policy "either")
    ("50\\%", "0.5"), ("50\\%", "50"), ("0.5", "50\\%"), ("12.5\\%", "12.5\\%"),
    # units, degrees and currency
    ("30^\\circ", "30"), ("30", "30^{\\circ}"), ("5\\text{ cm}", "5"), ("\\$6.50", "6.5"),
    ("125", "125\\textnormal{ miles}"),
    # multiple choice and text answers
    ("\\text{(B)}", "B"), ("B", "(B)"), ("C", "\\textbf{(C)}"), ("\\text{east}", "East"),
    ("\\text{Devon}", "\\text{ devon }"),
    # plus-minus pairs
    ("\\pm 2", "2, -2"), ("1 \\pm \\sqrt{2}", "1+\\sqrt2, 1-\\sqrt2"),
    # base-n numbers keep their digits; the subscript may be left off
    ("1011_2", "1011_2"), ("1011_{2}", "1011_2"), ("1011_2", "1011"), ("A3_{16}", "a3_{16}"),
    # repeating decimals, e-notation, angle-bracket vectors, degrees inside trig
    ("\\frac{1}{3}", "0.\\overline{3}"), ("\\frac{1}{6}", "0.1\\overline{6}"), ("1200", "1.2e3"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\langle 1, 2 \\rangle"), ("\\frac{1}{2}", "\\sin 30^\\circ"),
    # conditions joined by "or" are a union; "x != 1" is the line minus a point
    ("x \\le -2 \\text{ or } x \\ge 3", "(-\\infty,-2]\\cup[3,\\infty)"),
    ("(-\\infty, 1) \\cup (1, \\infty)", "x \\neq 1"), ("\\mathbb{R}", "(-\\infty, \\infty)"),
    ("x=-2 \\text{ or } x=3", "-2, 3"), ("e^{i\\pi/4}", "\\frac{\\sqrt2}{2}+\\frac{\\sqrt2}{2}i"),
    ("4\\sqrt{2}", "4\\sqrt(2)"), ("\\pm 3", "x = 3 \\text{ or } x = -3"),
    # degrees against radians, numbers wrapped in text, factored polynomials, logs and factorials
    ("\\frac{\\pi}{3}", "60^\\circ"), ("5", "\\text{5 apples}"), ("x^3 - 3x + 2", "(x-1)^2(x+2)"), ("2", "\\log_2 4"),
    ("6", "3!"), ("10", "\\binom{5}{2}"), ("|x| > 3", "(-\\infty, -3) \\cup (3, \\infty)"),
    ("x^2 + (y-1)^2 = 4", "x^2 + y^2 - 2y - 3 = 0"), ("\\frac{1+i}{2}", "0.5 + 0.5i"),
    # assignments and worked chains
    ("5", "x = 5"), ("x = 5", "5"), ("11", "x = 5+5+1 = 11"), ("11", "x \\approx 11"),
    # a decimal gold accepts an exact answer that rounds to it; a long decimal approximates 1/3
    ("3.14", "\\pi"), ("40\\pi", "125.663"),
    # exact tiny and huge values
    ("\\frac{1}{2^{98}}", "2^{-98}"), ("\\frac{1}{2004!}", "\\frac{1}{2004!}"),
    ("2^{100}", "1267650600228229401496703205376"),
]

# (gold, answer): the answer must be rejected.
DIFFERENT = [
    # the three math-verify 0.9.0 false accepts
    ("\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}"), ("\\frac{1}{2004!}", "\\frac{1}{2006!}"), ("\\{1,2\\}", "(1,2)"),
    ("(1,2)", "\\{1,2\\}"),
    # numbers
    ("10000", "10001"), ("0.5", "5"), ("32349", "32, 349"), ("2.5", "2.49"), ("-3", "3"),
    # exact golds need exact answers
    ("\\frac{1}{3}", "0.33"), ("\\frac{1}{3}", "0.333"), ("\\frac{3}{5}", "0.60001"), ("\\sqrt{2}", "1.41"),
    ("\\pi", "3.14"), ("2.5", "2.50001"), ("\\frac{1}{12}", "0.0833333333333333"),
    # fractions, radicals, pi/e
    ("\\frac{1}{2}", "\\frac{2}{1}"), ("2\\frac{1}{2}", "1"), ("\\sqrt{2}", "\\sqrt{3}"), ("e^{2}", "e^{3}"),
    ("1-\\frac{1}{e}", "1+\\frac{1}{e}"), ("\\frac{\\pi}{2}", "\\frac{\\pi}{3}"),
    # expressions: different value or different variable
    ("x^2+2x+1", "(x+1)^3"), ("x^2", "t^2"), ("x+1", "x+1+y"), ("\\sqrt{x^2}", "-x"),
    # equations
    ("y = 2x+3", "y = 2x+4"), ("3x-y+13=0", "3x+4y+14=0"), ("x = 5", "y = 5"),
    # intervals: endpoints and brackets matter
    ("(1, 2]", "(1, 2)"), ("(1,2]", "[1,2)"), ("[0, \\infty)", "(0, \\infty)"),
    ("(1,2) \\cup (3,4)", "(1,2) \\cup (3,5)"),
    # inequalities
    ("x > 2", "x \\geq 2"), ("x > 2", "x < 2"), ("x > 2", "[2, \\infty)"),
    # sets vs tuples, order of tuples
    ("(1,2)", "(2,1)"), ("\\{1,2\\}", "\\{1,2,3\\}"), ("1, 2", "1"), ("(1,2,3)", "\\{1,2,3\\}"),
    # matrices and vectors
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"),
    ("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    # complex numbers
    ("3+4i", "3-4i"), ("1+2i", "2+i"),
    # scientific notation
    ("1.5 \\times 10^{3}", "1.5 \\times 10^{4}"),
    # percentages
    ("50\\%", "5"), ("0.5", "5\\%"),
    # units and degrees
    ("30^\\circ", "60"), ("5\\text{ cm}", "6\\text{ cm}"),
    # multiple choice and text
    ("\\text{(B)}", "C"), ("B", "(D) 12"), ("\\text{east}", "west"), ("\\text{east}", "5"),
    # plus-minus
    ("\\pm 2", "2"), ("\\pm 2", "2, 3"),
    # clock times and ratios
    ("12:00", "1:00"), ("20:34", "20:34:00"), ("7:32", "32:7"),
    ("|x| > 3", "(-\\infty, -3] \\cup [3, \\infty)"), ("|x|", "x"), ("\\ln 2", "\\log_{10} 2"), ("e", "2.718"),
    ("\\frac{\\pi}{3}", "60"), ("0", "0.0001"), ("10^{-10}", "0"), ("1", "0.9999999999"), ("2\\pi", "6.28"),
    # more math-verify issue-tracker false positives (#14, #41, #60)
    ("n=2,3,4", "n=1,2,3"), ("\\pm 2021", "2021"), ("4", "4\\sqrt(2)"), ("3x-y+13=0", "3x+4y+14=0"),
    # hedged double answers
    ("3", "3, 4"), ("3", "\\boxed{3} or \\boxed{4}"),
    # units must agree when both sides give one; bases and digits must agree
    ("5\\text{ cm}", "5\\text{ m}"), ("1011_2", "1011_3"), ("1011_2", "11"), ("\\frac{1}{2}", "\\sin 30"),
    ("\\frac{1}{3}", "0.\\overline{6}"), ("x \\le -2 \\text{ or } x \\ge 3", "(-\\infty,-2)\\cup[3,\\infty)"),
]


@pytest.mark.parametrize(("gold", "answer"), EQUIVALENT)
def test_equivalent_forms_are_accepted(gold: str, answer: str) -> None:
    assert equivalent(gold, answer, POLICY) is True


@pytest.mark.parametrize(("gold", "answer"), DIFFERENT)
def test_different_answers_are_rejected(gold: str, answer: str) -> None:
    # Unparsable is also a rejection: verify_one reports it with correct=False.
    with contextlib.suppress(UnparsableError):
        assert equivalent(gold, answer, POLICY) is False
    assert verify_one(VerifyRequest(gold, f"\\boxed{{{answer}}}"), POLICY).correct is False


SYMMETRIC = [
    ("\\frac{1}{2}", "0.5"), ("x^2+2x+1", "(x+1)^2"), ("y=2x+3", "2x-y+3=0"), ("\\{1,2\\}", "\\{2,1\\}"),
    ("(1,2]", "(1,2]"), ("3+4i", "4i+3"), ("\\frac{\\sqrt2}{2}", "\\frac{1}{\\sqrt2}"), ("10{,}000", "10000"),
]


@pytest.mark.parametrize(("a", "b"), SYMMETRIC)
def test_both_directions(a: str, b: str) -> None:
    assert equivalent(a, b, POLICY) and equivalent(b, a, POLICY)


@pytest.mark.parametrize(("gold", "answer"), [("\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}"),
                                              ("\\frac{1}{2004!}", "\\frac{1}{2006!}"), ("\\{1,2\\}", "(1,2)")])
def test_math_verify_false_accepts_are_rejected_both_ways(gold: str, answer: str) -> None:
    assert not equivalent(gold, answer, POLICY)
    assert not equivalent(answer, gold, POLICY)


def test_rounded_gold_is_one_way() -> None:
    # 3.14 may be a rounded pi, but "3.14" is not an exact answer to pi.
    assert equivalent("3.14", "\\pi", POLICY)
    assert not equivalent("\\pi", "3.14", POLICY)


def test_a_worked_solution_as_gold_is_read_at_its_box() -> None:
    assert equivalent("so the answer is \\[ \\boxed{32349} \\]", "32349", POLICY)


def test_verdict_carries_the_extracted_answer() -> None:
    verdict = verify_one(VerifyRequest("\\frac{1}{2}", "we get \\boxed{\\frac{2}{4}}."))
    assert (verdict.correct, verdict.status, verdict.answer) == (True, "ok", "\\frac{2}{4}")
    assert verdict.value == 1
