"""Answers without a box: think blocks, <answer> tags, GSM8K ####, phrases, brackets, bare answers,
and the responses that never commit (no_answer), each in both directions."""

from __future__ import annotations

import time

import pytest

from hero_service.verifier import ExtractMode, VerifyRequest, verify_one
from hero_service.verifier.extract import extract_answer

LONG_REASONING = (
    "Let us think step by step. We first note that the triangle has sides 3, 4 and 5, so it is a right "
    "triangle. Its area is therefore 6 square units, and the perimeter is 12. Now we consider the "
    "inscribed circle, whose radius we will compute from the area and the semiperimeter of 6 and then "
)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        # <think> is never the answer; the answer after it is.
        ("<think>2 + 2 = 4</think>\n<answer>4</answer>", "4"),
        ("<think>I think it is \\boxed{5}</think> So \\boxed{6}.", "6"),
        ("Reasoning content </think> \\boxed{\\frac{63}{400}}", "\\frac{63}{400}"),
        ("<think>10 - 5 = 5\n<answer>5</answer>", "5"),
        ("<THINK>x</THINK><answer>7</answer>", "7"),
        # <answer> tags: the last complete block, read whole when short math.
        ("<answer>2x + 3</answer>", "2x + 3"),
        ("<answer>1</answer> then <answer>x = 2 and y = 3</answer>", "x = 2 and y = 3"),
        ("<answer>The answer is \\boxed{9}</answer>", "9"),
        ("\\boxed{3} <answer>4</answer>", "4"),
        # GSM8K.
        ("Natalia sold 48 clips in April.\n#### 72", "72"),
        ("The answer is #### 42", "42"),
        ("so it costs $1,200.\n#### 1,200\n", "1,200"),
        # Phrases.
        ("Therefore the answer is -3", "-3"),
        ("Step 1: Calculate\nStep 2: Simplify\nFinal answer: 42", "42"),
        ("There are 6 such numbers. Therefore, the answer is:\n\\[\n6\n\\]", "6"),
        ("Thus, the answer is:\n\\[ 7\\pi \\]\n", "7\\pi"),
        ("The final answer is\n\n$$\\frac{1}{2}$$", "\\frac{1}{2}"),
        ("Final Answer:\n-3", "-3"),
        ("<|im_start|>Answer: \\boxed{42}<|im_end|>", "42"),
        ("So \\boxed{5}.<|im_end|>\n<|im_start|>user\nAnd \\boxed{6}?", "5"),
        ("<|im_end|>\\boxed{7}", "7"),
        ("所以 x=2，故答案为：$\\frac{1}{2}$。", "\\frac{1}{2}"),
        ("最终答案是 5。", "5"),
        # A bracketed value closing the response.
        ("The angle is [90].", "90"),
        ("The angle is [ 90 ].", "90"),
        ("[$\\sqrt{4}$]", "\\sqrt{4}"),
        ("First try [30], second try [45].", "45"),
        ("[45 degrees]", "45 degrees"),
        ("The solution set is [0, 5].", "[0, 5]"),
        # One sentence closing on its only math span.
        ("The result is $3$", "3"),
        ("Hence we obtain \\(\\frac{1}{2}\\).", "\\frac{1}{2}"),
        # The response is the answer.
        ("-15", "-15"),
        ("x = 3", "x = 3"),
        ("$10^3$", "10^3"),
        ("  3+2 \n", "3+2"),
        ("999999999999999", "999999999999999"),
        ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{2}"),
        ("2\\sin x", "2\\sin x"),
        ("−15", "−15"),
        ("θ = 30°", "θ = 30°"),
        ("(B)", "(B)"),
        ("x<1 or x>3", "x<1 or x>3"),
        ("$x \\in [-2,7]$", "x \\in [-2,7]"),
        ("Final Answer: the most points that could be in the domain of $f$ is 19.", "19"),
    ],
)
def test_unboxed_answers(response: str, expected: str) -> None:
    assert extract_answer(response) == expected


@pytest.mark.parametrize(
    "response",
    [
        # Thinking only, or an answer that sits inside the thinking.
        "<think> Incomplete reasoning without closing tag",
        "<think> Incomplete \\boxed{5} reasoning",
        "<think> My answer is \\boxed{42} </think> Some other text.",
        "<think>The answer is 5</think>",
        # An unclosed answer tag (truncated).
        "<answer>4",
        # Prose that never commits.
        "I don't know.",
        "No answer here",
        "the value is 12",
        LONG_REASONING,
        LONG_REASONING + "we get 15",
        LONG_REASONING + "we get $r = 1$ and continue",
        "We try $x = 2$, then $x = 3$.",
        "Maybe 3",
        "The answer is either 3 or 4.",
        "The answer is maybe $5$.",
        "Final answer: 3 or 4",
        "Answer: (B) or (D)",
        "The answer could be 7.",
        "The answer is 5, but it could be 6.",
        "3 or 4",
        "<answer>3 or 4</answer>",
        "<answer>I am not sure, possibly 4</answer>",
        "<answer>Let me think about this problem more carefully first</answer>",
        "The answer is",
        "Therefore, the answer is:\n\\[",
        "Therefore, the answer is:\nmaybe 3",
        # Each form's near miss: the value is not where the response ends, or prose surrounds it.
        "The angle is [90] and we must double check it",
        "#### 42\nLet me recompute that.",
        "x = 3 and then we substitute it into the second equation",
        "The result is $3$ but we should double check",
        "-15 is what I got first, then I recomputed",
        # Headings and citations that look like markers.
        "We found 12.\n#### Verification",
        "as shown in the reference [Smith].",
        "so we read the entry a[5]",
        "We need to find $x$.",
        "答案不确定，可能是 5",
        "答案是：可能 5",
        "故答案为 3 或者 4",
        "",
    ],
)
def test_no_commitment_is_no_answer(response: str) -> None:
    assert extract_answer(response) is None
    assert verify_one(VerifyRequest("5", response)).status == "no_answer"


@pytest.mark.parametrize(
    ("reference", "response", "correct"),
    [
        ("4", "<think>2 + 2 = 4</think>\n<answer>4</answer>", True),
        ("12", "<think>3 * 4 = 12</think>\n<answer>12.5</answer>", False),
        ("42", "<think> The answer is \\boxed{42} </think> Here's a wrong answer: \\boxed{43}.", False),
        ("42", "The answer is #### 42", True),
        ("43", "The answer is #### 42", False),
        ("90", "The angle is [90].", True),
        ("90", "The angle is [60].", False),
        ("-15", "-15", True),
        ("15", "-15", False),
        ("3", "x = 3", True),
        ("4", "x = 3", False),
        ("1000", "$10^3$", True),
        ("100", "$10^3$", False),
        ("3", "The result is $3$", True),
        ("3", "The result is $4$", False),
    ],
)
def test_unboxed_forms_are_graded(reference: str, response: str, correct: bool) -> None:
    verdict = verify_one(VerifyRequest(reference, response))
    assert (verdict.correct, verdict.status) == (correct, "ok")


def test_modes_on_unboxed_answers() -> None:
    # ``boxed`` reads only boxes, inside an <answer> block too.
    assert extract_answer("<answer>4</answer>", "boxed") is None
    assert extract_answer("<answer>\\boxed{4}</answer> \\boxed{5}", "boxed") == "4"
    assert extract_answer("-15", "boxed") is None
    # ``any`` still refuses what the default refuses on hedges, and adds the last number.
    assert extract_answer(LONG_REASONING + "we get 15", "any") == "15"
    assert extract_answer("<think>\\boxed{5}</think>", "any") is None


def test_box_then_gsm8k_line_wins_and_heading_does_not() -> None:
    assert extract_answer("\\boxed{3}\n#### 4") == "4"
    assert extract_answer("\\boxed{3}\n\n#### Verification\nIt checks out.") == "3"


@pytest.mark.parametrize(
    "response",
    [
        "<think>" * 50_000,
        "</think>" * 50_000,
        "<think>a</think>" * 30_000,
        "<answer>" * 50_000 + "</answer>",
        "<answer>" + "1 " * 200_000 + "</answer>",
        "[" * 100_000 + "1]",
        "#### " * 50_000 + "4",
        "1 or " * 50_000,
        "<|im_end|>" * 50_000,
        "x" * 1_000_000,
    ],
)
def test_unboxed_extraction_is_fast_on_hostile_text(response: str) -> None:
    modes: tuple[ExtractMode, ...] = ("boxed", "boxed_or_last", "any")
    start = time.perf_counter()
    for mode in modes:
        extract_answer(response, mode)
    assert time.perf_counter() - start < 1.0
