"""`infochat directory …` operator commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.database import operator_context, operator_database
from bot.settings import Settings


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services import directory

    path = Path(args.file)
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"infochat: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    with operator_database(settings) as db:
        try:
            with db.session() as session:
                rows = directory.read_csv_rows(text)
                report = directory.import_functions(session, rows, settings.functions)
        except directory.DirectoryImportError as exc:
            for line, message in exc.errors:
                print(f"line {line}: {message}", file=sys.stderr)
            print(f"nothing imported: {len(exc.errors)} bad line(s) in {path}", file=sys.stderr)
            return 1
    print(f"imported {report.imported} functions")
    if report.stubs:
        print(
            f"{report.stubs} of them are not in the directory yet; "
            "`infochat directory sync` fills in their names"
        )
    return 0


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from slack_sdk.errors import SlackApiError

    from bot.flows.directory import sync_directory
    from bot.services import directory

    def progress(report: directory.SyncReport) -> None:
        # Progress on stderr: a 50,000-member workspace takes a quarter of an hour.
        print(f"page {report.pages}: {report.seen} members so far", file=sys.stderr, flush=True)

    with operator_context(settings) as ctx:
        try:
            report = sync_directory(
                ctx, page_size=args.page_size, page_delay=args.page_delay, on_page=progress
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else exc
            print(
                f"infochat: Slack users.list failed: {error}; pages already read are saved", file=sys.stderr
            )
            return 1
    print(f"directory synced: {report}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `directory` command group to the `infochat` parser."""
    from bot.flows.directory import DEFAULT_PAGE_DELAY, DEFAULT_PAGE_SIZE

    group = sub.add_parser("directory", help="the workspace directory (members and their functions)")
    actions = group.add_subparsers(dest="directory_command", metavar="ACTION", required=True)

    imp = actions.add_parser(
        "import",
        help="set functions from a CSV of slack_user_id,function or email,function (all or nothing)",
    )
    imp.add_argument("file", metavar="FILE", help="CSV file; an optional first row names the columns")
    imp.set_defaults(handler=_import)

    sync = actions.add_parser(
        "sync", help="copy every member from Slack's users.list now (needs SLACK_BOT_TOKEN)"
    )
    sync.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        help=f"members per page (default {DEFAULT_PAGE_SIZE})",
    )
    sync.add_argument(
        "--page-delay",
        type=float,
        default=DEFAULT_PAGE_DELAY,
        help=f"seconds between pages; users.list is rate-limited Tier 2 (default {DEFAULT_PAGE_DELAY:g})",
    )
    sync.set_defaults(handler=_sync)
