"""Stable group ids: the same parts give the same id in every process that sees them (the trainer
adapters, and the server's OpenRLHF endpoint, which groups a prompt's samples by their text and label)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def group_id(namespace: str, *parts: Any) -> str:
    """A stable id from JSON-able parts, the same in every process that sees the same parts."""
    text = json.dumps([to_jsonable(p) for p in parts], ensure_ascii=False, sort_keys=True)
    return f"{namespace}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def to_jsonable(value: Any) -> Any:
    """Plain JSON values from what trainers hand over: numpy scalars and arrays (parquet columns),
    tensors, tuples. Imports none of them: anything with ``tolist()`` is converted by it."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return to_jsonable(tolist())
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)
