"""Unicode math, plain-text and HTML forms rewritten as the LaTeX the parser reads. Pure string work.

Model answers and golds copied from web pages write ``(−∞, 2] ∪ [5, ∞)``, ``x ≥ 3``, ``3 × 10^(5)``,
``2<sup>n</sup>``, fullwidth digits or circled numbers, and golds often keep their display delimiters
(``\\[ \\]``, ``$$ $$``). Each rewrite here is a fixed table or an anchored regex: linear in the text.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

_SYMBOLS = {
    "−": "-", "–": "-", "∞": "\\infty ", "∪": "\\cup ", "∩": "\\cap ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ",
    "⩽": "\\le ", "⩾": "\\ge ", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ", "⋅": "\\cdot ", "π": "\\pi ",
    "√": "\\sqrt ", "±": "\\pm ", "∓": "\\mp ", "∈": "\\in ", "∅": "\\varnothing ", "ℝ": "\\mathbb{R}",
    "ℤ": "\\mathbb{Z}", "ℕ": "\\mathbb{N}", "ℚ": "\\mathbb{Q}", "°": "^\\circ ", "∖": "\\setminus ",
    "→": "\\to ", "≈": "\\approx ", "θ": "\\theta ", "α": "\\alpha ", "β": "\\beta ", "…": "...",
    "⁄": "/", "∶": ":", "∛": "\\sqrt[3]", "或": " \\text{ or } ", "且": " \\text{ and } ",
}
# "√12" is the root of 12 (LaTeX's \sqrt12 would be \sqrt{1}2): brace the number or letter that follows.
_ROOT_ARGUMENT = re.compile(r"([√∛])\s*(\d+(?:\.\d+)?|[A-Za-z])")
_VULGAR = re.compile("[¼½¾⅐⅑⅒⅓⅔⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞]")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ⁿ", "0123456789+-n")
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUPER_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ⁿ]+")
_SUB_RUN = re.compile("[₀₁₂₃₄₅₆₇₈₉]+")
_HTML = re.compile(r"<(sup|sub)>([^<>]{0,40})</\1>", re.IGNORECASE)
# ``10^(5)``: a parenthesised exponent the grammar does not take without braces.
_PAREN_EXPONENT = re.compile(r"\^\s*\(([^()]{1,40})\)")
_DISPLAY = (("\\[", "\\]"), ("\\(", "\\)"), ("$$", "$$"), ("$", "$"))


def to_latex(text: str) -> str:
    """``text`` with Unicode symbols, HTML super/subscripts and display delimiters rewritten as LaTeX."""
    text = unwrap_display(text.strip())
    if "<" in text:
        text = _HTML.sub(lambda m: f"{'^' if m.group(1).lower() == 'sup' else '_'}{{{m.group(2)}}}", text)
    if "^" in text:
        text = _PAREN_EXPONENT.sub(r"^{(\1)}", text)
    if text.isascii():
        return text
    text = _SUPER_RUN.sub(lambda m: f"^{{{m.group(0).translate(_SUPERSCRIPTS)}}}", text)
    text = _SUB_RUN.sub(lambda m: f"_{{{m.group(0).translate(_SUBSCRIPTS)}}}", text)
    text = _VULGAR.sub(_vulgar_fraction, text)
    text = _ROOT_ARGUMENT.sub(lambda m: f"{_SYMBOLS[m.group(1)].strip()}{{{m.group(2)}}}", text)
    text = "".join(_SYMBOLS.get(ch, ch) for ch in text)
    # Fullwidth forms (３, ＝, （) and circled or parenthesised digits (①, ⑵) are compatibility characters.
    # NFKC writes vulgar fractions (½) with a fraction slash.
    return unicodedata.normalize("NFKC", text).replace("⁄", "/")


def _vulgar_fraction(match: re.Match[str]) -> str:
    """``2½`` -> ``2 \\frac{1}{2}``: a mixed number, as the grammar reads ``2 \\frac{1}{2}``."""
    value = Fraction(unicodedata.numeric(match.group(0))).limit_denominator(16)
    return f" \\frac{{{value.numerator}}}{{{value.denominator}}}"


def unwrap_display(text: str) -> str:
    """Drop one pair of math delimiters around the whole answer: ``\\[ x \\]``, ``$$x$$``, ``$x$``."""
    for opening, closing in _DISPLAY:
        if len(text) > len(opening) + len(closing) and text.startswith(opening) and text.endswith(closing):
            inner = text[len(opening):-len(closing)]
            if opening not in inner and closing not in inner:
                return inner.strip()
    return text
