"""Hostile inputs shared by the unit and integration safety tests."""

from __future__ import annotations

from pathlib import Path


def marker_payloads(marker: Path) -> list[str]:
    """Responses that would create ``marker`` if any of them reached eval/exec/sympify-on-strings."""
    touch = f"__import__('pathlib').Path('{marker}').touch()"
    return [
        f"\\boxed{{{touch}}}",
        f"\\boxed{{\\text{{{touch}}}}}",
        f"The answer is {touch}.",
        f"Final answer: ${touch}$",
        f"\\boxed{{1 + eval(\"{touch}\")}}",
        f"\\boxed{{(lambda: {touch})()}}",
        f"\\boxed{{exec('{touch}')}}",
        f"\\boxed{{x_{{{touch}}}}}",
        f"\\boxed{{\\operatorname{{{touch}}}(x)}}",
        f"\\boxed{{\\begin{{pmatrix}} {touch} \\\\ 1 \\end{{pmatrix}}}}",
        f"**{touch}**",
        touch,
    ]


def hostile_answers() -> list[str]:
    """Extracted answers built to exhaust time or memory in a naive verifier."""
    return [
        "9^{9^{9^{9}}}",
        "2^{2^{2^{2^{2^{2}}}}}",
        "10^{10^{10}}",
        "10^{1000000000}",
        "(10^{10})!",
        "999999999!",
        "\\binom{10^9}{5 \\cdot 10^8}",
        "\\prod_{k=1}^{10^7} k",
        "\\sum_{k=1}^{10^9} k^2",
        "x^{x^{x^{x^{x}}}}",
        "(" * 3000 + "1" + ")" * 3000,
        "{" * 5000 + "1" + "}" * 5000,
        "1" * 5000,
        "+".join(["x"] * 400),
        "\\frac{1}{0}",
        "0^{-1}",
        "\\sqrt{-1}",
        "1\x002\x00",
        "\\boxed{" * 300,
    ]
