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
