"""``hero-reward``: the command line. Flags map onto the same Settings as the HERO_ variables."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from hero_service import __version__
from hero_service.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hero-reward", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hero-reward {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the reward server",
                                description="Run the reward server. Every flag overrides its HERO_ "
                                "environment variable; see the README for the full settings table.")
    serve.add_argument("--host", help="interface to bind (HERO_HOST)")
    serve.add_argument("--port", type=int, help="TCP port (HERO_PORT)")
    serve.add_argument("--model", dest="rm_model",
                       help="reward model hub id or local path (HERO_RM_MODEL); unset: embedded MiniLM")
    serve.add_argument("--verifier-workers", type=int, help="verifier processes (HERO_VERIFIER_WORKERS)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                       help="log level (HERO_LOG_LEVEL)")
    return parser


def load_settings(overrides: dict[str, Any]) -> Settings:
    """Settings from the environment plus ``overrides``; exits with the fix-it message when invalid."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = [f"  HERO_{'_'.join(str(p) for p in e['loc']).upper() or '?'}: {e['msg']}"
                 for e in exc.errors()]
        sys.stderr.write("hero-reward: invalid settings\n" + "\n".join(lines) + "\n")
        raise SystemExit(2) from None


def serve(settings: Settings) -> None:
    from hero_service.app import create_app
    from hero_service.logs import configure_logging
    from hero_service.server import build_server

    configure_logging(settings.log_level, settings.log_format)
    build_server(create_app(settings), settings).run()


def main(argv: Sequence[str] | None = None) -> None:
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    if command == "serve":
        serve(load_settings(args))


if __name__ == "__main__":
    main()
