"""``hero-reward``: the command line. Flags map onto the same Settings as the HERO_ variables."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from hero_service import __version__
from hero_service.names import unknown_variables
from hero_service.settings import Settings, describe_errors

# Shown by --help, so plain text (the module docstring is for Sphinx-style readers).
DESCRIPTION = ("hero-reward: HERO rewards (verifier + reward model) as a service, and offline diagnostics. "
               "Flags map onto the same settings as the HERO_ environment variables.")


def _setting(name: str, text: str) -> str:
    """Help for a flag that sets ``name``: its variable and the default it falls back to."""
    field = Settings.model_fields[name]
    default = "CPU count, at most 8" if field.default_factory is not None else field.default
    shown = "unset" if default is None else default
    return f"{text} (HERO_{name.upper()}; default: {shown})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hero-reward", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"hero-reward {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the reward server",
                                description="Run the reward server. Every flag overrides its HERO_ "
                                "environment variable; see the README for the full settings table.")
    # No argparse defaults: an unset flag leaves the HERO_ variable (or the settings default) in force.
    serve.add_argument("--host", help=_setting("host", "interface to bind"))
    serve.add_argument("--port", type=int, help=_setting("port", "TCP port"))
    serve.add_argument("--model", dest="rm_model",
                       help=_setting("rm_model", "reward model hub id or local path; unset: embedded MiniLM"))
    serve.add_argument("--verifier-workers", type=int, help=_setting("verifier_workers", "verifier processes"))
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                       help=_setting("log_level", "log level"))
    _add_score(commands)
    _add_report(commands)
    return parser


def _add_score(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    score = commands.add_parser(
        "score", help="score a rollout file offline",
        description="Score a rollout file (JSONL: grouped or flat form, see the README) through the server's "
        "own pipeline, in this process or on a running server (--url), and write every component of every "
        "reward to OUTPUT. An existing OUTPUT is resumed; one scored with other --params is refused "
        "(use a new OUTPUT, or --force). Bad input lines are reported and written with status error. "
        "Exit status: 0 when every line was scored, 1 when any line failed (the count is printed) or the "
        "run stopped, 2 for bad arguments or an OUTPUT scored with other --params.")
    score.add_argument("rollouts", type=Path, help="input JSONL")
    score.add_argument("-o", "--output", type=Path, required=True, help="scored JSONL (resumed if it exists)")
    score.add_argument("--force", action="store_true",
                       help="score OUTPUT again from the start, even when it was scored with other --params")
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
    score.add_argument("--model", dest="rm_model", help=_setting("rm_model", "in-process: reward model"))
    score.add_argument("--verifier-workers", type=int,
                       help=_setting("verifier_workers", "in-process: verifier processes"))


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser("report", help="HTML report on a scored file",
                                 description="Write one self-contained HTML page about a file made by "
                                 "`hero-reward score`: verifier statuses, RM against verifier (per-group "
                                 "AUROC), rewards, weights, a parameter grid and the top disagreements.")
    report.add_argument("scored", type=Path, help="scored JSONL")
    report.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    report.add_argument("--top", type=int, default=10, help="disagreements shown of each kind (default 10)")


def load_settings(overrides: dict[str, Any]) -> Settings:
    """Settings from the environment plus ``overrides``; exits with the fix-it message when invalid.

    A ``HERO_`` variable that names no setting (a typo) is ignored by the settings: say so, with the
    setting it probably meant.
    """
    # HERO_CLIENT_* configure the trainer-side adapters, which may share the server's environment.
    for warning in unknown_variables(os.environ, "HERO_", Settings.model_fields, others=("HERO_CLIENT_",)):
        sys.stderr.write(f"hero-reward: warning: {warning}\n")
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = "".join(f"  {line}\n" for line in describe_errors(exc))
        sys.stderr.write("hero-reward: invalid settings\n" + lines)
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
    from hero_service.diagnostics.records import ParamsConflictError
    from hero_service.diagnostics.rollouts import parse_field_map

    try:
        params = parse_params(args["params"])
        fields = parse_field_map(args["field"])
    except ValueError as exc:  # FieldMapError and the --params errors are ValueErrors
        _usage_error(str(exc))
    if args["batch_groups"] < 1:
        _usage_error("--batch-groups must be >= 1")
    if args["url"] and args["rm_from_file"]:
        _usage_error("--rm-from-file scores in this process; it cannot go with --url")
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
            form=args["form"], fields=fields, rm_from_file=args["rm_from_file"], force=args["force"],
            stream=sys.stderr,
        ))
    except ParamsConflictError as exc:
        _usage_error(str(exc))
    except (OSError, RuntimeError, ValueError, HeroError) as exc:
        # What was written so far stays: the same command resumes after the cause is fixed.
        raise SystemExit(f"hero-reward score: {exc}") from None
    failed = summary.error_lines
    sys.stderr.write(f"{args['output']}: {summary.groups} groups, {summary.scored} scored by this run, "
                     f"{summary.kept} records kept, {len(failed)} failed lines\n")
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (", ..." if len(failed) > 10 else "")
        raise SystemExit(f"hero-reward score: {len(failed)} of the input lines failed (lines {shown}); "
                         "their records have status error")


def _usage_error(message: str) -> NoReturn:
    sys.stderr.write(f"hero-reward score: {message}\n")
    raise SystemExit(2)


def report(args: dict[str, Any]) -> None:
    from hero_service.diagnostics.records import ScoredFileError
    from hero_service.diagnostics.report import write_report

    try:
        data = write_report(args["scored"], args["output"], args["top"])
    except (OSError, ScoredFileError) as exc:
        raise SystemExit(f"hero-reward report: {args['scored']}: {exc}") from None
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
