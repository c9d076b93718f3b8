"""`infochat privacy …` operator commands: export a person's data, erase it, purge old text.

Every command writes an audit entry in the same transaction as its work, so
the log says who exported or erased whom exactly when it happened (and
nothing when it failed). An erasure's entry names the `erased:<id>`
placeholder, never the Slack id it just removed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from bot.cli.database import operator_database
from bot.clock import utcnow
from bot.flows.privacy import erase_person
from bot.models import AuditEntry, Person
from bot.services import privacy
from bot.settings import ConfigError, Settings


def _actor() -> str:
    """`cli:<operator>`, as models.AuditEntry documents, falling back to plain `cli`."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        return "cli"
    return f"cli:{user}"[:64]


def _describe(person: Person) -> str:
    name = person.display_name
    extra = ", ".join(x for x in (person.slack_user_id, person.email) if x and x != name)
    return f"{name} ({extra})" if extra else name


def _write_private(path: Path, text: str) -> None:
    """Write the export readable by its owner only: it is one person's complete data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    with operator_database(settings) as db:
        try:
            with db.session() as session:
                person = privacy.find_person(session, args.user)
                data = privacy.export_person(session, person.slack_user_id)
                text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
                if args.out:
                    _write_private(Path(args.out), text)
                else:
                    sys.stdout.write(text)
                session.add(
                    AuditEntry(
                        actor=_actor(),
                        action="privacy.export",
                        detail=person.slack_user_id,
                        created_at=utcnow(),
                    )
                )
        except privacy.PrivacyError as exc:
            print(f"infochat: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"infochat: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    if args.out:
        print(f"exported {_describe(person)} to {args.out}")
    return 0


def _confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:  # no terminal and no --yes: never erase by default
        return False
    return answer.strip().lower() in ("y", "yes")


def _erase(args: argparse.Namespace, settings: Settings) -> int:
    with operator_database(settings) as db:
        try:
            with db.session() as session:
                try:
                    person = privacy.find_person(session, args.user)
                except privacy.UnknownPerson:
                    # Erasing someone never stored (or already erased) leaves nothing behind: done.
                    print(
                        f"Nothing stored about {args.user}: never seen, or already erased "
                        "(erased people are kept as erased:<id>)."
                    )
                    return 0
                if not args.yes and not _confirm(
                    f"Erase {_describe(person)}? Their profile and every text they wrote are removed; "
                    "their chats stay, anonymised, for reports. This cannot be undone. [y/N] "
                ):
                    print("Nothing erased.")
                    return 1
                who = _describe(person)
                report = erase_person(session, person.slack_user_id, utcnow())
                session.add(
                    AuditEntry(
                        actor=_actor(), action="privacy.erase", detail=report.placeholder, created_at=utcnow()
                    )
                )
        except privacy.PrivacyError as exc:
            print(f"infochat: {exc}", file=sys.stderr)
            return 1
    if report.already_erased:
        print(f"{report.placeholder} was already erased; nothing left to remove.")
        return 0
    print(f"Erased {who}; they are now {report.placeholder}.")
    for line in report.lines():
        print(f"  {line}")
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    days = args.days or settings.retention_days
    if days is None:
        raise ConfigError(
            "INFOCHAT_RETENTION_DAYS is not set: expected how many days free text is kept "
            "(e.g. 365), or run `infochat privacy purge --days N`"
        )
    with operator_database(settings) as db, db.session() as session:
        report = privacy.purge_old_text(session, utcnow(), days)
        session.add(
            AuditEntry(actor=_actor(), action="privacy.purge", detail=str(report)[:500], created_at=utcnow())
        )
    print(report)
    return 0


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("expected at least 1 day")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `privacy` command group to the `infochat` parser."""
    group = sub.add_parser("privacy", help="export or erase a person's data; purge old free text")
    actions = group.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)

    export = actions.add_parser("export", help="write everything stored about USER as JSON")
    export.add_argument("user", metavar="USER", help="a Slack user id (U…) or an email address")
    export.add_argument(
        "--out", metavar="FILE", help="write to FILE (readable by you only) instead of stdout"
    )
    export.set_defaults(handler=_export)

    erase = actions.add_parser(
        "erase", help="remove USER's profile and texts; their chats stay, anonymised, for reports"
    )
    erase.add_argument("user", metavar="USER", help="a Slack user id (U…) or an email address")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(handler=_erase)

    purge = actions.add_parser(
        "purge", help="blank free text older than INFOCHAT_RETENTION_DAYS now (the nightly job does this)"
    )
    purge.add_argument("--days", type=_days, help="keep this many days instead of INFOCHAT_RETENTION_DAYS")
    purge.set_defaults(handler=_purge)
