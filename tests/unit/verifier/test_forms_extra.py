"""Answer forms added to close the math-verify test-case gap: each accepted and rejected, both sides."""

from __future__ import annotations

import time

import pytest

from hero_service.verifier import VerifierPolicy, VerifyRequest, verify_one
from hero_service.verifier.equivalence import equivalent
from hero_service.verifier.extract import extract_answer, reference_answer

POLICY = VerifierPolicy()
_SOLUTION = (
    "Let the value be $100$ on Monday. After losing $10\\%$ it is $90$, and after losing $20\\%$ of that it "
    "is $72$. The overall loss is $100\\% - 72\\% = 28\\%$. Final Answer: The final answer is $28\\%$. "
    "I hope it is correct. Note: we could also check this by another route that keeps $72\\%$ of the value."
)


def _correct(gold: str, response: str) -> bool:
    return verify_one(VerifyRequest(gold, response, "any"), POLICY).correct


# --- a short gold in several boxes ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("gold", "expected"),
    [
        ("\\boxed{1} papers and \\boxed{2} bins", "1, 2"),
        ("\\boxed{35 cm} ++++++ \\boxed{4}", "35 cm, 4"),  # a short gap needs no separator word
        ("\\boxed{3}, \\boxed{3}", "3"),
        ("$x = \\boxed{1}$ and $y = \\boxed{2}$", "x = 1, y = 2"),
    ],
)
def test_short_gold_joins_its_boxes(gold: str, expected: str) -> None:
    assert reference_answer(gold) == expected


@pytest.mark.parametrize(
    "gold",
    [
        "\\boxed{1} no no no no no \\boxed{2}",  # a long gap with no "and"/"or"/comma: not a list
        "\\boxed{3} so that 2x = 5 and \\boxed{4}",  # math between the boxes: an intermediate result
    ],
)
def test_short_gold_keeps_only_its_last_box(gold: str) -> None:
    assert "," not in reference_answer(gold)


def test_joined_gold_boxes_verify() -> None:
    assert _correct("\\boxed{1} papers and \\boxed{2} bins", "\\boxed{1,2}")
    assert _correct("\\boxed{1} papers and \\boxed{2} bins", "\\boxed{2, 1}")
    assert not _correct("\\boxed{1} papers and \\boxed{2} bins", "\\boxed{1}")
    assert not _correct("\\boxed{1} papers and \\boxed{2} bins", "\\boxed{1,3}")
    assert not _correct("\\boxed{1} no no no no no \\boxed{2}", "\\boxed{1,2}")


# --- labelled boxes in a response -----------------------------------------------------------------

_LABELLED = "\\($y_1 = \\boxed{-2(x - 1)^2 + 5} \\) and \\( y_2 = \\boxed{3(x + 2)^2 - 2} \\) "


def test_labelled_boxes_join_with_their_labels() -> None:
    assert extract_answer(_LABELLED, "any") == "y_1 = -2(x - 1)^2 + 5, y_2 = 3(x + 2)^2 - 2"
    # One labelled box is just its content, as before.
    assert extract_answer("so $x = \\boxed{5}$.", "any") == "5"
    # A label is not a connector once words intervene.
    assert extract_answer("$a = \\boxed{3}$ and therefore $b = \\boxed{5}$", "any") == "5"


def test_labelled_boxes_verify() -> None:
    gold = "$y_{1}=-2 x^{2}+4 x+3, y_{2}=3 x^{2}+12 x+10$"
    assert _correct(gold, _LABELLED)
    swapped = "$y_1 = \\boxed{3(x + 2)^2 - 2}$ and $y_2 = \\boxed{-2(x - 1)^2 + 5}$"
    assert not _correct(gold, swapped)
    wrong = "$y_1 = \\boxed{-2(x - 1)^2 + 5}$ and $y_2 = \\boxed{3(x + 2)^2 + 2}$"
    assert not _correct(gold, wrong)
    # The labels stay, so exchanged values cannot pass as a set of numbers.
    assert not _correct("x = 1, y = 2", "$x = \\boxed{2}$, $y = \\boxed{1}$")
    assert _correct("x = 1, y = 2", "$x = \\boxed{1}$, $y = \\boxed{2}$")


# --- a final-answer phrase in several math spans --------------------------------------------------

def test_phrase_of_several_spans_joins_them() -> None:
    response = 'between \\boxed{12 $ and $13 }. $ Final Answer: The final answer is \\"$12 $ and $13 $\\". I hope'
    assert extract_answer(response, "any") == "12, 13"
    assert extract_answer("The answer is $3$, $4$.", "boxed_or_last") == "3, 4"
    # Words around the spans make it a sentence: its last math, as before.
    assert extract_answer("The answer is between $12$ and $13$.", "any") == "13"
    assert _correct("12\\text{ and }13", response)
    assert not _correct("13", response)
    assert not _correct("12\\text{ and }14", response)


# --- a worked-solution gold with no box -----------------------------------------------------------

def test_unboxed_solution_gold_is_read_at_its_final_answer() -> None:
    assert reference_answer(_SOLUTION) == "28\\%"
    assert _correct(_SOLUTION, "a total loss of $\\boxed{28\\%}$.")
    assert not _correct(_SOLUTION, "a total loss of $\\boxed{72\\%}$.")
    assert not _correct(_SOLUTION, "\\boxed{10\\%}")


def test_unboxed_solution_without_final_answer_is_not_guessed() -> None:
    # A solution's last math span is too often a side remark: no phrase, no reading.
    solution = _SOLUTION.replace("Final Answer: The final answer is $28\\%$. ", "")
    assert reference_answer(solution) == solution
    assert not _correct(solution, "\\boxed{72\\%}")
    assert not _correct(solution, "\\boxed{28\\%}")


# --- a box holding a sentence with contractions ---------------------------------------------------

def test_box_with_contractions_reads_its_last_number() -> None:
    response = "\\boxed{not it's not 10 it's 1,000.99m²}"
    assert extract_answer(response, "any") == "1,000.99"
    assert _correct("1000.99", response)
    assert not _correct("10", response)
    assert not _correct("1000.9", response)


# --- decimal commas -------------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b"), [("0,111", "0.111"), ("2,74", "2.74"), ("-0,125", "-0.125")])
def test_decimal_comma_both_directions(a: str, b: str) -> None:
    assert equivalent(a, b, POLICY) and equivalent(b, a, POLICY)


@pytest.mark.parametrize(
    ("gold", "answer"),
    [
        ("0,111", "111"), ("111", "0,111"), ("0,111", "0.112"), ("0.112", "0,111"),
        ("1,000", "1.000"), ("1.000", "1,000"),  # a non-zero group of three is a thousands separator
        ("2,5", "5/2"),  # with no dotted form to match, a comma stays a list separator
    ],
)
def test_decimal_comma_rejections(gold: str, answer: str) -> None:
    assert not equivalent(gold, answer, POLICY)


def test_thousands_separator_still_reads() -> None:
    assert equivalent("1,000", "1000", POLICY) and equivalent("1000", "1,000", POLICY)
    assert equivalent("12,345.5", "12345.5", POLICY)


# --- a row break before \end{pmatrix} -------------------------------------------------------------

_MATRIX = "\\begin{pmatrix}\\frac{1}{3\\sqrt[3]{x}^2}&0\\\\-\\sin(x)&0\\\\\\end{pmatrix}"
_SAME = "\\begin{pmatrix}\\frac{1}{3x^{2/3}}&0\\\\-\\sin(x)&0\\end{pmatrix}"


def test_trailing_row_break_adds_no_row() -> None:
    assert equivalent(_MATRIX, _SAME, POLICY) and equivalent(_SAME, _MATRIX, POLICY)
    different = "\\begin{pmatrix}\\frac{1}{3x^{2/3}}&0\\\\\\sin(x)&0\\end{pmatrix}"
    assert not equivalent(_MATRIX, different, POLICY)
    extra_row = "\\begin{pmatrix}\\frac{1}{3x^{2/3}}&0\\\\-\\sin(x)&0\\\\0&0\\end{pmatrix}"
    assert not equivalent(_MATRIX, extra_row, POLICY)
    column = "\\begin{pmatrix}1\\\\2\\\\\\end{pmatrix}"
    assert not equivalent(column, "\\begin{pmatrix}1\\\\2\\\\0\\end{pmatrix}", POLICY)
    assert equivalent(column, "\\begin{pmatrix}1\\\\2\\end{pmatrix}", POLICY)


# --- what stays rejected --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("gold", "answer"),
    [
        ("1 - \\frac{1}{\\mathrm{e}}", "1 + \\frac{1}{\\mathrm{e}}"),
        ("f(x)", "f(y)"),
        ("(1,3)", "\\{1,3\\}"),
        ("\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}"),
        ("\\frac{1}{2004!}", "\\frac{1}{2006!}"),
        ("\\{1,2\\}", "(1,2)"),
    ],
)
def test_still_rejected(gold: str, answer: str) -> None:
    assert not equivalent(gold, answer, POLICY)
    assert not _correct(gold, f"\\boxed{{{answer}}}")


@pytest.mark.parametrize(
    "reference",
    [
        "\\boxed{1} and " * 12 + "\\boxed{2}",
        "word " * 200_000 + "the final answer is " + "$1$ and " * 100,
        "y_1 = \\boxed{1} and " * 5000,
        "it's not " * 100_000,
    ],
)
def test_reference_reading_is_fast_on_hostile_text(reference: str) -> None:
    start = time.perf_counter()
    reference_answer(reference)
    assert time.perf_counter() - start < 1.0
