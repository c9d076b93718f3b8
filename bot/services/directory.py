"""The workspace directory: who is a member, as Slack describes them.

Slack owns names, titles, time zones and account status; this module copies
them into `people` from Slack *user objects* (the shape users.info,
users.list, `user_change` and `team_join` share) of colleagues (`Colleagues`:
one workspace, or every workspace of an Enterprise Grid organisation) and never touches the
infochat profile (function, topics, …), except for the operator's CSV import
of functions, which HR systems own in some companies. Fetching those objects
from Slack, and telling people what a departure changes for them, is
`bot.flows.directory`.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import insert_ignoring_duplicates
from bot.models import ChatRequest, Person
from bot.services.requests import close_open_requests

log = logging.getLogger(__name__)

SLACKBOT_ID = "USLACKBOT"
FUNCTION_SOURCE_IMPORT = "import"

# Column widths from bot.models: PostgreSQL rejects longer values where SQLite
# would silently keep them, so values are cut the same way on both.
_WIDTHS = {"team_id": 32, "name": 255, "real_name": 255, "title": 255, "tz": 64, "email": 255}

# Directory fields copied from Slack; everything else on Person belongs to infochat.
_DIRECTORY_FIELDS = (
    "team_id",
    "name",
    "real_name",
    "title",
    "tz",
    "email",
    "is_deleted",
    "is_bot",
    "is_restricted",
    "is_ultra_restricted",
)

# A few chunked IN (...) lists stay well under SQLite's bound-parameter limit.
_IN_CHUNK = 500


# --------------------------------------------------------------------------- who is a colleague


def _enterprise_of(user: Mapping[str, Any]) -> str | None:
    grid = user.get("enterprise_user")
    enterprise = grid.get("enterprise_id") if isinstance(grid, Mapping) else None
    return enterprise if isinstance(enterprise, str) and enterprise else None


def _team_of(user: Mapping[str, Any]) -> str | None:
    profile = user.get("profile")
    team = user.get("team_id") or (profile.get("team") if isinstance(profile, Mapping) else None)
    return team if isinstance(team, str) and team else None


@dataclass(frozen=True)
class Colleagues:
    """Whose user objects belong in the directory: members of the app's workspaces (`team_ids`)
    or, on Enterprise Grid, of its organisation (`enterprise_id`), whichever workspace of it they
    are in. Slack Connect members of other organisations share channels with us, so Slack shows
    them in events and users.list; they are not colleagues and are never stored.
    """

    team_ids: frozenset[str] = frozenset()
    enterprise_id: str | None = None

    def include(self, user: Mapping[str, Any]) -> bool:
        enterprise = _enterprise_of(user)
        if enterprise is not None and self.enterprise_id:
            return enterprise == self.enterprise_id
        team = _team_of(user)
        if team is None or not self.team_ids or team in self.team_ids:
            return True
        # A Grid member seen by an app that does not know its own organisation: a colleague
        # from another workspace of it (how infochat has always read them).
        return enterprise is not None


# --------------------------------------------------------------------------- member upserts


def member_fields(user: Mapping[str, Any]) -> dict[str, Any]:
    """The Person columns a Slack user object describes.

    Keys absent from the object (email without the users:read.email scope, tz
    on some deactivated accounts) are left out, so an update never blanks a
    value Slack simply did not send this time.
    """
    user_id = user.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("a Slack user object needs an id")
    raw_profile = user.get("profile")
    profile: Mapping[str, Any] = raw_profile if isinstance(raw_profile, Mapping) else {}
    fields: dict[str, Any] = {
        "name": str(user.get("name") or ""),
        "real_name": str(profile.get("real_name") or user.get("real_name") or ""),
        "title": str(profile.get("title") or ""),
        "is_deleted": bool(user.get("deleted")),
        # Slackbot famously reports is_bot false; workflow bots have their own flag.
        "is_bot": bool(user.get("is_bot")) or bool(user.get("is_workflow_bot")) or user_id == SLACKBOT_ID,
        "is_restricted": bool(user.get("is_restricted")),
        "is_ultra_restricted": bool(user.get("is_ultra_restricted")),
    }
    team_id = user.get("team_id") or profile.get("team")
    if team_id:
        fields["team_id"] = str(team_id)
    if user.get("tz"):
        fields["tz"] = str(user["tz"])
    if profile.get("email"):
        fields["email"] = str(profile["email"]).strip()
    for key, width in _WIDTHS.items():
        if isinstance(fields.get(key), str):
            fields[key] = fields[key][:width]
    return fields


@dataclass(frozen=True)
class _Outcome:
    person_id: int
    added: bool
    changed: bool
    # True when the member could be messaged before and no longer can
    # (deactivated, or turned into a guest or bot).
    lost_reach: bool


def _insert_if_absent(session: Session, slack_user_id: str, fields: Mapping[str, Any]) -> int | None:
    """INSERT … ON CONFLICT (slack_user_id) DO NOTHING; the new row's id, None if it existed.

    Two events for the same new member can arrive at once (user_change right
    after team_join, two replicas): the loser of the race inserts nothing and
    updates the winner's row instead of failing on the unique constraint.
    """
    values = {"slack_user_id": slack_user_id, **fields}
    stmt = insert_ignoring_duplicates(session, Person, "slack_user_id").values(values)
    # RETURNING rather than rowcount: with psycopg the rowcount of this statement
    # reads 1 even when the conflict inserted nothing.
    new_id: int | None = session.execute(stmt.returning(Person.id)).scalar()
    return new_id


def _find(session: Session, slack_user_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))


def _apply(person: Person, fields: Mapping[str, Any]) -> tuple[bool, bool]:
    """Copy changed fields onto `person`; returns (changed, lost_reach)."""
    reachable = person.can_be_messaged
    changed = False
    for key, value in fields.items():
        # Only real changes are written, so updated_at means "Slack changed something".
        if getattr(person, key) != value:
            setattr(person, key, value)
            changed = True
    return changed, reachable and not person.can_be_messaged


def _upsert(
    session: Session, slack_user_id: str, fields: Mapping[str, Any], existing: Person | None
) -> _Outcome:
    if existing is None:
        new_id = _insert_if_absent(session, slack_user_id, fields)
        if new_id is not None:
            return _Outcome(new_id, added=True, changed=True, lost_reach=False)
        existing = _find(session, slack_user_id)  # inserted concurrently by someone else
        assert existing is not None
    changed, lost_reach = _apply(existing, fields)
    session.flush()
    return _Outcome(existing.id, added=False, changed=changed, lost_reach=lost_reach)


@dataclass(frozen=True)
class MemberUpdate:
    person: Person
    # Open requests to this member that closed because they can no longer be messaged;
    # the caller tells each learner (bot.flows.directory).
    closed: list[ChatRequest]


def upsert_member(session: Session, user: Mapping[str, Any]) -> MemberUpdate:
    """Insert or update the Person a Slack user object describes, in `session`'s transaction.

    A member who becomes deactivated (or a guest or bot) in this call is handed
    to `members_deactivated` in the same transaction, so search, pairing and
    their open requests see the change together.
    """
    fields = member_fields(user)
    slack_user_id = str(user["id"])
    outcome = _upsert(session, slack_user_id, fields, _find(session, slack_user_id))
    closed = members_deactivated(session, [outcome.person_id]) if outcome.lost_reach else []
    person = session.get(Person, outcome.person_id)
    assert person is not None
    return MemberUpdate(person, closed)


def known_member(session: Session, slack_user_id: str) -> Person | None:
    """The stored person, unless unknown or only a stub (a CSV import named them before any sync)."""
    person = _find(session, slack_user_id)
    if person is None or (person.team_id is None and not person.name):
        return None
    return person


def person_or_stub(session: Session, slack_user_id: str) -> Person:
    """The stored person, or a stub (only the Slack user id) that the nightly sync completes.

    For colleagues named before they used infochat: a suggested expert, a referral.
    """
    person = _find(session, slack_user_id)
    if person is None:
        _insert_if_absent(session, slack_user_id, {})
        person = _find(session, slack_user_id)
        assert person is not None
    return person


def members_deactivated(session: Session, person_ids: Sequence[int]) -> list[ChatRequest]:
    """These people can no longer be messaged (deactivated, or turned into a guest or bot).

    Called inside the transaction that flagged them, by `upsert_member` (the
    `user_change` event) and by `upsert_page` (the nightly sync). Search and
    pairing already skip them through `Person.can_be_messaged`; here their open
    requests are closed. Returns those requests: each learner gets a kind note,
    queued in the outbox by the caller (never by calling Slack inside the transaction).
    """
    if not person_ids:
        return []
    closed = close_open_requests(session, utcnow(), experts=person_ids)
    log.info(
        "members no longer reachable", extra={"person_ids": list(person_ids), "requests_closed": len(closed)}
    )
    return closed


# --------------------------------------------------------------------------- nightly sync


@dataclass
class SyncReport:
    seen: int = 0
    added: int = 0
    updated: int = 0
    # became deactivated (or a guest or bot) since the last time we looked
    deactivated: int = 0
    pages: int = 0
    # workspaces listed (an org-wide install lists each of its organisation's)
    workspaces: int = 0
    # Slack Connect members of other organisations, listed by Slack and left out
    external: int = 0

    def __str__(self) -> str:
        where = f" of {self.workspaces} workspaces" if self.workspaces > 1 else ""
        text = (
            f"{self.seen} members seen in {self.pages} pages{where}: {self.added} added, "
            f"{self.updated} updated, {self.deactivated} deactivated"
        )
        return text + (f", {self.external} from other organisations left out" if self.external else "")


def upsert_page(
    session: Session, members: Sequence[Mapping[str, Any]], report: SyncReport
) -> list[ChatRequest]:
    """One users.list page into `people`, counted in `report`; returns the requests it closed."""
    parsed = [(str(m["id"]), member_fields(m)) for m in members]
    ids = [slack_user_id for slack_user_id, _ in parsed]
    existing = {
        p.slack_user_id: p for p in session.scalars(select(Person).where(Person.slack_user_id.in_(ids)))
    }
    lost: list[int] = []
    for slack_user_id, fields in parsed:
        if slack_user_id not in existing and fields.get("is_deleted"):
            # A deactivated account we never stored (or whose data was erased on
            # request): nothing to keep, and storing it would undo the erasure.
            continue
        outcome = _upsert(session, slack_user_id, fields, existing.get(slack_user_id))
        report.added += outcome.added
        report.updated += outcome.changed and not outcome.added
        if outcome.lost_reach:
            lost.append(outcome.person_id)
    report.deactivated += len(lost)
    return members_deactivated(session, lost)


# --------------------------------------------------------------------------- functions from titles

# Words in titles that name a function without resembling its name. Only used
# when that function (case-insensitive) is configured.
_TITLE_SYNONYMS = {
    "developer": "engineering",
    "programmer": "engineering",
    "sre": "engineering",
    "devops": "engineering",
    "qa": "engineering",
    "ux": "design",
    "ui": "design",
    "hr": "people",
    "recruiter": "people",
    "recruiting": "people",
    "talent": "people",
    "accountant": "finance",
    "controller": "finance",
    "counsel": "legal",
    "lawyer": "legal",
    "attorney": "legal",
    "paralegal": "legal",
    "sdr": "sales",
    "bdr": "sales",
    "csm": "customer success",
    "support": "customer success",
}
_WORD = re.compile(r"[^\W\d_]+")
# Jaro-Winkler rewards shared prefixes, which is how titles derive from function
# names (engineer/Engineering, designer/Design, financial/Finance); 0.9 keeps
# unrelated words of similar length apart.
_WORD_CUTOFF = 0.9


def suggest_function(title: str, functions: list[str]) -> str | None:
    """The configured function a Slack title suggests, or None when nothing is close.

    "Senior Software Engineer" -> "Engineering"; "Account Executive" -> None
    unless a function resembles those words.
    """
    words = [w for w in _WORD.findall(title.casefold()) if len(w) >= 2]
    if not words or not functions:
        return None
    by_key = {f.casefold(): f for f in functions}
    for word in words:
        synonym = _TITLE_SYNONYMS.get(word)
        if synonym in by_key:
            return by_key[synonym]
    best, best_score = None, 0.0
    for function in functions:
        # A multi-word function named in full ("Customer Success Manager").
        score = fuzz.token_set_ratio(function.casefold(), " ".join(words)) / 100
        if score < 1.0:
            score = max(
                (
                    JaroWinkler.normalized_similarity(word, part)
                    for word in words
                    if len(word) >= 3
                    for part in _WORD.findall(function.casefold())
                    if len(part) >= 3
                ),
                default=0.0,
            )
        if score > best_score:
            best, best_score = function, score
    return best if best_score >= _WORD_CUTOFF else None


# --------------------------------------------------------------------------- CSV import of functions


class DirectoryImportError(Exception):
    """The import was refused; `errors` lists every bad line as (line number, message)."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(errors)} bad line(s); nothing was imported")
        self.errors = errors


@dataclass
class ImportReport:
    imported: int = 0
    # people named by id who were not in the directory yet (the next sync fills them in)
    stubs: int = 0


def read_csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """CSV text -> (line number, cells) for each non-blank row; line numbers are the file's."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))  # Excel writes a BOM
    rows: list[tuple[int, list[str]]] = []
    start = 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            rows.append((start, [cell.strip() for cell in cells]))
        start = reader.line_num + 1
    return rows


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_HEADERS = [["slack_user_id", "function"], ["user_id", "function"], ["email", "function"]]


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


def _wanted_functions(
    rows: list[tuple[int, list[str]]], functions: list[str], errors: list[tuple[int, str]]
) -> list[tuple[int, str, str]]:
    """Each well-formed row as (line, user id or email, configured function); bad lines go to `errors`."""
    by_key = {f.casefold(): f for f in functions}
    wanted: list[tuple[int, str, str]] = []
    for line, cells in rows:
        if len(cells) != 2:
            errors.append((line, f"expected 2 columns (slack_user_id or email, function), got {len(cells)}"))
            continue
        who, name = cells
        function = by_key.get(name.casefold())
        if function is None:
            errors.append((line, f"unknown function {name!r}; configured: {', '.join(functions)}"))
        if "@" in who:
            if not _EMAIL.match(who):
                errors.append((line, f"{who!r} is not a valid email address"))
                continue
        elif not _USER_ID.match(who):
            errors.append((line, f"{who!r} is neither a Slack user id (U…/W…) nor an email address"))
            continue
        if function is not None:
            wanted.append((line, who, function))

    return wanted


def import_functions(
    session: Session, rows: Iterable[tuple[int, list[str]]], functions: list[str]
) -> ImportReport:
    """Set `function` (source "import") from rows of `slack_user_id,function` or `email,function`.

    Every row is checked before anything is written; if any is bad, raises
    DirectoryImportError with all bad lines and changes nothing. The first row
    may be a header. Functions match the configured list case-insensitively
    and are stored in its spelling.
    """
    rows = list(rows)
    if rows and [c.casefold() for c in rows[0][1]] in _HEADERS:
        rows = rows[1:]
    if not rows:
        raise DirectoryImportError(
            [(1, "no rows to import; expected slack_user_id,function or email,function")]
        )

    errors: list[tuple[int, str]] = []
    wanted = _wanted_functions(rows, functions, errors)
    ids = sorted({who for _, who, _ in wanted if "@" not in who})
    emails = sorted({who.casefold() for _, who, _ in wanted if "@" in who})
    known_ids: set[str] = set()
    for chunk in _chunks(ids):
        known_ids.update(session.scalars(select(Person.slack_user_id).where(Person.slack_user_id.in_(chunk))))
    by_email: dict[str, list[str]] = {}
    for chunk in _chunks(emails):
        query = select(func.lower(Person.email), Person.slack_user_id).where(
            func.lower(Person.email).in_(chunk)
        )
        for email, slack_user_id in session.execute(query):
            by_email.setdefault(email, []).append(slack_user_id)

    resolved: dict[str, tuple[int, str]] = {}  # slack user id -> (line, function)
    for line, who, function in wanted:
        if "@" in who:
            matches = by_email.get(who.casefold(), [])
            if not matches:
                errors.append((line, f"no member has the email {who}; run `infochat directory sync` first"))
                continue
            if len(matches) > 1:
                errors.append((line, f"several members share the email {who}: {', '.join(sorted(matches))}"))
                continue
            slack_user_id = matches[0]
        else:
            slack_user_id = who
        if slack_user_id in resolved:
            errors.append((line, f"{who} is already given a function on line {resolved[slack_user_id][0]}"))
            continue
        resolved[slack_user_id] = (line, function)

    if errors:
        raise DirectoryImportError(sorted(errors))

    report = ImportReport()
    for slack_user_id in resolved.keys() - known_ids:
        # The next sync (or the member's first event) fills in the rest.
        report.stubs += _insert_if_absent(session, slack_user_id, {}) is not None
    people = {}
    for chunk in _chunks(sorted(resolved)):
        people.update(
            (p.slack_user_id, p)
            for p in session.scalars(select(Person).where(Person.slack_user_id.in_(chunk)))
        )
    for slack_user_id, (_line, function) in resolved.items():
        person = people[slack_user_id]
        person.function = function
        person.function_source = FUNCTION_SOURCE_IMPORT
        report.imported += 1
    session.flush()
    return report
