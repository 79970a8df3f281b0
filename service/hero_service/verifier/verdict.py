"""The verifier's contract: what goes in, what comes out. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VerifierStatus = Literal["ok", "no_answer", "unparsable", "timeout", "error"]
"""``ok``: an answer was found and compared (``correct`` says how); ``no_answer``: no final answer
in the response; ``unparsable``: an answer was found but could not be read as math or compared;
``timeout``: the item ran past its deadline; ``error``: the worker crashed or raised."""

ExtractMode = Literal["boxed", "boxed_or_last", "any"]
"""``boxed``: only the last ``\\boxed{}``/``\\fbox{}``; ``boxed_or_last``: that, else "the answer is",
"Final answer:" or a bold last line; ``any``: additionally the last math-looking span."""


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """One (reference, response) pair to grade."""

    reference: str
    response: str
    extract: ExtractMode = "boxed_or_last"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one pair. ``correct`` is only ever True with status ``ok``."""

    correct: bool
    status: VerifierStatus
    answer: str | None = None
    """The extracted final answer (truncated for display), when one was found."""

    @property
    def value(self) -> int:
        return int(self.correct)
