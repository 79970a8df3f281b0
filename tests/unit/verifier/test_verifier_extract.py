"""Final-answer extraction: boxes, phrases, bold lines, modes, and linear time on hostile text."""

from __future__ import annotations

import time

import pytest

from hero_service.verifier import ExtractMode, VerifyRequest, verify_one
from hero_service.verifier.extract import extract_answer, last_boxed, reference_answer


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("so \\boxed{5}.", "5"),
        ("first \\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("nested \\boxed{\\frac{\\sqrt{2}}{\\{1\\}}} end", "\\frac{\\sqrt{2}}{\\{1\\}}"),
        ("\\fbox{7}", "7"),
        ("\\boxed 5 is it", "5"),
        ("answer \\boxed{3} and a truncated \\boxed{4", "3"),
        ("$\\boxed{x = 2}$.", "x = 2"),
        ("roots: \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}.", "-2, 1"),
        ("\\boxed{1},\\boxed{2},\\boxed{3}", "1, 2, 3"),
        ("\\boxed{6} ... \\boxed{6}", "6"),
        ("We get \\boxed{3}. Wait, recheck: \\boxed{4}", "4"),
        ("Therefore, the answer is 12 apples.", "12 apples"),
        ("The answer is $\\frac{1}{2}$. Done.", "\\frac{1}{2}"),
        ("Final answer: east", "east"),
        ("Final Answer: The final answer is $10,455$. I hope it is correct.", "10,455"),
        ("blah\n**42**", "42"),
        ("earlier \\boxed{255} then. Final Answer: The final answer is $10,455$.", "10,455"),
    ],
)
def test_boxed_or_last(response: str, expected: str) -> None:
    assert extract_answer(response) == expected


@pytest.mark.parametrize("response", ["no answer here", "the value is 12", "\\boxed{unclosed", ""])
def test_no_final_answer(response: str) -> None:
    assert extract_answer(response) is None
    verdict = verify_one(VerifyRequest("12", response))
    assert (verdict.correct, verdict.status, verdict.answer) == (False, "no_answer", None)


def test_modes() -> None:
    text = "The answer is 7."
    assert extract_answer(text, "boxed") is None
    assert extract_answer(text, "boxed_or_last") == "7"
    assert extract_answer("so the total is $3+4$ overall", "boxed_or_last") is None
    assert extract_answer("so the total is $3+4$ overall", "any") == "3+4"
    assert extract_answer("Final Answer: The largest $n$ is 34.", "any") == "34"
    assert extract_answer("The number of points is 19. <|im_start|>user", "any") == "19"


def test_reference_answer() -> None:
    assert reference_answer("so \\[ \\boxed{11} \\]") == "11"
    assert reference_answer("\\frac{1}{2}") == "\\frac{1}{2}"
    assert last_boxed("no box") is None


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{" * 20000,
        "answer is " + " " * 200_000,
        "$" * 100_000,
        ("x" * 999_000) + "\\boxed{1}",
        "\\boxed{1}" * 5000,
        "{" * 10000 + "}" * 10000,
        "the answer is \x00\x00 5",
    ],
)
def test_extraction_is_fast_on_hostile_text(response: str) -> None:
    start = time.perf_counter()
    modes: tuple[ExtractMode, ...] = ("boxed", "boxed_or_last", "any")
    for mode in modes:
        extract_answer(response, mode)
    assert time.perf_counter() - start < 1.0
