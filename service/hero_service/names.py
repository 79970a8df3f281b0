"""Unknown names (a misspelt parameter or setting) and the known name that was probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` is most likely a misspelling of (case-insensitive), or None."""
    by_lower = {k.lower(): k for k in known}
    match = difflib.get_close_matches(name.lower(), by_lower, n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def unknown_name(name: str, known: Iterable[str], kind: str) -> str:
    """``unknown parameter 'alpa' (did you mean 'alpha'?)``, or the list of valid names when none is close."""
    names = sorted(known)
    guess = closest(name, names)
    hint = f"did you mean {guess!r}?" if guess else f"one of: {', '.join(names)}"
    return f"unknown {kind} {name!r} ({hint})"


def unknown_variables(
    environ: Mapping[str, str], prefix: str, known: Iterable[str], *, others: tuple[str, ...] = ()
) -> list[str]:
    """A warning for each ``prefix`` variable in ``environ`` that names no setting (it would be ignored);
    variables under one of the ``others`` prefixes belong to someone else (the client's adapters)."""
    settings = {prefix + k.upper() for k in known}
    warnings = []
    for var in sorted(environ):
        name = var.upper()
        if name.startswith(prefix) and name not in settings and not name.startswith(others):
            guess = closest(var, settings)
            hint = f"did you mean {guess}?" if guess else "see the settings table in the README"
            warnings.append(f"{var} is not a setting and is ignored ({hint})")
    return warnings
