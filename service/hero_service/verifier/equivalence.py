"""Is an extracted answer equivalent to the reference? Pure functions, gold first (not symmetric).

Order of checks: exact literal fast path, text and multiple-choice answers, then shape (sets,
tuples, intervals, unions) and finally values through sympy. Numbers are compared exactly when both
are rational and otherwise by a *relative* difference at 50 significant digits, which is what keeps
``1/2^98`` apart from ``1/2^99`` (math-verify's absolute rounding merges them).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TypeVar

import sympy

from hero_service.verifier.exact import exact_rational
from hero_service.verifier.extract import reference_answer
from hero_service.verifier.literal import (
    NumberLiteral,
    approximates,
    cosmetic,
    fast_verdict,
    parse_literal,
    rounds_to,
)
from hero_service.verifier.notation import to_latex
from hero_service.verifier.parse import MAX_DIGITS, UnparsableError, screen_text, to_sympy
from hero_service.verifier.qualifiers import negated, strip_qualifiers
from hero_service.verifier.structure import (
    Node,
    Scalar,
    Seq,
    Union,
    assignments_as_tuple,
    based_number,
    choice_letter,
    choice_letters,
    is_clock_time,
    normalize_with_unit,
    plain_text,
    split,
    split_top,
    strip_name,
)
from hero_service.verifier.verdict import VerifierPolicy
from hero_service.verifier.wording import text_key

_T = TypeVar("_T")
_PRECISION = 50
_REL_TOL = sympy.Float("1e-30", _PRECISION)
_SPOT_POINTS = 4
_VANISHED_BITS = 8
_MAX_CANCELLATION = 5000
"""Most digits evalf may use to resolve a cancellation in ``_vanishes``."""
_NOISE = sympy.Float("1e-40", _PRECISION)
"""Below this a 50-digit value may be rounding noise of a cancellation (see ``_settle_zero``)."""
_MAX_ITEMS = 48
_RELATIONS = (sympy.Equality, sympy.And, sympy.Unequality, sympy.StrictGreaterThan, sympy.StrictLessThan,
              sympy.GreaterThan, sympy.LessThan)


def equivalent(reference: str, answer: str, policy: VerifierPolicy) -> bool:
    """True iff ``answer`` is an acceptable form of ``reference``; raises UnparsableError when unsure how to read."""
    reference = reference_answer(reference)
    fast = fast_verdict(reference, answer, policy)
    if fast is not None:
        return fast
    reference, answer = to_latex(reference), to_latex(answer)
    screen_text(reference, policy.max_answer_chars)
    screen_text(answer, policy.max_answer_chars)
    qualified_ref, qualified_ans = strip_qualifiers(reference), strip_qualifiers(answer)
    reference, answer = qualified_ref.text, qualified_ans.text
    parameters = qualified_ref.parameters | qualified_ans.parameters
    if qualified_ref.quantifier and qualified_ans.quantifier and qualified_ref.quantifier != qualified_ans.quantifier:
        return False  # "for every real x" is not "for some real x"
    if qualified_ref.labels or qualified_ans.labels:
        # "largest: 9, smallest: 2": the labels order the values, so the list compares in order,
        # and two labelled answers must use the same labels in the same order.
        if qualified_ref.labels and qualified_ans.labels and qualified_ref.labels != qualified_ans.labels:
            return False
        policy = replace(policy, bare_list="ordered")
    if negated(answer) != negated(reference):
        return False  # "x = 0 for no real x" is not "x = 0 for every real x", whatever the math reads
    based = _compare_based(reference, answer)
    if based is not None:
        return based
    ref, ref_unit = normalize_with_unit(reference, policy)
    ans, ans_unit = normalize_with_unit(answer, policy)
    if ref_unit and ans_unit and ref_unit != ans_unit:
        return False
    # 60 degrees answers pi/3: a degree sign on one side only, and pi on the other.
    if (ref_unit == "degree") != (ans_unit == "degree") and "\\pi" in (ans if ref_unit == "degree" else ref):
        if ref_unit == "degree":
            ref = f"({ref})\\cdot\\frac{{\\pi}}{{180}}"
        else:
            ans = f"({ans})\\cdot\\frac{{\\pi}}{{180}}"
    ref, ans = _final_value(ref, computation=True), _final_value(ans, computation=True)
    if not ref:
        raise UnparsableError("empty reference")
    if not ans:
        raise UnparsableError("empty answer")
    if ref == ans:
        return True
    letter = choice_letter(ref)
    if letter is not None:
        given = choice_letter(ans, leading=True)
        if given is not None:
            # "(B) or (D)" hedges: a second choice letter makes the answer wrong whatever the first is.
            return given == letter and len(choice_letters(ans)) == 1
    words = plain_text(ref)
    # "ab" may be a product: a single short token is text only when the answer is text too.
    if words is not None and not (_SHORT_TOKEN.fullmatch(words) and plain_text(ans) is None):
        given = plain_text(ans)
        return given is not None and (given == words or text_key(given) == text_key(words))
    if policy.assignment:
        ref, ans = _unname(ref, ans), _unname(ans, ref)
    fast = fast_verdict(ref, ans, policy)
    if fast is not None:
        return fast
    return _Comparer(policy, parse_literal(ref), parameters=parameters).compare(split(ref), split(ans))


@dataclass(frozen=True, slots=True)
class _Tuple:
    """An ordered, bracketed collection; ``(a, b)`` may also be read as an interval."""

    items: tuple[object, ...]
    opening: str
    closing: str

    def interval(self) -> sympy.Set | None:
        if len(self.items) != 2 or self.opening not in "([" or self.closing not in ")]" or not self.opening:
            return None
        lo, hi = self.items
        try:
            result = sympy.Interval(lo, hi, self.opening == "(", self.closing == ")")
        except (TypeError, ValueError):
            return None
        return result if isinstance(result, sympy.Interval) else None


def _compare_based(reference: str, answer: str) -> bool | None:
    """Base-n answers compare by digits and base; a missing subscript on one side is allowed."""
    ref, ans = based_number(cosmetic(reference)), based_number(cosmetic(answer))
    if ref is None and ans is None:
        return None
    if ref is not None and ans is not None:
        return ref == ans
    known = ref if ref is not None else ans
    other = cosmetic(answer if ref is not None else reference).upper().lstrip("0") or "0"
    assert known is not None
    return other == known[0] if other.isalnum() else None


def _unname(text: str, other: str) -> str:
    """Drop a naming left side (``(p,q) = ``) when the other answer is a bare value."""
    if len(split_top(other, "=")) > 1:
        return text
    value = strip_name(text)
    return value if value is not None else text


_NUMERIC_COMMANDS = re.compile(r"\\(?:[dt]?frac|[dt]?binom|sqrt|cdot|times|div|left|right)(?![a-zA-Z])")
_LETTER = re.compile(r"[A-Za-z]")
# What a closed computation's left side may name besides numbers: functions and operators, the constants
# pi, e and i, a determinant, and the variable a limit, sum or product binds (``\lim_{x \to 0}``).
_CLOSED_COMMANDS = re.compile(
    r"\\(?:[dt]?frac|[dt]?binom|sqrt|cdot|times|div|left|right|sin|cos|tan|sec|csc|cot|arcsin|arccos|arctan"
    r"|sinh|cosh|tanh|log|ln|lg|exp|lim|sum|prod|bmod|pmod|mod|gcd|det|pi|to|rightarrow|infty|lfloor|rfloor"
    r"|lceil|rceil|[,;!]|quad)(?![a-zA-Z])|\\operatorname\s*\{(?:lcm|gcd)\}|\\(?:begin|end)\s*\{vmatrix\}"
)
_BOUND_VARIABLE = re.compile(r"\\(?:lim|sum|prod)\s*_\s*\{?\s*([a-zA-Z])\s*(?:\\to|\\rightarrow|=)")
_CONSTANT_LETTER = re.compile(r"(?<![A-Za-z\\])[ei](?![A-Za-z])")


def _closed(expression: str) -> bool:
    """No free variable: ``e^{i\\pi}``, ``\\log_2 8``, ``17 \\bmod 5``, ``\\sum_{k=1}^{10} k``; not ``2x``."""
    bound = "".join(sorted(set(_BOUND_VARIABLE.findall(expression))))
    text = _CONSTANT_LETTER.sub(" ", _CLOSED_COMMANDS.sub(" ", expression))
    if bound:
        text = re.sub(rf"(?<![A-Za-z])[{bound}](?![A-Za-z])", " ", text)
    return not _LETTER.search(text)


_SHORT_TOKEN = re.compile(r"[a-z]{2,3}")
_PRIME = re.compile(r"'|\\prime(?![a-zA-Z])")


def _final_value(answer: str, *, computation: bool) -> str:
    """A worked chain ``x = 5+6 = 11`` answers its last link and ``1/3 \\approx 0.33`` its exact part;
    an answer (``computation``) written as ``2+3 = 5`` answers its right side."""
    approx = split_top(answer, "\\approx")
    # "x \approx 11" answers 11; "1/3 \approx 0.33" answers its exact part.
    answer = approx[-1] if len(approx) > 1 and strip_name(approx[0] + "=1") is not None else approx[0]
    if len(split_top(answer, ",")) > 1:
        return answer
    links = split_top(answer, "=")
    if len(links) > 2:
        return links[-1]
    # "2+3 = 5", "\\binom{6}{3} = 20", "\\log_2 8 = 3": a left side with no free variable and a value on the
    # right are a computation and its value; "1 = x", "2x = 5" or "7 = 11a+c" stay equations.
    if (computation and len(links) == 2 and links[1] and _closed(links[0])
            and not _LETTER.search(_NUMERIC_COMMANDS.sub("", links[1]).replace("\\pi", ""))):
        return links[1]
    return answer


class _Comparer:
    """One gold-vs-answer comparison; holds the policy and the gold's written form."""

    def __init__(self, policy: VerifierPolicy, reference_literal: NumberLiteral | None, *,
                 parameters: frozenset[str] = frozenset()) -> None:
        self.policy = policy
        self.parameters = parameters
        """Letters a qualifier (``k \\in \\mathbb{Z}``) declared integer parameters, free to be renamed."""
        self.ref_decimals = reference_literal.decimals if reference_literal is not None else None
        self.ref_value = reference_literal.value if reference_literal is not None else None
        self.pred_decimals: int | None = None
        """Decimals written in the answer being compared, when it is a lone decimal number."""

    # --- shapes ---------------------------------------------------------------------------------

    def compare(self, gold: Node, pred: Node) -> bool:
        """``nodes``, after one check on the whole answer: conditions on a renamed free variable
        (``1 < 2y \\le 3`` for ``1 < 2x \\le 3``) describe another set, though sympy solves both to the
        same interval."""
        g_names, p_names = _condition_names(gold), _condition_names(pred)
        if g_names and p_names and g_names != p_names:
            return False
        return self.nodes(gold, pred)

    def nodes(self, gold: Node, pred: Node) -> bool:
        if isinstance(gold, Scalar) and isinstance(pred, Scalar):
            return self.scalars(gold, pred)
        if isinstance(gold, Seq) and isinstance(pred, Seq) and "both" not in (gold.kind, pred.kind):
            if self._is_ratio(gold) and self._is_ratio(pred):
                return self.ratios(gold, pred)
            point = _point_pair(gold, pred)
            if point is not None:
                return self.seqs(*point)
            return self.seqs(gold, pred)
        if isinstance(gold, Union) and isinstance(pred, Union) and not (gold.bound or pred.bound):
            return _matching(gold.parts, pred.parts, self.nodes)
        # Mixed shapes: a vector vs a tuple, an inequality vs an interval, ``\pm`` vs a list.
        return self.mixed(gold, pred)

    def seqs(self, gold: Seq, pred: Seq) -> bool:
        unordered = {"set"} | ({"bare"} if self.policy.bare_list == "set" else set())
        if gold.kind in unordered and pred.kind in unordered:
            return _matching(gold.items, pred.items, self.nodes)
        if len(gold.items) != len(pred.items) or len(gold.items) > _MAX_ITEMS:
            return False
        if gold.kind != pred.kind or (gold.opening, gold.closing) != (pred.opening, pred.closing):
            return False
        return all(self.nodes(g, p) for g, p in zip(gold.items, pred.items, strict=True))

    def _is_ratio(self, node: Node) -> bool:
        """A ratio read as a fraction: policy ``ratio="fraction"``, and not a clock time."""
        return (isinstance(node, Seq) and node.kind == "ratio" and self.policy.ratio == "fraction"
                and not is_clock_time(node))

    def ratios(self, gold: Seq, pred: Seq) -> bool:
        """``2:4`` is ``1:2``: the same number of parts, proportional by one positive factor."""
        if len(gold.items) != len(pred.items) or len(gold.items) > _MAX_ITEMS:
            return False
        g_parts, p_parts = [self.value_of(i) for i in gold.items], [self.value_of(i) for i in pred.items]
        if not all(isinstance(v, sympy.Expr) for v in g_parts + p_parts):
            return self.seqs(gold, pred)
        g0, p0 = g_parts[0], p_parts[0]
        assert isinstance(g0, sympy.Expr) and isinstance(p0, sympy.Expr)
        return all(self.exprs(g * p0, p * g0) for g, p in zip(g_parts[1:], p_parts[1:], strict=True)) and (
            self.exprs(g0 / g_parts[1], p0 / p_parts[1]) if g_parts[1] != 0 and p_parts[1] != 0 else False)

    def mixed(self, gold: Node, pred: Node) -> bool:
        gold_value, pred_value = self.value_of(gold), self.value_of(pred)
        if gold_value is None or pred_value is None:
            return False
        return self.values(gold_value, pred_value)

    def value_of(self, node: Node) -> object:
        """A sympy value, a sympy set (intervals, unions, ``\\{\\}``) or an ordered ``_Tuple``."""
        if isinstance(node, Scalar):
            return self.sympy_of(node)
        if self._is_ratio(node) and len(node.items) == 2:  # type: ignore[union-attr]
            top, bottom = (self.value_of(i) for i in node.items)  # type: ignore[union-attr]
            if isinstance(top, sympy.Expr) and isinstance(bottom, sympy.Expr) and bottom != 0:
                return top / bottom
            return None
        if isinstance(node, Union):
            parts = [self.as_set(self.value_of(p)) for p in node.parts]
            return None if any(p is None for p in parts) else sympy.Union(*parts)
        items = [self.value_of(i) for i in node.items]
        if any(i is None for i in items):
            return None
        if node.kind == "both":
            # "x > -1 and x < 3": every condition holds, the intersection of their sets.
            sets = [self.as_set(i) for i in items]
            return None if any(s is None for s in sets) else sympy.Intersection(*sets)
        if node.kind == "bare" and all(_is_relation(i) for i in items):
            # "x < -2 or x > 3": a list of conditions on one variable is the union of their sets.
            parts = [self.as_set(i) for i in items]
            return None if any(p is None for p in parts) else sympy.Union(*parts)
        if node.kind == "set" or (node.kind == "bare" and self.policy.bare_list == "set"):
            if not all(isinstance(i, sympy.Basic) for i in items):
                return None
            return sympy.FiniteSet(*items)
        return _Tuple(tuple(items), node.opening, node.closing)

    def sympy_of(self, node: Scalar) -> sympy.Basic:
        value = to_sympy(node.latex)
        return value * sympy.Rational(1, 100) if node.percent and self.policy.percent == "fraction" else value

    # --- scalars --------------------------------------------------------------------------------

    def scalars(self, gold: Scalar, pred: Scalar) -> bool:
        if self.policy.assignment:
            gold = Scalar(_unname(gold.latex, pred.latex), gold.percent)
            pred = Scalar(_unname(pred.latex, gold.latex), pred.percent)
        if len(_PRIME.findall(gold.latex)) != len(_PRIME.findall(pred.latex)):
            return False  # E' is another point than E; f'' another function than f' (the parser drops primes)
        g, p = to_sympy(gold.latex), to_sympy(pred.latex)
        if gold.percent == pred.percent:
            return self.values(g, p)
        scales = {"fraction": [sympy.Rational(1, 100)], "number": [sympy.S.One],
                  "either": [sympy.S.One, sympy.Rational(1, 100)]}[self.policy.percent]
        if gold.percent:
            return any(self.values(g * s, p) for s in scales)
        return any(self.values(g, p * s) for s in scales)

    def values(self, g: object, p: object) -> bool:
        if isinstance(g, _Tuple) or isinstance(p, _Tuple):
            return self.tuple_like(g, p)
        if isinstance(g, sympy.MatrixBase) and isinstance(p, sympy.MatrixBase):
            return g.shape == p.shape and all(self.exprs(a, b) for a, b in zip(g, p, strict=True))
        if not (isinstance(g, sympy.Basic) and isinstance(p, sympy.Basic)):
            return False
        if isinstance(g, sympy.Set) or isinstance(p, sympy.Set):
            return self.sets(g, p)
        g_rel, p_rel = _is_relation(g), _is_relation(p)
        if g_rel or p_rel:
            return self.relations(g, p)
        return self.exprs(g, p)

    def tuple_like(self, g: object, p: object) -> bool:
        """Tuples compare in order; a vector counts as a tuple, and ``(a, b)`` as an interval next to a set."""
        if isinstance(g, _Tuple) and isinstance(p, _Tuple):
            if (g.opening, g.closing) != (p.opening, p.closing) or len(g.items) != len(p.items):
                return False
            return all(self.values(a, b) for a, b in zip(g.items, p.items, strict=True))
        tup, other = (g, p) if isinstance(g, _Tuple) else (p, g)
        assert isinstance(tup, _Tuple)
        if isinstance(other, sympy.MatrixBase):
            if not self.policy.vector_tuple or 1 not in other.shape or len(other) != len(tup.items):
                return False
            pairs = zip(tup.items, other, strict=True)
            return all(self.values(a, b) if tup is g else self.values(b, a) for a, b in pairs)
        if isinstance(other, sympy.Basic) and (isinstance(other, sympy.Set) or _is_relation(other)):
            interval = tup.interval()
            if interval is None:
                return False
            return self.sets(interval, other) if tup is g else self.sets(other, interval)
        return False

    def sets(self, g: sympy.Basic, p: sympy.Basic) -> bool:
        g_set, p_set = self.as_set(g), self.as_set(p)
        if g_set is None or p_set is None:
            return False
        if isinstance(g_set, sympy.FiniteSet) and isinstance(p_set, sympy.FiniteSet):
            return _matching(list(g_set.args), list(p_set.args), self.values)
        g_parts, p_parts = _intervals(g_set), _intervals(p_set)
        if g_parts is None or p_parts is None:
            return False
        return _matching(g_parts, p_parts, self.interval)

    def as_set(self, value: object) -> sympy.Set | None:
        if isinstance(value, sympy.Complement | sympy.Intersection):
            # \\mathbb{R} \\setminus \\{1\\} arrives unevaluated; as intervals it compares part by part.
            value = type(value)(*value.args)
        if isinstance(value, sympy.Set):
            return value
        if isinstance(value, _Tuple):
            return value.interval()
        if not (self.policy.interval_inequality and isinstance(value, sympy.Basic) and _is_relation(value)):
            return None
        # "2x + y <= 4 + y" is a condition on x alone once both sides are brought to one.
        relation: sympy.Basic = _one_sided(value)
        # "0 < f(x) < 1" describes a range: read the one function value as the variable.
        calls = relation.atoms(sympy.core.function.AppliedUndef)
        if len(calls) == 1:
            relation = relation.xreplace({calls.pop(): sympy.Dummy("v")})
        if len(relation.free_symbols) == 1:
            try:
                result = relation.as_set()
            except Exception:  # sympy raises many types for relations it cannot solve
                return None
            return result if isinstance(result, sympy.Set) else None
        return None

    def interval(self, a: sympy.Basic, b: sympy.Basic) -> bool:
        if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
            return (a.left_open, a.right_open) == (b.left_open, b.right_open) and self.exprs(
                a.start, b.start) and self.exprs(a.end, b.end)
        return isinstance(a, sympy.FiniteSet) and isinstance(b, sympy.FiniteSet) and _matching(
            list(a.args), list(b.args), self.values)

    def relations(self, g: sympy.Basic, p: sympy.Basic) -> bool:
        if isinstance(g, sympy.Equality) and isinstance(p, sympy.Equality):
            return self.equations(g, p)
        if isinstance(g, sympy.Unequality) or isinstance(p, sympy.Unequality):
            return (isinstance(g, sympy.Unequality) and isinstance(p, sympy.Unequality)
                    and self.proportional(g.lhs - g.rhs, p.lhs - p.rhs, positive=False))
        if isinstance(g, sympy.Equality) or isinstance(p, sympy.Equality):
            if not self.policy.assignment:
                return False
            eq, other = (g, p) if isinstance(g, sympy.Equality) else (p, g)
            value = _assigned_value(eq)
            if value is None or _is_relation(other):
                return False
            return self.exprs(value, other) if eq is g else self.exprs(other, value)
        g_parts, p_parts = _inequalities(g), _inequalities(p)
        if g_parts is not None and p_parts is not None and _matching(g_parts, p_parts, self.inequality):
            return True
        if g_parts is not None and p_parts is not None:
            return self.sets(g, p)
        return False

    def equations(self, g: sympy.Equality, p: sympy.Equality) -> bool:
        g_value, p_value = _assigned_value(g), _assigned_value(p)
        if g_value is not None and p_value is not None:
            g_name, p_name = _assigned_symbol(g), _assigned_symbol(p)
            if g_name == p_name or _same_function(g_name, p_name, g_value):
                return self.exprs(g_value, p_value)
            renamed = _bound_arguments(g_name, p_name, p_value)
            if renamed is not None:
                return self.exprs(g_value, renamed)
        return self.proportional(g.lhs - g.rhs, p.lhs - p.rhs, positive=False)

    def inequality(self, g: tuple[sympy.Expr, bool], p: tuple[sympy.Expr, bool]) -> bool:
        return g[1] == p[1] and self.proportional(g[0], p[0], positive=True)

    # --- expressions ----------------------------------------------------------------------------

    def exprs(self, a: sympy.Basic, b: sympy.Basic) -> bool:
        if isinstance(a, sympy.Set | sympy.MatrixBase) or isinstance(b, sympy.Set | sympy.MatrixBase):
            return self.values(a, b)
        if _is_relation(a) or _is_relation(b):
            return self.relations(a, b)
        approximate = b.has(sympy.Float)
        self.pred_decimals = _written_decimals(b) if isinstance(b, sympy.Float) else None
        a, b = _exact(a), _exact(b)
        if a == b:
            return True
        b = self._renamed_parameter(a, b)
        if not _names(a) and not _names(b):
            return self.numbers(a, b, approximate=approximate)
        # Symbols present on one side only are allowed: sin^2 x + cos^2 x is the constant 1.
        return self.spot_check(a, b)

    def _renamed_parameter(self, gold: sympy.Basic, pred: sympy.Basic) -> sympy.Basic:
        """``\\frac{\\pi}{2}+m\\pi`` for ``\\frac{\\pi}{2}+k\\pi``: one integer parameter, named differently.
        A parameter is a letter a qualifier declared an integer (``k \\in \\mathbb{Z}``), or k, m, n
        next to pi in both answers (a periodic family); any other renamed letter is a free variable."""
        only_gold = [s for s in gold.free_symbols - pred.free_symbols if isinstance(s, sympy.Symbol)]
        only_pred = [s for s in pred.free_symbols - gold.free_symbols if isinstance(s, sympy.Symbol)]
        if len(only_gold) != 1 or len(only_pred) != 1:
            return pred
        periodic = gold.has(sympy.pi) and pred.has(sympy.pi) and {only_gold[0].name, only_pred[0].name} <= set("kmn")
        declared = only_gold[0].name in self.parameters or only_pred[0].name in self.parameters
        if not (declared or periodic):
            return pred
        return pred.xreplace({only_pred[0]: only_gold[0]})

    def numbers(self, a: sympy.Basic, b: sympy.Basic, *, approximate: bool) -> bool:
        """``approximate``: the answer was written with decimals, so it may not claim a rounded gold."""
        exact_a, exact_b = exact_rational(a), exact_rational(b)
        if exact_a is not None and exact_b is not None:
            # 3^{80}+1 vs 3^{80}: exact sides never meet a float tolerance.
            a, b = sympy.Rational(exact_a.numerator, exact_a.denominator), sympy.Rational(
                exact_b.numerator, exact_b.denominator)
        if a.is_Rational and b.is_Rational:
            if a == b:
                return True
            return self._approximates(a, a, b) if approximate else self._rounded_gold(b)
        va, vb = _evaluate(a), _evaluate(b)
        if va is None or vb is None:
            return bool(a.equals(b))
        digits = _magnitude(va, vb)
        if digits > _PRECISION // 2:
            # e^{100}+1 vs e^{100}: enough digits to see the units place, then an absolute tolerance.
            va, vb = _evaluate(a, _PRECISION + digits), _evaluate(b, _PRECISION + digits)
            if va is None or vb is None:
                return False
        if _close(va, vb, absolute=True):
            # Both exact: \\sqrt{2}+10^{-40} is not \\sqrt{2}. evalf resolves the cancellation in a - b.
            return approximate or _vanishes(sympy.Add(a, -b, evaluate=False), digits)
        if approximate:
            return self._approximates(a, va, b)
        return self._rounded_gold(b, vb)

    def _approximates(self, gold: sympy.Basic, gold_value: sympy.Basic, pred: sympy.Basic) -> bool:
        """Policy ``approximate_digits`` (see ``literal.approximates``) for a symbolic gold."""
        if self.pred_decimals is None or not pred.is_Rational or not gold_value.is_real:
            return False
        if (gold.is_Rational or _rational_value(gold_value)) and not self.policy.approximate_rationals:
            return False  # log_2 8 is the rational 3: 3.0000001 is a near miss, not a rounding of it
        written = NumberLiteral(Fraction(int(pred.p), int(pred.q)), self.pred_decimals)
        gold_fraction = Fraction(int(gold.p), int(gold.q)) if gold.is_Rational else Fraction(str(gold_value))
        return approximates(written, gold_fraction, exact_gold=bool(gold.is_Rational),
                            min_digits=self.policy.approximate_digits)

    def _rounded_gold(self, pred: sympy.Basic, value: sympy.Basic | None = None) -> bool:
        """``rounded_reference``: gold ``3.14`` accepts ``\\pi``; never the reverse."""
        if not (self.policy.rounded_reference and self.ref_decimals and self.ref_value is not None):
            return False
        value = value if value is not None else _evaluate(pred)
        if value is None or not value.is_real:
            return False
        if (pred.is_Rational or _rational_value(value)) and not self.policy.approximate_rationals:
            return False  # a rounded gold (0.33) stands for an irrational (pi), a fraction only by policy
        exact = Fraction(int(pred.p), int(pred.q)) if pred.is_Rational else Fraction(str(value))
        return rounds_to(exact, NumberLiteral(self.ref_value, self.ref_decimals), value_is_exact=bool(pred.is_Rational))

    def spot_check(self, a: sympy.Basic, b: sympy.Basic) -> bool:
        """Equal at random points (60-digit floats), else fall back to simplify. Positive points
        decide; negative points count only where both sides are real there, so |x| differs from x
        while sqrt(1/n) still equals 1/sqrt(n); where both are complex they must agree up to conjugation."""
        symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
        rng = random.Random(len(symbols))
        agreed = 0
        logs = a.has(sympy.log) or b.has(sympy.log)
        for attempt in range(_SPOT_POINTS * 3):
            negative = attempt % 3 == 2
            point = _random_point(symbols, rng, negative=negative)
            va, vb = _evaluate_at(a, point), _evaluate_at(b, point)
            if va is None or vb is None:
                continue
            va, vb = _settle_zero(a, va, point), _settle_zero(b, vb, point)
            if logs and not (va.is_real or vb.is_real):
                continue  # a log off its real domain: the branches of the two forms may differ by 2*pi*i*k
            if negative and not (va.is_real and vb.is_real):
                # Log rules (log(x^y) = y log x) shift the branch by 2*pi*i*k/ln(base): not compared.
                if not (va.is_real or vb.is_real or logs) and not _same_up_to_branch(va, vb):
                    return False
                continue
            if not _close(va, vb):
                return False
            agreed += 1
            if agreed >= _SPOT_POINTS:
                # The tolerance would let x^2-1 pass for (x-1)(x+1)+10^{-40}: at one exact point the
                # difference must vanish too.
                # The last agreeing point, as the exact rationals its floats were made from.
                exact = {s: sympy.Rational(str(v)).limit_denominator(100) for s, v in point.items()}
                try:
                    difference = sympy.Add(a, -b, evaluate=False).xreplace(exact)
                except (TypeError, ValueError, ArithmeticError):
                    return True
                return _evaluate(difference) is None or _vanishes(difference, _magnitude(va, vb))
        return bool(sympy.simplify(a - b) == 0)

    def proportional(self, d1: sympy.Basic, d2: sympy.Basic, *, positive: bool) -> bool:
        """``d1 = c * d2`` for one nonzero constant c (c > 0 when ``positive``): same equation/inequality."""
        d1, d2 = _exact(d1), _exact(d2)
        if _names(d1) != _names(d2) or not _names(d1):
            return False
        symbols = sorted(d1.free_symbols | d2.free_symbols, key=lambda s: s.name)
        rng = random.Random(len(symbols) + 1)
        ratio: sympy.Basic | None = None
        agreed = 0
        for _ in range(_SPOT_POINTS * 2):
            point = _random_point(symbols, rng)
            v1, v2 = _evaluate_at(d1, point), _evaluate_at(d2, point)
            if v1 is None or v2 is None or v2 == 0 or v1 == 0:
                continue
            current = v1 / v2
            if ratio is None:
                ratio = current
                if positive and not (current.is_real and current > 0):
                    return False
            elif not _close(ratio, current):
                return False
            agreed += 1
            if agreed >= _SPOT_POINTS:
                return True
        return False


_CONDITIONS = (sympy.And, sympy.Or, sympy.Unequality, sympy.StrictGreaterThan, sympy.StrictLessThan,
               sympy.GreaterThan, sympy.LessThan)


_CONDITION_SIGN = re.compile(r"[<>]|\\(?:[lg]eq?|ne|neq)(?![a-zA-Z])")


def _condition_names(node: Node) -> frozenset[str]:
    """Variable names of the inequalities in an answer (an unreadable part contributes none)."""
    if isinstance(node, Scalar):
        if not _CONDITION_SIGN.search(node.latex):
            return frozenset()  # no inequality sign: nothing to parse here
        try:
            value = to_sympy(node.latex)
        except UnparsableError:
            return frozenset()
        return _names(_one_sided(value)) if isinstance(value, _CONDITIONS) else frozenset()
    if isinstance(node, Union) and node.bound:
        return frozenset()  # the variable of a set-builder is bound
    parts = node.parts if isinstance(node, Union) else node.items
    return frozenset().union(*(_condition_names(p) for p in parts))


def _point_pair(gold: Seq, pred: Seq) -> tuple[Seq, Seq] | None:
    """A point against ``x = 1, y = 2``: both as tuples (see ``assignments_as_tuple``)."""
    for tup, other in ((gold, pred), (pred, gold)):
        if tup.kind == "bracket" and (tup.opening, tup.closing) == ("(", ")"):
            named = assignments_as_tuple(other)
            if named is not None and len(named.items) == len(tup.items):
                return (gold, named) if tup is gold else (named, pred)
    return None


def _one_sided(relation: sympy.Basic) -> sympy.Basic:
    """``a <= b`` as ``a - b <= 0`` (through And/Or), so that a symbol on both sides cancels."""
    if isinstance(relation, sympy.And | sympy.Or):
        return relation.func(*(_one_sided(a) for a in relation.args))
    if isinstance(relation, sympy.core.relational.Relational) and relation.rhs != 0:
        try:
            return relation.func(relation.lhs - relation.rhs, 0)
        except (TypeError, ValueError):
            return relation
    return relation


def _matching(golds: Sequence[_T], preds: Sequence[_T], same: Callable[[_T, _T], bool]) -> bool:
    """Unordered equality as sets: a one-to-one greedy match (equality is transitive), or, when
    the sizes differ because of repeats, every element of each side found in the other."""
    if len(golds) > _MAX_ITEMS or len(preds) > _MAX_ITEMS:
        return False
    if len(golds) == len(preds):
        left = list(preds)
        for g in golds:
            for i, p in enumerate(left):
                if same(g, p):
                    del left[i]
                    break
            else:
                return False
        return True
    return all(any(same(g, p) for p in preds) for g in golds) and all(
        any(same(g, p) for g in golds) for p in preds)


def _random_point(symbols: Sequence[sympy.Symbol], rng: random.Random, *, negative: bool = False
                  ) -> dict[sympy.Symbol, sympy.Float]:
    """Non-integer values as 60-digit floats (exact rationals could grow without bound)."""
    sign = -1 if negative else 1
    return {s: sympy.Float(sign * sympy.Rational(rng.randint(11, 97), rng.randint(7, 23)), _PRECISION + 10)
            for s in symbols}


def _written_decimals(value: sympy.Float) -> int | None:
    """Decimals as written: sympy keeps every digit of a literal, and prints trailing zeros we drop."""
    text = str(value)
    if "e" in text or "." not in text:
        return None
    return len(text.split(".", 1)[1].rstrip("0"))


def _is_relation(value: object) -> bool:
    return isinstance(value, _RELATIONS)


def _inequalities(value: sympy.Basic) -> list[tuple[sympy.Expr, bool]] | None:
    """``a < b`` -> ``(b - a, strict)`` so that every part reads "expr > 0" or "expr >= 0"."""
    parts = value.args if isinstance(value, sympy.And) else (value,)
    out: list[tuple[sympy.Expr, bool]] = []
    for part in parts:
        if isinstance(part, sympy.StrictGreaterThan | sympy.GreaterThan):
            out.append((part.lhs - part.rhs, isinstance(part, sympy.StrictGreaterThan)))
        elif isinstance(part, sympy.StrictLessThan | sympy.LessThan):
            out.append((part.rhs - part.lhs, isinstance(part, sympy.StrictLessThan)))
        else:
            return None
    return out


def _assigned_symbol(eq: sympy.Equality) -> sympy.Basic | None:
    for side, other in ((eq.lhs, eq.rhs), (eq.rhs, eq.lhs)):
        if (side.is_Symbol or isinstance(side, sympy.core.function.AppliedUndef)) and not other.has(side):
            return side
    return None


def _same_function(a: sympy.Basic | None, b: sympy.Basic | None, value: sympy.Basic) -> bool:
    """``f(x) = 2x+3`` and ``y = 2x+3`` name the same function of x."""
    names = {a, b}
    calls = [n for n in names if isinstance(n, sympy.core.function.AppliedUndef)]
    plain = [n for n in names if isinstance(n, sympy.Symbol)]
    return len(calls) == 1 and len(plain) == 1 and plain[0].name == "y" and calls[0].args == tuple(
        sorted(value.free_symbols, key=str))


def _bound_arguments(g_name: sympy.Basic | None, p_name: sympy.Basic | None, p_value: sympy.Basic
                     ) -> sympy.Basic | None:
    """``g(s) = 3s`` read with the gold's argument names (``g(t) = 3t``): a function's arguments are
    bound. None unless both name the same function with distinct plain-symbol arguments."""
    calls = (g_name, p_name)
    if not all(isinstance(c, sympy.core.function.AppliedUndef) for c in calls):
        return None
    assert g_name is not None and p_name is not None
    g_args, p_args = g_name.args, p_name.args
    if g_name.func != p_name.func or len(g_args) != len(p_args) or len(set(g_args)) != len(g_args) or len(
            set(p_args)) != len(p_args) or not all(isinstance(a, sympy.Symbol) for a in g_args + p_args):
        return None
    # Renaming s -> t must not capture a t that the answer already uses freely.
    if (set(g_args) - set(p_args)) & p_value.free_symbols:
        return None
    return p_value.xreplace(dict(zip(p_args, g_args, strict=True)))


def _assigned_value(eq: sympy.Equality) -> sympy.Basic | None:
    """``x = 5`` -> 5 (either side may hold the lone symbol); None when not an assignment."""
    symbol = _assigned_symbol(eq)
    if symbol is None:
        return None
    return eq.rhs if eq.lhs == symbol else eq.lhs


def _intervals(value: sympy.Set) -> list[sympy.Basic] | None:
    parts = value.args if isinstance(value, sympy.Union) else (value,)
    if all(isinstance(p, sympy.Interval | sympy.FiniteSet) for p in parts):
        return list(parts)
    return None


def _exact(expr: sympy.Basic) -> sympy.Basic:
    """Decimals as exact rationals (``0.1`` is 1/10, not a binary float); drop unevaluated wrappers."""
    if expr.has(sympy.UnevaluatedExpr):
        expr = expr.replace(lambda e: isinstance(e, sympy.UnevaluatedExpr), lambda e: e.args[0])
    floats = expr.atoms(sympy.Float)
    if floats:
        expr = expr.xreplace({f: sympy.Rational(str(f)) for f in floats})
    return expr


def _names(expr: sympy.Basic) -> frozenset[str]:
    return frozenset(s.name for s in expr.free_symbols if isinstance(s, sympy.Symbol))


def _vanishes(difference: sympy.Basic, magnitude: int = 0) -> bool:
    """Is an exact constant zero? evalf raises precision through a cancellation (up to ``maxn``
    digits, enough for sides of ``magnitude`` digits) and returns a part with no digits left
    (treated as 0 by ``_evaluate``); a value that survives doubled precision is not 0."""
    maxn = min(_MAX_CANCELLATION, 2 * (_PRECISION + magnitude) + 200)
    value = _evaluate(difference, maxn=maxn)
    if value is None:
        return False
    if value == 0:
        return True
    # Rounding noise shrinks when the precision doubles; a real difference keeps its size.
    again = _evaluate(difference, 2 * _PRECISION, maxn=2 * maxn)
    return again is not None and (again == 0 or abs(again) < abs(value) * _NOISE)


def _rational_value(value: sympy.Basic) -> bool:
    """Is a 50-digit value a fraction with a small denominator (an exact rational written as log_2 8)?"""
    if not value.is_real:
        return False
    nearest = Fraction(str(value)).limit_denominator(10**6)
    return bool(abs(value - sympy.Rational(nearest.numerator, nearest.denominator)) <= _NOISE * max(1, abs(value)))


def _settle_zero(expr: sympy.Basic, value: sympy.Basic, point: dict[sympy.Symbol, sympy.Float]) -> sympy.Basic:
    """A value near the working precision's noise floor is 0 if doubling the precision shrinks it
    accordingly (sqrt(2x sqrt(x^2+1)+2x^2+1) - sqrt(x^2+1) - x); a true tiny value (10^-60) stays."""
    if value == 0 or abs(value) > _NOISE:
        return value
    again = _evaluate_at(expr, {s: sympy.Float(v, 2 * _PRECISION + 10) for s, v in point.items()},
                         2 * _PRECISION)
    return sympy.S.Zero if again is not None and abs(again) < _NOISE**2 else value


def _evaluate_at(expr: sympy.Basic, point: dict[sympy.Symbol, sympy.Float],
                 digits: int = _PRECISION) -> sympy.Basic | None:
    """``expr`` at ``point``; None where it has no value (substituting can already hit a pole: (n-k)!)."""
    try:
        substituted = expr.xreplace(point)
    except (TypeError, ValueError, ArithmeticError):
        return None
    return _evaluate(substituted, digits)


def _evaluate(expr: sympy.Basic, digits: int = _PRECISION, maxn: int | None = None) -> sympy.Basic | None:
    """A finite number to ``digits`` (default 50) digits, or None; ``maxn``: how far evalf may raise
    its working precision to resolve a cancellation."""
    try:
        value = expr.evalf(digits, maxn=maxn) if maxn else expr.evalf(digits)
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return None
    if not value.is_number or value.has(sympy.zoo, sympy.nan) or not value.is_finite:
        return None
    # evalf marks a part with no significant digit left (sin(2*pi) -> -0.e-118) by a precision of a
    # few bits: that part is zero, unlike a true tiny value (2^-400 keeps its full precision).
    vanished = {f: sympy.S.Zero for f in value.atoms(sympy.Float) if getattr(f, "_prec", 53) < _VANISHED_BITS}
    return value.xreplace(vanished) if vanished else value


def _close(a: sympy.Basic, b: sympy.Basic, *, absolute: bool = False) -> bool:
    """Relative tolerance; with ``absolute`` the tolerance stops growing above magnitude 1, so that
    two numbers (not functions at sample points) differing by 1 in the units place stay apart."""
    diff = abs(a - b)
    scale = max(abs(a), abs(b))
    if scale == 0:
        return True
    if absolute:
        scale = min(scale, sympy.S.One)
    return bool(diff <= _REL_TOL * scale)


def _same_up_to_branch(a: sympy.Basic, b: sympy.Basic) -> bool:
    """Two complex values of power expressions at a point off their real domain: the accepted
    convention differs there by the branch of a root (conjugates: sqrt(1/n), 1/sqrt(n));
    (a^b)^c and a^{bc} differ by another phase."""
    return bool(_close(a, b) or _close(a, sympy.conjugate(b)))


def _magnitude(*values: sympy.Basic) -> int:
    """Decimal digits before the point of the largest of ``values`` (0 below 1), capped by the parse screen."""
    largest = max(abs(v) for v in values)
    if largest < 1:
        return 0
    return min(int(sympy.floor(sympy.log(largest, 10))) + 1, MAX_DIGITS)
