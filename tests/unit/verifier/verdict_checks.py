"""Shared by the verifier's table tests: a pair counts as rejected only if both the pure comparison and the
whole verifier (extraction from a boxed sentence included) refuse it."""

from __future__ import annotations

import contextlib

from hero_service.verifier import VerifierPolicy, VerifyRequest, verify_one
from hero_service.verifier.equivalence import equivalent
from hero_service.verifier.parse import UnparsableError


def rejected(gold: str, answer: str, policy: VerifierPolicy) -> bool:
    with contextlib.suppress(UnparsableError):
        if equivalent(gold, answer, policy):
            return False
    return not verify_one(VerifyRequest(gold, f"so the answer is $\\boxed{{{answer}}}$"), policy).correct
