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
        # issue 13 parser paths: sign expansion, set-builder, Unicode, qualifiers, labels, ordinals
        ", ".join(["\\pm 1"] * 40),
        "(" + ", ".join(["\\pm 1"] * 30) + ")",
        "(\\pm 1, \\pm 2, \\pm 3, \\pm 4), " * 12,
        "\\{x \\mid " * 40 + "x > 1" + "\\}" * 40,
        "\\{x : x \\ne 1\\} \\cup " * 30 + "\\{1\\}",
        "²³" * 300,
        "<sup>" * 100 + "2" + "</sup>" * 100,
        "①" * 400 + "\\infty" + "∞∪" * 100,
        "x" + " \\text{ for every real } x" * 30,
        "x, k \\in \\mathbb{Z}" * 40,
        "\\text{largest: } 9, " * 40,
        "1st " * 250,
        "1:" * 400 + "1",
        "\\mathbb{R} \\setminus \\{" + ", ".join(str(i) for i in range(150)) + "\\}",
        "x > 1 \\text{ and } " * 40 + "x < 2",
        "x" + " " * 990 + "!",
        "x," + " " * 990 + "k",
        "x" + " \\, " * 300 + "k \\in \\mathbb{Z}",
        "\\sum_{i=1}^{150}\\sum_{j=1}^{150} ij",
        "\\sum_{k=1}^{200} k^{k}",
        "\\prod_{k=1}^{200} 10^{200}",
        "\\prod_{k=1}^{200} (x+k)^{k}",
        "\\sum_{k=1}^{n} k^{2}",
        "\\sum_{k=1}^{10^{10^{10}}} k",
        "g(" + ",".join("abcdefghijklmnopqrstuvwxyz") + ")=" + "+".join("abcdefghijklmnopqrstuvwxyz"),
    ]
