"""The public surface of ``hero_client``: exactly ``__all__``, and importable without heavy dependencies."""

from __future__ import annotations

import subprocess
import sys
import types

import hero_client
import hero_client.integrations


def _public_names(module: types.ModuleType) -> set[str]:
    # Subpackages show up as attributes once imported; they are reached by import, not re-exported.
    return {name for name, value in vars(module).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
            and name != "annotations"}


def test_all_is_exactly_the_public_names() -> None:
    assert set(hero_client.__all__) == _public_names(hero_client)
    assert sorted(hero_client.__all__) == hero_client.__all__
    assert set(hero_client.integrations.__all__) == _public_names(hero_client.integrations)


def test_every_exception_derives_from_hero_error() -> None:
    errors = [getattr(hero_client, n) for n in hero_client.__all__ if n.endswith("Error")]

    assert len(errors) == 7
    assert all(issubclass(e, hero_client.HeroError) for e in errors)
    assert issubclass(hero_client.OverloadedError, hero_client.HeroStatusError)
    assert not issubclass(hero_client.TransportError, hero_client.HeroStatusError)


def test_client_and_adapters_import_without_torch_numpy_fastapi_or_trainers() -> None:
    # Poisoning sys.modules makes any attempt to import these raise ImportError.
    blocked = ["torch", "numpy", "fastapi", "transformers", "trl", "verl", "openrlhf", "accelerate",
               "hero_service"]
    code = (
        f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
        "import hero_client, hero_client.integrations.verl, hero_client.integrations.trl, "
        "hero_client.integrations.openrlhf\n"
        "from hero_client.integrations.verl import compute_score\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
