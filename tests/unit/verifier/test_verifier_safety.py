"""No model text is evaluated, and oversized math is refused before sympy touches it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import latex2sympy2_extended.latex2sympy2 as l2s
import pytest
import sympy.parsing.sympy_parser as sympy_parser
from verifier_payloads import hostile_answers, marker_payloads

from hero_service.verifier import VerifierPolicy, VerifyRequest, verify_one
from hero_service.verifier.engine import judge


def test_parse_expr_only_ever_sees_number_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """sympy.Number("12") inside latex2sympy goes through parse_expr; anything else would be eval."""
    seen: list[str] = []
    real = sympy_parser.parse_expr

    def spy(text: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(sympy_parser, "parse_expr", spy)
    monkeypatch.setattr(l2s, "parse_expr", spy)
    marker = tmp_path / "pwned"
    for response in marker_payloads(marker):
        verify_one(VerifyRequest("2", response, "any"))
        verify_one(VerifyRequest(response, "\\boxed{2}"))
    verify_one(VerifyRequest("\\frac{1}{2}", "\\boxed{0.5 + x - x}"))
    assert seen, "the spy must observe latex2sympy's number tokens"
    assert all(re.fullmatch(r"[0-9.,eE+\- ]*", s) for s in seen), [s for s in seen if not s.isdigit()][:5]
    assert not marker.exists()


@pytest.mark.parametrize("answer", hostile_answers())
def test_oversized_math_is_refused_quickly(answer: str) -> None:
    start = time.perf_counter()
    correct, status = judge("2", answer, VerifierPolicy())
    assert time.perf_counter() - start < 2.0
    assert not correct
    assert status in {"ok", "unparsable"}


@pytest.mark.parametrize(
    ("gold", "answer"),
    [("(x+1)^{2000}", "(1+x)^{2000}"), ("x^{19000}", "x^{19000}"),
     ("\\sum_{k=1}^{200} x^{k}", "\\sum_{j=1}^{200} x^{j}"),
     ("(\\pm 1, \\pm 2, \\pm 3, \\pm 4)", "(\\pm 1, \\pm 2, \\pm 3, \\pm 4)"), ("e^{1000}", "e^{1000}+1")],
)
def test_equal_looking_large_pairs_are_bounded(gold: str, answer: str) -> None:
    """Pairs that pass the float spot checks and reach the exact checks (exact point, doubled precision)."""
    start = time.perf_counter()
    judge(gold, answer, VerifierPolicy())
    assert time.perf_counter() - start < 2.0
