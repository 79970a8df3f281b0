"""The 0/1 symbolic verifier: answer extraction, equivalence checking and the worker pool."""

from __future__ import annotations

from hero_service.verifier.engine import verify_one
from hero_service.verifier.pool import VerifierPool
from hero_service.verifier.verdict import ExtractMode, Verdict, VerifierPolicy, VerifierStatus, VerifyRequest

__all__ = [
    "ExtractMode",
    "Verdict",
    "VerifierPolicy",
    "VerifierPool",
    "VerifierStatus",
    "VerifyRequest",
    "verify_one",
]
