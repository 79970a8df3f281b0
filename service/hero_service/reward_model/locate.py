"""Where a model's files come from: a local directory, the Hugging Face cache, or the hub.

Checked before anything is loaded, so a model that cannot be had fails at once with one sentence that
names the cause and the fix, instead of transformers' chained tracebacks (a missing directory is reported
as an invalid repo id) or a minute of download retries when the hub is unreachable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_EXAMPLE = "Skywork/Skywork-Reward-V2-Qwen3-0.6B"


class ModelSourceError(ValueError):
    """The model cannot be had; the message names the cause and the fix."""


@dataclass(frozen=True, slots=True)
class ModelSource:
    """What ``from_pretrained`` is given, and whether it may touch the network."""

    name: str
    local_files_only: bool


def locate(model: str, *, timeout_s: float = 10.0) -> ModelSource:
    """Resolve ``HERO_RM_MODEL``: an existing directory, else a hub id that is cached or on a reachable hub."""
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]  # public, not in __all__

    path = Path(model).expanduser()
    if path.is_dir():
        return ModelSource(str(path), local_files_only=True)
    try:
        validate_repo_id(model)
    except HFValidationError:
        what = "a file, not a directory" if path.exists() else "no such directory"
        raise ModelSourceError(
            f"HERO_RM_MODEL={model}: {what}. Fix: give the directory that holds the model (config.json, the "
            f"weights, the tokenizer), or a hub id such as {_EXAMPLE}."
        ) from None
    cached = isinstance(try_to_load_from_cache(model, "config.json"), str)
    if constants.HF_HUB_OFFLINE:
        if cached:
            return ModelSource(model, local_files_only=True)
        raise ModelSourceError(
            f"HERO_RM_MODEL={model} is not a local directory and is not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}), and HF_HUB_OFFLINE is set. Fix: download it where the hub is "
            "reachable (`hf download MODEL`), or set HERO_RM_MODEL to a local directory."
        )
    problem = _hub_problem(model, timeout_s)
    if problem is None:
        return ModelSource(model, local_files_only=False)
    if problem == "gated":
        raise ModelSourceError(f"HERO_RM_MODEL={model} is gated on the Hugging Face hub. Fix: accept its "
                               "conditions on its hub page and set HF_TOKEN.")
    if problem == "not found":
        raise ModelSourceError(
            f"HERO_RM_MODEL={model}: no such model on the Hugging Face hub (or it is private). Fix: check the "
            f"id (e.g. {_EXAMPLE}), set HF_TOKEN for a private model, or give an existing local directory."
        )
    if cached:
        log.warning("the Hugging Face hub is unreachable (%s); loading %s from the local cache", problem, model)
        return ModelSource(model, local_files_only=True)
    raise ModelSourceError(
        f"HERO_RM_MODEL={model}: the Hugging Face hub is unreachable ({problem}) and the model is not in the "
        "local cache. Fix: check the network (or HF_ENDPOINT), or download the model where the hub is "
        "reachable and set HERO_RM_MODEL to its directory."
    )


def _hub_problem(model: str, timeout_s: float) -> str | None:
    """None when the hub knows ``model``; else ``not found``, ``gated`` or why the hub is unreachable.

    One request with a deadline: a dead network costs ``timeout_s``, not the download retries."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    try:
        HfApi().model_info(model, timeout=timeout_s)
    except GatedRepoError:
        return "gated"
    except RepositoryNotFoundError:
        return "not found"
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        return f"{constants.ENDPOINT} answered HTTP {status}"
    except Exception as exc:  # connection refused, DNS, TLS, timeout: whatever the HTTP stack raises
        log.debug("hub probe for %s failed", model, exc_info=True)
        return f"{constants.ENDPOINT}: {type(exc).__name__}"
    return None
