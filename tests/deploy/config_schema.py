"""The ``config`` section of the chart's values.schema.json, derived from ``hero_service.settings.Settings``.

The chart exposes every server setting as ``config.<camelCaseName>`` (rendered as ``HERO_<NAME>``). Its schema
is generated from the Settings model so that types, bounds and enums cannot drift from the server:
``test_chart.py`` fails when the committed schema differs from this output. After changing Settings, run

    python tests/deploy/config_schema.py --write

and add the new key to helm/hero-reward/values.yaml (with a comment) unless the chart owns it (CHART_OWNED).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "helm" / "hero-reward" / "values.schema.json"

# Settings the chart sets from other values, never from `config`: field -> where it comes from.
CHART_OWNED = {
    "host": "always 0.0.0.0 in a pod",
    "port": "containerPort",
    "api_keys": "auth.apiKeys / auth.existingSecret (a Secret)",
    "drain_timeout_s": "shutdown.drainTimeoutSeconds (also sizes terminationGracePeriodSeconds)",
    "state_url": "stateStore.url, or the chart's own Redis (stateStore.redis.enabled)",
    "state_password": "stateStore.existingSecret (a Secret)",
    "rm_url": "rmEngine.url, or the chart's own vLLM (rmEngine.vllm.enabled)",
    "rm_served_model": "rmEngine.servedModel",
}


def camel(name: str) -> str:
    """rm_max_length -> rmMaxLength (the values key of a setting)."""
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def snake(key: str) -> str:
    """rmMaxLength -> rm_max_length: what the chart's `snakecase` does to a values key."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def settings_schema() -> dict[str, Any]:
    from hero_service.settings import Settings

    return Settings.model_json_schema()


def config_schema() -> dict[str, Any]:
    """JSON schema of `config`: each setting's own type and bounds, or null (= the server's default)."""
    props: dict[str, Any] = {}
    for name, prop in settings_schema()["properties"].items():
        if name in CHART_OWNED:
            continue
        variants = prop.get("anyOf") or [{k: v for k, v in prop.items()
                                           if k not in ("title", "description", "default")}]
        variants = [v for v in variants if v.get("type") != "null"] + [{"type": "null"}]
        props[camel(name)] = {"description": f"HERO_{name.upper()}: {prop.get('description', '')}".strip(),
                              "anyOf": variants}
    return {
        "type": "object",
        "description": "Server settings, one HERO_ variable each (camelCase key -> HERO_SNAKE_CASE); "
                       "null = the server's default. Generated from hero_service.settings.Settings by "
                       "tests/deploy/config_schema.py.",
        "additionalProperties": False,
        "properties": props,
    }


def main(argv: list[str]) -> int:
    schema = json.loads(SCHEMA_PATH.read_text())
    schema["properties"]["config"] = config_schema()
    text = json.dumps(schema, indent=2) + "\n"
    if "--write" in argv:
        SCHEMA_PATH.write_text(text)
        print(f"wrote {SCHEMA_PATH}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
