"""Answer shape at the string level: normalise LaTeX, then split into sets, tuples, intervals and unions.

Shape is decided here, before sympy, because latex2sympy reads ``(1, 2)`` as an open interval and
``1, 2`` as a set; keeping brackets and order explicit is what makes ``{1,2}`` differ from ``(1,2)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import regex as re  # possessive quantifiers (*+) on every Python this supports; re has them from 3.11

from hero_service.verifier.verdict import VerifierPolicy

SeqKind = Literal["set", "bracket", "bare", "ratio", "both"]

# A JSON-escaped ``\\\\frac`` reaches us as two backslashes; only before known commands is that safe
# to undo (elsewhere ``\\\\`` is a matrix row break).
_DOUBLED = re.compile(
    r"\\\\(?=(?:[dt]?frac|sqrt|left|right|boxed|pi|begin|end|cdot|times|infty|leq?|geq?|neq?|text|mathrm"
    r"|in|cup|cap|pm|circ|approx|%)(?![a-zA-Z]))"
)
_SPACING = re.compile(r"(?<!\\)\\(?:[ ;:]|q?quad(?![a-zA-Z]))|~")
_SUBSCRIPT = re.compile(r"_\{[^{}]{0,20}\}|_[A-Za-z0-9]")
# ``11,\\! 111`` is a typeset thousands separator: the spacing command binds the groups.
_THIN = re.compile(r"(?<!\\)\\[,!]\s*")
_THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_SPACE_THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?$")
_BRACED_COMMA = re.compile(r"\s*\{\s*,\s*\}\s*")
_SIZING = re.compile(r"\\(?:left|right|displaystyle|[bB]igg?[lr]?)(?![a-zA-Z])")
# Possessive (*+): "\s*,?\s*" would otherwise backtrack cubically on a long run of spaces.
_AND = re.compile(r"\s*+,?\s*+(?:\\text\{\s*(?:and|or)\s*\}|\b(?:and|or)\b)\s*")
_AND_ONLY = re.compile(r"\s*+,?\s*+(?:\\text\{\s*and\s*\}|\band\b)\s*")
_INEQUALITY = re.compile(r"[<>]|\\(?:[lg]eq?|[lg]eqslant)(?![a-zA-Z])")
_MEMBER = re.compile(r"^[a-zA-Z]\s*\\in\s*")
_PLAIN_MIXED = re.compile(r"^(-?)(\d{1,9})\s+(\d{1,9})/(\d{1,9})$")
_RENAMES = (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\dbinom", "\\binom"), ("\\tbinom", "\\binom"),
            ("{,}", ","), ("!=", "\\ne "), ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\leqslant", "\\leq"),
            ("\\geqslant", "\\geq"), ("\\neq", "\\ne"), ("−", "-"), ("\\infin", "\\infty"),
            ("\\emptyset", "\\varnothing"), ("\\langle", "("), ("\\rangle", ")"))
# ``f^{-1}(x)`` names the inverse function (f, g, h: x^{-1}(x+1) stays a product); the grammar reads a
# call only on a plain (subscripted) name.
_INVERSE = re.compile(r"(?<![A-Za-z\\])([fghFGH])\^\{?\s*-1\s*\}?\s*(?=\()")
_SHORT_RELATIONS = re.compile(r"\\(le|ge)(?![a-zA-Z])")
_DEGREE_SIGN = r"(?:\^\s*\{?\s*\\circ\s*\}?|°|\^\s*\{?\s*\\degree\s*\}?|\\degree)"
_TRAILING_DEGREES = re.compile(rf"\s*{_DEGREE_SIGN}\s*$")
_DEGREES = re.compile(rf"(\d+(?:\.\d+)?)\s*{_DEGREE_SIGN}")
_TRIG = re.compile(r"\\(?:sin|cos|tan|sec|csc|cot)")
_TEXT_NUMBER = re.compile(r"^\\(?:text|mbox|textbf)\{\s*([-+]?\d[^{}]*)\}$")
_BASED = re.compile(r"^([0-9A-Za-z]{1,64})_\{?(\d{1,2})\}?$")
_REPEATING = re.compile(r"(-?)(\d*)\.(\d*)\\overline\{(\d{1,20})\}")
_SCIENTIFIC = re.compile(r"^(-?\d+(?:\.\d+)?)[eE]([+-]?\d{1,4})$")
_CURRENCY = re.compile(r"\\\$|\$")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_TRAILING_UNIT = re.compile(
    r"^(.*?[\d}])\s*((?:\\(?:text|textnormal|textbf|textrm|mbox|mathrm)\s*\{\s*[A-Za-z][A-Za-z .]*\}\s*)+"
    r"(?:\^\{?\d\}?)?)$"
)
_TRAILING_WORD = re.compile(r"^([-+]?[\d.,/]+)\s+([A-Za-z][A-Za-z. ]{0,30}(?:\^\{?[23]\}?)?)$")
_CHOICE = re.compile(r"^\(?([A-Ja-j])\)?$")
_LEADING_CHOICE = re.compile(r"^\(?([A-Ja-j])(?:\)|\.|:|$)")
_PAREN_CHOICE = re.compile(r"\(([A-J])\)")
_WORDS = re.compile(r"^[A-Za-z][A-Za-z .,'!?;-]*$")
# LaTeX takes one token as an unbraced argument: ``\frac12`` is 1/2 and ``\sqrt2x`` is sqrt(2)*x.
_BARE_ARGS = (
    (re.compile(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*([0-9a-zA-Z])\s*\{"), r"\\frac{\1}{"),
    (re.compile(r"\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])"), r"\\frac\1{\2}"),
    (re.compile(r"\\sqrt\s*(\[[^\[\]{}]{1,10}\])\s*([0-9a-zA-Z])"), r"\\sqrt\1{\2}"),  # \sqrt[3]8
    (re.compile(r"\\sqrt\s*([0-9a-zA-Z])"), r"\\sqrt{\1}"),
    (re.compile(r"\\sqrt\s*\(([^()]{1,40})\)"), r"\\sqrt{\1}"),  # 4\sqrt(2), a common slip
)
# ``1 \\ 2 \\ \end{pmatrix}``: a row break right before the end adds no (empty) row.
_TRAILING_ROW_BREAK = re.compile(r"(?:\\\\\s*)+(?=\\end\{[pbvBV]?matrix\})")
_OPEN = "([{"
_CLOSE = ")]}"


@dataclass(frozen=True, slots=True)
class Scalar:
    """One math value (number, expression, equation, inequality or matrix), still as LaTeX."""

    latex: str
    percent: bool = False


@dataclass(frozen=True, slots=True)
class Seq:
    """A collection: ``set`` is ``\\{...\\}``, ``bracket`` has ``(``/``[`` ends, ``bare`` is a plain comma
    list, ``ratio`` is ``a:b`` (also clock times) and ``both`` is conditions joined by "and" (all hold)."""

    kind: SeqKind
    items: tuple[Node, ...]
    opening: str = ""
    closing: str = ""


@dataclass(frozen=True, slots=True)
class Union:
    """``A \\cup B \\cup ...`` of intervals or sets. ``bound``: the set-builder ``\\{x \\mid cond\\}``,
    whose one part is the condition on a bound variable."""

    parts: tuple[Node, ...]
    bound: bool = False


Node = Scalar | Seq | Union


def normalize_with_unit(text: str, policy: VerifierPolicy) -> tuple[str, str | None]:
    """Value-preserving cleanup (spacing, synonyms, repeating decimals, thousands separators, units
    and currency when the policy allows), and the trailing unit dropped (``"cm"``) so that differing
    units can be told apart."""
    text = text.replace("\x00", "").strip().strip("$").strip()
    # First: undoing doubled backslashes would turn the row break plus ``\end`` into ``\\end``.
    text = _TRAILING_ROW_BREAK.sub("", text)
    text = _BRACED_COMMA.sub(",", _DOUBLED.sub(lambda _: "\\", text))
    text = _SIZING.sub("", _SPACING.sub(" ", _THIN.sub("", text)))
    for old, new in _RENAMES:
        text = text.replace(old, new)
    text = _SHORT_RELATIONS.sub(lambda m: f"\\{m.group(1)}q", text)
    text = _INVERSE.sub(r"\1_{inv}", text)
    for pattern, replacement in _BARE_ARGS:
        text = pattern.sub(replacement, text)
    if text.startswith("\\boxed{") and text.endswith("}"):
        text = text[len("\\boxed{") : -1]
    conditions = _AND_ONLY.split(text)
    if len(conditions) > 1 and all(_INEQUALITY.search(c) for c in conditions):
        # "x > -1 and x < 3" is the intersection of its conditions, not a list of answers.
        text = " \\& ".join(c.strip() for c in conditions)
    text = _MEMBER.sub("", _AND.sub(", ", text)).strip()
    text = _TEXT_NUMBER.sub(r"\1", text)
    text = _REPEATING.sub(_repeating_to_fraction, text)
    text = _SCIENTIFIC.sub(r"\1\\times 10^{\2}", text)
    if _THOUSANDS.match(text) or _SPACE_THOUSANDS.match(text):
        text = text.replace(",", "").replace(" ", "")
    mixed = _PLAIN_MIXED.match(text)
    if mixed:
        sign, whole, num, den = mixed.groups()
        text = f"{sign}\\frac{{{int(whole) * int(den) + int(num)}}}{{{den}}}"
    unit: str | None = None
    if policy.units:
        text = _CURRENCY.sub("", text)
        if _TRAILING_DEGREES.search(text) and not _TRIG.search(text):
            text, unit = _TRAILING_DEGREES.sub("", text), "degree"
        # A degree sign inside an expression (\sin 30^\circ) is a value: convert it to radians.
        text = _DEGREES.sub(r"(\1\\cdot\\frac{\\pi}{180})", text)
        found = _TRAILING_UNIT.match(text) or _TRAILING_WORD.match(text)
        if found:
            text, unit = found.group(1), _unit_name(found.group(2))
    return text.strip().rstrip(".").strip(), unit


def _unit_name(latex: str) -> str:
    words = re.sub(r"\\[a-zA-Z]+|[^A-Za-z ]", " ", latex).lower().split()
    name = " ".join(words)
    if name.endswith(("ches", "shes", "xes")):
        return name[:-2]
    return name[:-1] if name.endswith("s") and len(name) > 2 else name


def based_number(text: str) -> tuple[str, int] | None:
    """``1011_2`` -> ("1011", 2): digits and base of a number written with a base subscript."""
    match = _BASED.match(text.strip())
    if match is None:
        return None
    digits, base = match.group(1).upper().lstrip("0") or "0", int(match.group(2))
    valid = all(int(d, 36) < base for d in digits) if 2 <= base <= 36 else False
    return (digits, base) if valid else None


def _repeating_to_fraction(match: re.Match[str]) -> str:
    """``0.1\\overline{6}`` -> ``\\frac{1}{6}``: exact value of a repeating decimal."""
    sign, whole, fixed, period = match.groups()
    shift, repeat = 10 ** len(fixed), 10 ** len(period) - 1
    value = Fraction(int(whole or "0")) + Fraction(int(fixed or "0") * repeat + int(period), shift * repeat)
    return f"{sign}\\frac{{{value.numerator}}}{{{value.denominator}}}"


def plain_text(text: str) -> str | None:
    """The words of a text answer (``\\text{East}`` -> ``east``); None when it looks like math."""
    unwrapped = _TEXT_WRAP.sub(lambda m: m.group(1), text).strip()
    if "\\" in unwrapped or not _WORDS.match(unwrapped) or len(unwrapped.replace(" ", "")) < 2:
        return None
    return " ".join(re.sub(r"[.,'!?;]", " ", unwrapped.replace("-", "")).lower().split())


def choice_letter(text: str, *, leading: bool = False) -> str | None:
    """``B``, ``(B)``, ``\\text{(B)}``; with ``leading`` also ``(B) 12`` or ``B. 12``."""
    unwrapped = _TEXT_WRAP.sub(lambda m: m.group(1), text).strip()
    match = (_LEADING_CHOICE if leading else _CHOICE).match(unwrapped)
    return match.group(1).upper() if match else None


def choice_letters(text: str) -> set[str]:
    """Every choice letter an answer names: ``(B), (D)`` and ``B, D`` give two."""
    unwrapped = _TEXT_WRAP.sub(lambda m: m.group(1), text)
    letters = {m.upper() for m in _PAREN_CHOICE.findall(unwrapped)}
    letters |= {c.upper() for c in (choice_letter(p) for p in split_top(unwrapped, ",")) if c}
    return letters


def strip_name(text: str) -> str | None:
    """``(p,q) = (3,2)`` -> ``(3,2)`` when the left side only names the answer (letters, subscripts,
    ``f(x)``, ``|AB|``, ``\\frac{NO}{BO}``, ``V_1:V_2``); None when there is no such name."""
    sides = split_top(text, "=")
    if len(sides) != 2 or not sides[1]:
        return None
    name = _SUBSCRIPT.sub("", sides[0]).replace("\\frac", "")
    name = re.sub(r"[{}()|,:\s]", "", name)
    return sides[1] if name and name.isalpha() and name.isascii() else None


def split(text: str, *, top: bool = True) -> Node:
    """Parse the top-level shape of a normalised answer (``top``: not nested in a list, so a
    ``\\pm`` tuple may expand there without multiplying with other items)."""
    conditions = split_top(text, "\\&")
    if len(conditions) > 1:
        return Seq("both", tuple(_item(c) for c in conditions))
    parts = split_top(text, "\\cup")
    if len(parts) > 1:
        return Union(tuple(split(p, top=False) for p in parts))
    if text.startswith("\\{") and text.endswith("\\}") and _encloses(text, 2):
        inner = text[2:-2]
        builder = _BUILDER.match(inner)
        if builder is not None:
            return Union((split(builder.group(1).strip(), top=False),), bound=True)
        return Seq("set", _items([p for p in split_top(inner, ",") if p.strip() or inner.strip()]))
    if text.startswith("{") and text.endswith("}") and _encloses(text, 1) and len(split_top(text[1:-1], ",")) > 1:
        # ``{1,2}`` typed without backslashes still means a set.
        return Seq("set", _items(split_top(text[1:-1], ",")))
    if len(text) >= 2 and text[0] in "([" and text[-1] in ")]" and _encloses(text, 1):
        items = split_top(text[1:-1], ",")
        if len(items) == 1:
            items = split_top(text[1:-1], ";")  # (0;-2;6): semicolons as separators
        if len(items) > 1:
            tuples = _signed_variants(items) if top else [items]
            if len(tuples) > 1:  # (\pm 1, \pm 2) is the set of its four tuples
                return Seq("set", tuple(Seq("bracket", tuple(_item(p) for p in t), text[0], text[-1])
                                        for t in tuples))
            return Seq("bracket", tuple(_item(p) for p in items), text[0], text[-1])
    items = split_top(text, ",")
    if len(items) > 1:
        return Seq("bare", _items(items))
    if top and "=" in text and _PM.search(text):
        # "k = \\pm 1" names two values: the list "k = 1, k = -1".
        variants = _signed_variants([text])
        if len(variants) > 1:
            return Seq("bare", tuple(_scalar(v[0]) for v in variants))
    # Ratios and clock times (7:32, 4:30) compare part by part, in order.
    ratio = split_top(text.replace("\\colon", ":"), ":")
    if len(ratio) > 1:
        return Seq("ratio", tuple(_item(p) for p in ratio))
    return _scalar(text)


_ASSIGNED = re.compile(r"^([a-zA-Z](?:_\{?[0-9a-z]\}?)?)\s*=\s*([^=]+)$")
_CLOCK = re.compile(r"^(?:[01]?\d|2[0-4])$")


def assignments_as_tuple(node: Seq) -> Seq | None:
    """``x = 1, y = 2`` as the point ``(1, 2)``: a bare list of values given to distinct one-letter
    names, in the names' alphabetical order (x before y, a before b). None for anything else."""
    if node.kind != "bare" or not all(isinstance(i, Scalar) for i in node.items):
        return None
    named = [_ASSIGNED.match(i.latex) for i in node.items if isinstance(i, Scalar)]
    if not all(named) or len({m.group(1) for m in named if m}) != len(named):
        return None
    ordered = sorted((m.group(1), m.group(2).strip()) for m in named if m)
    return Seq("bracket", tuple(_scalar(value) for _, value in ordered), "(", ")")


def is_clock_time(node: Seq) -> bool:
    """``4:30``, ``12:05``: two integer parts, an hour and a two-digit minute; these never read as fractions."""
    if len(node.items) != 2 or not all(isinstance(i, Scalar) for i in node.items):
        return False
    hour, minute = (i.latex.strip() for i in node.items if isinstance(i, Scalar))
    return bool(_CLOCK.match(hour)) and len(minute) == 2 and minute.isdigit() and int(minute) < 60


# ``\\{x \\mid 0 \\le x < 5\\}``, ``\\{x : ...\\}``, ``\\{x \\in \\mathbb{R} | ...\\}``: one real variable and its
# condition.
_BUILDER = re.compile(r"^\s*[a-zA-Z]\s*(?:\\in\s*\\mathbb\s*\{?\s*R\s*\}?\s*)?(?:\\mid|\||:)(?!\|)(.+)$", re.DOTALL)
_PM = re.compile(r"\\(?:pm|mp)(?![a-zA-Z])")
MAX_SIGNS = 4
"""Most ``\\pm`` signs expanded in one list item or tuple (2^4 variants); more are left as written."""
MAX_EXPANDED = 48


def _items(parts: list[str]) -> tuple[Node, ...]:
    """List items, each ``\\pm`` item expanded into its two values (``\\pm 3, 0`` is ``3, -3, 0``)."""
    expanded: list[str] = []
    for part in parts:
        expanded.extend(variant[0] for variant in _signed_variants([part]))
    if len(expanded) > MAX_EXPANDED:
        expanded = parts
    return tuple(_item(p) for p in expanded)


def _signed_variants(parts: list[str]) -> list[list[str]]:
    """Every choice of sign for the ``\\pm`` in ``parts`` (each sign chosen independently); ``[parts]``
    when there is none, when ``\\mp`` ties signs together, or past MAX_SIGNS."""
    signs = sum(len(_PM.findall(p)) for p in parts)
    if signs == 0 or signs > MAX_SIGNS or any("\\mp" in p for p in parts):
        return [parts]
    variants = [parts]
    for _ in range(signs):
        nxt: list[list[str]] = []
        for variant in variants:
            index = next(i for i, p in enumerate(variant) if _PM.search(p))
            for sign in ("+", "-"):
                changed = list(variant)
                changed[index] = _PM.sub(sign, changed[index], count=1).strip().removeprefix("+").strip()
                nxt.append(changed)
        variants = nxt
    return variants


def _item(text: str) -> Node:
    text = text.strip()
    if ("," in text or ";" in text) and text[:1] in "([{" or text.startswith("\\{") or "\\cup" in text:
        return split(text, top=False)
    return _scalar(text)


def _scalar(text: str) -> Scalar:
    text = text.strip()
    for sign in ("\\%", "%"):
        if text.endswith(sign):
            return Scalar(text[: -len(sign)].strip(), percent=True)
    return Scalar(text)


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside any bracket, brace or ``\\begin..\\end`` environment."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("\\begin", i):
            depth += 1
        elif text.startswith("\\end", i):
            depth -= 1
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _encloses(text: str, width: int) -> bool:
    """Does the opening bracket (``width`` chars) close only at the very end?"""
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        step = 1
        if ch == "\\" and i + 1 < n and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            step = 2
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        i += step
        if depth == 0 and i < n:
            return False
    return depth == 0 and width > 0
