"""Grade one pair in-process: extract, compare, map every failure to a status. No timeouts here.

``verify_one`` never raises for bad input. It has no deadline of its own (no signal.alarm, so it is
safe on any thread); bounded runtime comes from the size screens and, in the service, from the
worker processes of ``pool.py``.
"""

from __future__ import annotations

from hero_service.verifier.equivalence import equivalent
from hero_service.verifier.extract import extract_answer
from hero_service.verifier.parse import UnparsableError
from hero_service.verifier.verdict import Verdict, VerifierPolicy, VerifierStatus, VerifyRequest

DISPLAY_CHARS = 200
"""Extracted answers are truncated to this many characters in a Verdict."""


def verify_one(request: VerifyRequest, policy: VerifierPolicy = VerifierPolicy()) -> Verdict:  # noqa: B008
    """Extract the final answer of ``request.response`` and compare it with ``request.reference``."""
    answer = extract_answer(request.response, request.extract)
    if answer is None:
        return Verdict(False, "no_answer")
    correct, status = judge(request.reference, answer, policy)
    return Verdict(correct, status, answer[:DISPLAY_CHARS])


def judge(reference: str, answer: str, policy: VerifierPolicy) -> tuple[bool, VerifierStatus]:
    """(correct, status) for an already extracted answer."""
    try:
        return equivalent(reference, answer, policy), "ok"
    except UnparsableError:
        return False, "unparsable"
    except RecursionError:
        return False, "unparsable"
    except Exception:  # a sympy bug on odd input must cost one item, not the batch
        return False, "error"
