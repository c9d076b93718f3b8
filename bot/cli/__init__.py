"""The `infochat` command for operators."""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.database import CommandError
from bot.logs import configure_logging
from bot.settings import ConfigError, Settings, load_settings

log = logging.getLogger("bot.cli")

Handler = Callable[[argparse.Namespace, Settings], int]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot import server

    overrides = {k: v for k, v in (("port", args.port), ("host", args.host), ("workers", args.workers)) if v}
    if overrides:
        settings = settings.model_copy(update=overrides)
    if args.socket:
        server.serve_socket(settings)
    else:
        server.serve_http(settings)
    return 0


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot import migrate
    from bot.db import Database

    db = Database(settings.database_url)  # the one command that may create the database
    try:
        revision = migrate.upgrade(db, args.revision)
    finally:
        db.dispose()
    print(f"database at revision {revision}")
    return 0


def _db_current(args: argparse.Namespace, settings: Settings) -> int:
    from bot import migrate
    from bot.cli.database import sqlite_path
    from bot.db import Database

    path = sqlite_path(settings)
    if path is not None and not path.exists():  # looking must not create an empty file
        print(f"current: empty database (no file at {path} yet); latest: {migrate.head_revision()}")
        return 1
    db = Database(settings.database_url)
    try:
        current, head = migrate.current_revision(db), migrate.head_revision()
    finally:
        db.dispose()
    print(f"current: {current or 'empty database'}; latest: {head}")
    return 0 if current == head else 1


def _health(args: argparse.Namespace, settings: Settings) -> int:
    """Container health check: is `infochat serve` on this host answering /healthz?"""
    import urllib.request

    url = args.url or f"http://127.0.0.1:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            healthy = response.status == 200
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    print(f"{'healthy' if healthy else 'unhealthy'}: {url}")
    return 0 if healthy else 1


def _pair(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.database import operator_context
    from bot.clock import utcnow
    from bot.flows import pairing as pairing_flow
    from bot.services import pairing

    with operator_context(settings, require_slack=not args.dry_run) as ctx:
        report = pairing_flow.run_round(ctx, utcnow(), seed=args.seed, dry_run=args.dry_run)
        for line in pairing_flow.describe(report, opens_per_minute=ctx.slack.opens_per_minute):
            print(line)
        if not args.dry_run:
            with ctx.db.session() as session:
                progress = pairing.delivery_progress(session, report.week)
            print(
                f"delivery: {progress['sent']} sent, {progress['pending']} waiting "
                f"(held until local working hours, or paced), {progress['failed']} failed"
            )
    return 0


def _followups(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.database import operator_context
    from bot.clock import utcnow
    from bot.flows.followups import run_followups

    with operator_context(settings) as ctx:
        print(run_followups(ctx, utcnow()))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.devtools.demo import run_demo

    # Line by line even into a pipe or a file: whoever watches (or a log cut short) sees how
    # far it got.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    return run_demo(args.dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infochat", description="infochat: informational interviews on Slack"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve Slack over HTTP (or Socket Mode with --socket)")
    serve.add_argument("--socket", action="store_true", help="use Socket Mode (needs SLACK_APP_TOKEN)")
    serve.add_argument("--host", help="bind address (default INFOCHAT_HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default INFOCHAT_PORT or 3000)")
    serve.add_argument("--workers", type=int, help="worker processes (default INFOCHAT_WORKERS or 1)")
    serve.set_defaults(handler=_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (safe with several replicas)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(handler=_db_upgrade)
    current = db_sub.add_parser("current", help="show the schema revision; exit 1 if not the latest")
    current.set_defaults(handler=_db_current)

    health = sub.add_parser(
        "health", help="check that the local server answers /healthz (container health check)"
    )
    health.add_argument("--url", help="URL to check (default http://127.0.0.1:INFOCHAT_PORT/healthz)")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(handler=_health)

    pair = sub.add_parser("pair", help="run this week's pairing round now (a second run sends nothing new)")
    pair.add_argument(
        "--dry-run", action="store_true", help="print pairs, scores, reasons and the unmatched; send nothing"
    )
    pair.add_argument(
        "--seed", type=int, help="seed for a reproducible round (default: random, stored with the round)"
    )
    pair.set_defaults(handler=_pair)

    followups = sub.add_parser("followups", help="send the follow-up check-ins that are due now")
    followups.set_defaults(handler=_followups)

    from bot.cli import directory as cli_directory
    from bot.cli import privacy as cli_privacy
    from bot.cli import report as cli_report
    from bot.cli import topics as cli_topics

    cli_report.add_commands(sub)
    cli_directory.add_commands(sub)
    cli_topics.add_commands(sub)
    cli_privacy.add_commands(sub)

    demo = sub.add_parser("demo", help="play the user journeys against a local Slack stand-in")
    demo.add_argument("--dir", help="where to leave the demo database and files (default: a new temp folder)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"infochat: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"infochat: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"infochat: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"infochat: database error ({settings.database_url.split('@')[-1]}): {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
