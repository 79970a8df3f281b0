"""``hero-reward``: the command line. Flags map onto the same Settings as the HERO_ variables."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
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
    _add_score(commands)
    _add_report(commands)
    return parser


def _add_score(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    score = commands.add_parser(
        "score", help="score a rollout file offline",
        description="Score a rollout file (JSONL: grouped or flat form, see the README) through the server's "
        "own pipeline, in this process or on a running server (--url), and write every component of every "
        "reward to OUTPUT. An existing OUTPUT is resumed. Bad input lines are reported and written with "
        "status error.")
    score.add_argument("rollouts", type=Path, help="input JSONL")
    score.add_argument("-o", "--output", type=Path, required=True, help="scored JSONL (resumed if it exists)")
    score.add_argument("--url", help="score on this running server instead of in-process")
    score.add_argument("--api-key", help="API key for --url")
    score.add_argument("--params", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                       help="reward params (alpha=0.1 k=4 sigma_ref=1.5 ...) or one JSON object")
    score.add_argument("--rm-from-file", action="store_true",
                       help="take RM scores from the file (rm_scores / rm_score, see --field) instead of a model")
    score.add_argument("--field", action="append", default=[], metavar="NAME=KEY",
                       help="read field NAME from key KEY, e.g. --field reference=answer (repeatable)")
    score.add_argument("--format", dest="form", choices=["auto", "grouped", "flat"], default="auto",
                       help="input form (auto: from the first line)")
    score.add_argument("--batch-groups", type=int, default=32, help="groups per request (default 32)")
    score.add_argument("--model", dest="rm_model", help="in-process: reward model (HERO_RM_MODEL)")
    score.add_argument("--verifier-workers", type=int, help="in-process: verifier processes")


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser("report", help="HTML report on a scored file",
                                 description="Write one self-contained HTML page about a file made by "
                                 "`hero-reward score`: verifier statuses, RM against verifier (per-group "
                                 "AUROC), rewards, weights, a parameter grid and the top disagreements.")
    report.add_argument("scored", type=Path, help="scored JSONL")
    report.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    report.add_argument("--top", type=int, default=10, help="disagreements shown of each kind (default 10)")


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
    app = create_app(settings)
    build_server(app, settings).run()
    if app.state.hero.failure is not None:
        raise SystemExit(1)  # the cause is already logged, in one line


def score(args: dict[str, Any]) -> None:
    from hero_client import HeroError
    from hero_service.diagnostics.offline import Backend, Remote, in_process_backend, parse_params, score_file
    from hero_service.diagnostics.rollouts import parse_field_map

    try:
        params = parse_params(args["params"])
        fields = parse_field_map(args["field"])
    except ValueError as exc:  # FieldMapError and pydantic's ValidationError are ValueErrors
        raise SystemExit(f"hero-reward score: {exc}") from None
    if args["batch_groups"] < 1:
        raise SystemExit("hero-reward score: --batch-groups must be >= 1")
    if args["url"] and args["rm_from_file"]:
        raise SystemExit("hero-reward score: --rm-from-file scores in this process; it cannot go with --url")
    backend: Backend
    if args["url"]:
        backend = Remote(args["url"], args["api_key"])
    else:
        settings = load_settings({"rm_model": args["rm_model"], "verifier_workers": args["verifier_workers"]})
        backend = in_process_backend(settings, rm_from_file=args["rm_from_file"],
                                     source=fields.get("rm_scores", fields.get("rm_score", "rm_scores")))
    try:
        summary = asyncio.run(score_file(
            args["rollouts"], args["output"], backend, params=params, batch_size=args["batch_groups"],
            form=args["form"], fields=fields, rm_from_file=args["rm_from_file"], stream=sys.stderr,
        ))
    except (OSError, RuntimeError, ValueError, HeroError) as exc:
        # What was written so far stays: the same command resumes after the cause is fixed.
        raise SystemExit(f"hero-reward score: {exc}") from None
    sys.stderr.write(f"wrote {args['output']}: {summary.groups} groups, {len(summary.error_lines)} bad lines\n")


def report(args: dict[str, Any]) -> None:
    from hero_service.diagnostics.records import ScoredFileError
    from hero_service.diagnostics.report import write_report

    try:
        data = write_report(args["scored"], args["output"], args["top"])
    except (OSError, ScoredFileError) as exc:
        raise SystemExit(f"hero-reward report: {exc}") from None
    sys.stderr.write(f"wrote {args['output']}: {len(data.groups)} groups, mean AUROC "
                     f"{'n/a' if data.auroc.mean is None else f'{data.auroc.mean:.3f}'}\n")


def main(argv: Sequence[str] | None = None) -> None:
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    if command == "serve":
        serve(load_settings(args))
    elif command == "score":
        score(args)
    elif command == "report":
        report(args)


if __name__ == "__main__":
    main()
