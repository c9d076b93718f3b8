"""Report benchmark: the full `/infochat report` over 50,000 people and a million chats.

    .venv/bin/python bench/reports.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                      [--people 50000] [--chats 1000000] [--runs 5] [--seed 1]
                                      [--sqlite-only | --pg-only] [--periods "" "last quarter" ...]
                                      [--breakdown] [--dump DIR] [--raw] [--reuse NAME] [--today YYYY-MM-DD]

Each backend gets a fresh database migrated with `bot.migrate.upgrade`: a
SQLite file in a temporary folder, and, with `--database-url` (a server URL),
a PostgreSQL database of its own created on that server and dropped at the
end. Both are seeded with the same rows (same `--seed`), generated in batches
and written with SQLAlchemy Core `insert()` executemany (SQLite) or `COPY`
(PostgreSQL), then ANALYZEd (PostgreSQL: VACUUM ANALYZE, the state autovacuum
leaves a live database in):

* `--people` people in the 11 default functions with skewed sizes (Legal has
  exactly 3 people, so its cells must be suppressed), plus one function HR's
  import added and 0.5 % without a function; 88 % joined (many at launch, the
  rest over two years), 4 % of those left again, a few deactivated, bots and
  guests; a third opted in to weekly pairing;
* 2,000 topics, spoken about by 70 % of people (1–6 each, Zipf-like) and
  wanted by 55 % (1–3);
* `--chats` chats over the last two years, more recent ones more often:
  72 % from accepted chat requests (popular experts asked far more often),
  the rest weekly pairings of two peers (1 % trios) with their rounds; 72 % held
  (`done_at` 1–3 weeks later), some pairings cancelled; participants' follow-up
  state (check-ins sent, answered, outcome), takeaways by a quarter of those
  who met (usefulness, topics, shared with me / expert / everyone);
* chat requests in every state besides accepted ones (declined, redirected,
  expired, closed, open in the last week): about 1.1 per chat from a request;
* searches, 0.6 per chat: three quarters for a catalogue topic (Zipf), the rest
  free text that mostly found nobody.

Then, per period (default: the last 4 weeks, last quarter, last year), it
times `bot.services.reports.compute_report` in its own session, exactly what
`/infochat report` and `infochat report` compute (summary against the previous
period, every table, suppression; not the Slack message or PNG charts), once
to warm up and `--runs` times measured, and prints median/min/max seconds
against the targets: under 1 s on PostgreSQL, under 2 s on SQLite (#17). The report reads
figures over chats, requests and people from the roll-ups (bot/services/reports/rollups.py); the
seeding writes with Core, which their marks do not see, so every day of the history is
built once after seeding, timed and printed like the seeding. Then it times
the HR dashboard's overview page (`GET /admin` over HTTP, default period, signed in
through a Slack stand-in; bench/dashboard.py): the first view, which computes the
report, and `--dashboard-requests` warm views against a p95 target of 300 ms.

`--breakdown` also prints the time of each query and table of the report as
`compute_report(timings=...)` measures it (mean over the runs); `--dump DIR`
writes every report table as CSV per backend and period, to compare results
before and after a query change (`diff -r`); `--raw` computes the report from
the raw rows instead of the roll-ups, so `--dump A` and `--raw --dump B` must
not differ.

`--reuse NAME` keeps the seeded data between runs, to iterate on queries
without reseeding: the SQLite file `$TMPDIR/NAME.db` and the PostgreSQL
database NAME are seeded when missing and reused (not reseeded, not dropped)
when present; seeding uses the day's date, so reuse them on the same UTC day
only, or pin the day with `--today` (the seeded history ends on that day and
reports are computed at its noon). Drop them by hand when done (`rm`, `DROP
DATABASE`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dashboard import time_overview  # bench/dashboard.py: the /admin overview over HTTP
from sqlalchemy import Table, create_engine, func, insert, make_url, select, text
from typeahead import postgres_database, topic_names  # bench/ is the script's folder

from bot import migrate
from bot.db import Database, normalise_url
from bot.models import (
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    Outcome,
    PairingRound,
    Person,
    PersonTopic,
    RequestStatus,
    Search,
    Share,
    Takeaway,
    Topic,
    TopicKind,
)
from bot.services import reports
from bot.services.reports import rollups
from bot.services.topics import topic_key
from bot.settings import DEFAULT_FUNCTIONS, load_settings

perf = time.perf_counter
TARGETS = {"SQLite": 2.0, "PostgreSQL": 1.0}  # #17 item 1
DEFAULT_PERIODS = ["", "last quarter", "last year", "last 2 years"]
DAYS = 730
BATCH = 20_000
FUNCTIONS = [f.strip() for f in DEFAULT_FUNCTIONS.split(",")]
# Relative sizes of the default functions; Legal is placed by hand (3 people).
FUNCTION_WEIGHTS = {
    "Engineering": 34,
    "Product": 7,
    "Design": 4,
    "Data": 6,
    "Sales": 16,
    "Marketing": 6,
    "Customer Success": 11,
    "Finance": 3,
    "People": 3,
    "Operations": 6,
    "Research": 1,  # not in the settings: added by HR's import
}
TINY_FUNCTION = "Legal"
ZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "UTC"]
FREE_WORDS = [
    "quantum", "basket", "weaving", "falconry", "origami", "zeppelin", "yodelling", "calligraphy",
    "sourdough", "beekeeping", "juggling", "kayak", "bonsai", "chess", "tango", "pottery",
    "sailing", "stoicism", "podcasting", "improv",
]  # fmt: skip
REQUEST_OTHER = [  # statuses of requests that did not become a chat, with weights
    (RequestStatus.DECLINED, 32),
    (RequestStatus.REDIRECTED, 10),
    (RequestStatus.EXPIRED, 46),
    (RequestStatus.CLOSED, 5),
    (RequestStatus.OPEN, 7),  # only in the last week; older ones expired
]
SHARES = [Share.ME, Share.EXPERT, Share.EVERYONE]


# -- seeding ------------------------------------------------------------------------------


class Writer:
    """Bulk inserts: Core `insert()` executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.counts: dict[str, int] = {}

    def write(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        if self.db.is_postgres:
            self._copy(table, rows)
            return
        with self.db.engine.begin() as connection:
            connection.execute(insert(table), rows)

    def _copy(self, table: Table, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        raw = self.db.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            with driver.cursor() as cursor:
                names = ", ".join(f'"{c}"' for c in columns)
                with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
            driver.commit()
        finally:
            raw.close()


class Company:
    """The seeded people and topics, as the chat generator needs them."""

    def __init__(self) -> None:
        self.joined_at: dict[int, datetime] = {}
        self.members: list[int] = []  # ever joined
        self.experts: list[int] = []
        self.expert_cum: list[float] = []
        self.topic_names: list[str] = []
        self.topic_cum: list[float] = []
        self.speakers: dict[int, int] = {}


def _zipf_cum(n: int, s: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) ** s for rank in range(n)))


def seed_people(w: Writer, args: argparse.Namespace, rng: random.Random, start: datetime) -> Company:
    company = Company()
    names = topic_names(args.topics, rng)
    company.topic_names = names
    company.topic_cum = _zipf_cum(len(names))
    w.write(
        Topic.__table__,
        [{"id": i + 1, "name": n, "key": topic_key(n), "created_at": start} for i, n in enumerate(names)],
    )
    labels = list(FUNCTION_WEIGHTS)
    cum = list(itertools.accumulate(FUNCTION_WEIGHTS.values()))
    tiny = set(rng.sample(range(1, args.people + 1), 3))
    now = start + timedelta(days=DAYS)
    people, links = [], []
    expert_weights = []
    for pid in range(1, args.people + 1):
        if pid in tiny:
            function: str | None = TINY_FUNCTION
        elif rng.random() < 0.005:
            function = None
        else:
            function = rng.choices(labels, cum_weights=cum)[0]
        joined = None
        if pid in tiny or rng.random() < 0.88:
            at_launch = rng.random() < 0.4
            joined = start + timedelta(days=rng.uniform(0, 20) if at_launch else rng.uniform(0, DAYS - 1))
        left = None
        deleted = False
        if joined is not None and pid not in tiny and rng.random() < 0.04:
            left = joined + (now - joined) * rng.random()
            deleted = rng.random() < 0.5
        roll = rng.random()
        people.append(
            {
                "id": pid,
                "slack_user_id": f"U{pid:08d}",
                "team_id": "T0BENCH",
                "name": f"person{pid}",
                "real_name": f"Person {pid}",
                "title": "Specialist",
                "tz": rng.choice(ZONES),
                "email": f"person{pid}@example.com",
                "is_deleted": deleted,
                "is_bot": roll < 0.002,
                "is_restricted": 0.002 <= roll < 0.012,
                "is_ultra_restricted": 0.012 <= roll < 0.015,
                "created_at": start - timedelta(days=30),
                "updated_at": joined or start,
                "joined_at": joined,
                "function": function,
                "ask_me_about": "",
                "chats_per_month": rng.choice([1, 2, 2, 2, 3, 4, 4, 6, 8]),
                "preferred_format": "any",
                "weekly_pairing": joined is not None and rng.random() < 0.35,
                "no_show_streak": 0,
                "left_at": left,
            }
        )
        if joined is not None:
            company.joined_at[pid] = joined
            company.members.append(pid)
        if rng.random() < 0.7:
            topics = set(
                rng.choices(range(1, len(names) + 1), cum_weights=company.topic_cum, k=rng.randint(1, 6))
            )
            for tid in topics:
                links.append({"person_id": pid, "topic_id": tid, "kind": TopicKind.SPEAK.value})
                company.speakers[tid] = company.speakers.get(tid, 0) + 1
            if joined is not None:
                company.experts.append(pid)
                expert_weights.append(rng.paretovariate(1.2))  # a few experts are asked far more
        if rng.random() < 0.55:
            for tid in set(
                rng.choices(range(1, len(names) + 1), cum_weights=company.topic_cum, k=rng.randint(1, 3))
            ):
                links.append({"person_id": pid, "topic_id": tid, "kind": TopicKind.LEARN.value})
        if len(people) >= BATCH:
            w.write(Person.__table__, people)
            people = []
    w.write(Person.__table__, people)
    for i in range(0, len(links), BATCH):
        w.write(PersonTopic.__table__, links[i : i + BATCH])
    company.expert_cum = list(itertools.accumulate(expert_weights))
    return company


def _pick(rng: random.Random, pool: list[int], joined_at: dict[int, datetime], at: datetime) -> int:
    """A member who had joined by `at` (a few tries, then anyone)."""
    for _ in range(4):
        pid = rng.choice(pool)
        if joined_at[pid] <= at:
            return pid
    return pid


def seed_chats(
    w: Writer, args: argparse.Namespace, rng: random.Random, company: Company, start: datetime
) -> None:
    now = start + timedelta(days=DAYS)
    span = DAYS * 86400.0
    # Rounds: one a week, Monday 09:00 UTC.
    monday = (start - timedelta(days=start.weekday())).replace(hour=9)
    rounds = []
    week_start = monday
    while week_start < now:
        iso = week_start.isocalendar()
        rounds.append(
            {
                "id": len(rounds) + 1,
                "week": f"{iso.year}-W{iso.week:02d}",
                "seed": rng.randrange(2**31),
                "created_at": week_start,
                "participants": 0,
            }
        )
        week_start += timedelta(days=7)
    w.write(PairingRound.__table__, rounds)

    n_topics = len(company.topic_names)
    topic_ids = range(1, n_topics + 1)
    # Chat times, sorted so ids grow with time as in a live database; density grows over the two years.
    times = sorted(span * rng.random() ** (1 / 1.4) for _ in range(args.chats))
    request_id = chat_id = 0
    open_pairs: set[tuple[int, int]] = set()
    experts, members, joined_at = company.experts, company.members, company.joined_at
    other_status = [s for s, _ in REQUEST_OTHER]
    other_cum = list(itertools.accumulate(n for _, n in REQUEST_OTHER))

    def request_row(created: datetime, learner: int, expert: int, tid: int | None, status: str) -> dict:
        responded = None
        if status in (RequestStatus.ACCEPTED, RequestStatus.DECLINED, RequestStatus.REDIRECTED):
            responded = min(now, created + timedelta(hours=rng.expovariate(1 / 20)))
        return {
            "id": 0,  # numbered in time order per batch
            "learner_id": learner,
            "expert_id": expert,
            "topic_id": tid,
            "topic_text": company.topic_names[tid - 1] if tid else "career change",
            "intro": "Hi!",
            "goal": "Learn the basics",
            "questions": "Where do I start?",
            "preferred_format": "any",
            "duration_minutes": 30,
            "status": status.value,
            "decline_reason": "busy" if status == RequestStatus.DECLINED else "",
            "redirect_to_id": rng.choice(experts) if status == RequestStatus.REDIRECTED else None,
            "created_at": created,
            "responded_at": responded,
            "nudged_at": None,
        }

    def topic() -> int | None:
        return None if rng.random() < 0.08 else rng.choices(topic_ids, cum_weights=company.topic_cum)[0]

    for chunk_start in range(0, len(times), BATCH):
        chunk = times[chunk_start : chunk_start + BATCH]
        requests: list[dict] = []
        chats: list[dict] = []
        parts: list[dict] = []
        notes: list[dict] = []
        learner_experts = rng.choices(experts, cum_weights=company.expert_cum, k=len(chunk))
        for offset, expert in zip(chunk, learner_experts, strict=True):
            created = start + timedelta(seconds=offset)
            chat_id += 1
            tid = topic()
            pairing = rng.random() < 0.28
            if pairing:
                week = min(len(rounds) - 1, max(0, (created - monday).days // 7))
                size = 3 if rng.random() < 0.01 else 2
                people = []
                while len(people) < size:
                    pid = _pick(rng, members, joined_at, created)
                    if pid not in people:
                        people.append(pid)
                roles = [ChatRole.PEER] * size
                round_id: int | None = rounds[week]["id"]
                req: dict | None = None
            else:
                learner = _pick(rng, members, joined_at, created)
                while learner == expert:
                    learner = _pick(rng, members, joined_at, created)
                asked = created - timedelta(hours=min(rng.expovariate(1 / 30), 24 * 7))
                requests.append(request_row(asked, learner, expert, tid, RequestStatus.ACCEPTED))
                people, roles = [learner, expert], [ChatRole.LEARNER, ChatRole.EXPERT]
                round_id, req = None, requests[-1]
            done = cancelled = None
            if pairing and rng.random() < 0.04:
                cancelled = created + timedelta(hours=rng.uniform(1, 72))
            elif rng.random() < 0.75:
                done = created + timedelta(days=1 + min(rng.expovariate(1 / 5), 20))
                if done >= now:
                    done = None
            chats.append(
                {
                    "id": chat_id,
                    "kind": (ChatKind.PAIRING if pairing else ChatKind.REQUEST).value,
                    "request_id": req,  # the request's row until it is numbered
                    "topic_id": tid,
                    "channel_id": f"C{chat_id:09d}",
                    "created_at": created,
                    "done_at": done,
                    "round_id": round_id,
                    "cancelled_at": cancelled if cancelled and cancelled < now else None,
                    "score": round(rng.uniform(10, 60), 1) if pairing else None,
                    "reasons": None,
                }
            )
            age = now - created
            for i, (pid, role) in enumerate(zip(people, roles, strict=True)):
                outcome = answered = next_checkin = None
                checkins = 0
                if done is not None and (i == 0 or rng.random() < 0.7):
                    outcome, answered, checkins = Outcome.MET, done, rng.randint(0, 2)
                elif age > timedelta(days=3):
                    checkins = rng.randint(1, 3)
                    roll = rng.random()
                    if roll < 0.25:
                        outcome, answered = Outcome.NOT_YET, created + timedelta(days=rng.uniform(3, 6))
                    elif roll < 0.4:
                        outcome, answered = Outcome.COULDNT, created + timedelta(days=rng.uniform(3, 8))
                    elif roll < 0.6 and checkins == 3:
                        outcome = Outcome.NO_ANSWER
                    if answered is not None and answered >= now:
                        outcome = answered = None
                else:
                    next_checkin = created + timedelta(days=3)
                parts.append(
                    {
                        "chat_id": chat_id,
                        "person_id": pid,
                        "role": role.value,
                        "outcome": outcome.value if outcome else None,
                        "outcome_reason": "schedule" if outcome == Outcome.COULDNT else None,
                        "answered_at": answered,
                        "checkins_sent": checkins,
                        "next_checkin_at": next_checkin,
                    }
                )
                if outcome == Outcome.MET and answered is not None and rng.random() < 0.25:
                    wrote = min(now - timedelta(minutes=1), answered + timedelta(hours=rng.uniform(0, 48)))
                    names = [company.topic_names[tid - 1]] if tid else []
                    if rng.random() < 0.3:
                        extra = rng.choices(topic_ids, cum_weights=company.topic_cum)[0]
                        names.append(company.topic_names[extra - 1])
                    notes.append(
                        {
                            "chat_id": chat_id,
                            "author_id": pid,
                            "text": "Learned a lot.",
                            "usefulness": None
                            if rng.random() < 0.1
                            else rng.choices([1, 2, 3, 4, 5], weights=[3, 7, 20, 40, 30])[0],
                            "topics": sorted(set(names)),
                            "share": rng.choices(SHARES, weights=[50, 30, 20])[0].value,
                            "show_name": rng.random() < 0.3,
                            "created_at": wrote,
                        }
                    )
        # Requests that never became a chat, spread over the same stretch of time.
        first, last = start + timedelta(seconds=chunk[0]), start + timedelta(seconds=chunk[-1])
        accepted = sum(1 for c in chats if c["request_id"] is not None)
        for _ in range(round(accepted * 0.55)):
            created = first + (last - first) * rng.random()
            status = rng.choices(other_status, cum_weights=other_cum)[0]
            if status == RequestStatus.OPEN and now - created > timedelta(days=7):
                status = RequestStatus.EXPIRED
            expert = rng.choices(experts, cum_weights=company.expert_cum)[0]
            learner = _pick(rng, members, joined_at, created)
            if status == RequestStatus.OPEN:
                if (learner, expert) in open_pairs or learner == expert:
                    status = RequestStatus.EXPIRED
                else:
                    open_pairs.add((learner, expert))
            requests.append(request_row(created, learner, expert, topic(), status))
        requests.sort(key=lambda r: r["created_at"])
        for request in requests:
            request_id += 1
            request["id"] = request_id
        for chat in chats:
            if chat["request_id"] is not None:
                chat["request_id"] = chat["request_id"]["id"]
        w.write(ChatRequest.__table__, requests)
        w.write(Chat.__table__, chats)
        w.write(ChatParticipant.__table__, parts)
        if w.db.is_postgres:
            for note in notes:
                note["topics"] = json.dumps(note["topics"])
        w.write(Takeaway.__table__, notes)


def seed_searches(
    w: Writer, args: argparse.Namespace, rng: random.Random, company: Company, start: datetime
) -> None:
    span = DAYS * 86400.0
    total = round(args.chats * args.searches_per_chat)
    n_topics = len(company.topic_names)
    free = [f"{a} {b}" for a in FREE_WORDS for b in FREE_WORDS if a != b] + FREE_WORDS
    free_cum = _zipf_cum(len(free), 1.1)
    times = sorted(span * rng.random() ** (1 / 1.4) for _ in range(total))
    search_id = 0
    for chunk_start in range(0, total, BATCH):
        rows = []
        for offset in times[chunk_start : chunk_start + BATCH]:
            created = start + timedelta(seconds=offset)
            search_id += 1
            if rng.random() < 0.75:
                tid = rng.choices(range(1, n_topics + 1), cum_weights=company.topic_cum)[0]
                query = company.topic_names[tid - 1].lower()
                results = min(50, company.speakers.get(tid, 0))
            else:
                tid = None
                query = rng.choices(free, cum_weights=free_cum)[0]
                if rng.random() < 0.1:
                    query = f"  {query.upper()} "  # grouped after lower(trim(query))
                results = 0 if rng.random() < 0.7 else rng.randint(1, 4)
            rows.append(
                {
                    "id": search_id,
                    "person_id": _pick(rng, company.members, company.joined_at, created),
                    "query": query,
                    "topic_id": tid,
                    "results": results,
                    "created_at": created,
                }
            )
        w.write(Search.__table__, rows)


def seed(db: Database, args: argparse.Namespace, start: datetime) -> dict[str, int]:
    rng = random.Random(args.seed)
    w = Writer(db)
    company = seed_people(w, args, rng, start)
    seed_chats(w, args, rng, company, start)
    seed_searches(w, args, rng, company, start)
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if db.is_postgres:
            for table in (
                "topics",
                "people",
                "chat_requests",
                "chats",
                "takeaways",
                "searches",
                "pairing_rounds",
            ):
                connection.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT coalesce(max(id), 1) FROM {table}))")
                )
            connection.execute(text("VACUUM ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
    return w.counts


# -- timing -------------------------------------------------------------------------------


def dump_report(report: reports.Report, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for table in report.all_tables():
        if table.key == "summary":
            # The summary's note names the dates; the figures are what must match.
            table.note = ""
        (folder / f"{table.key}.csv").write_bytes(reports.to_csv(table))


Row = tuple[str, str, str, int, float, float, float]


def measure(label: str, db: Database, args: argparse.Namespace, now: datetime) -> tuple[list[Row], list[str]]:
    settings = load_settings(database_url=str(db.url), functions=FUNCTIONS, min_group_size=5, timezone="UTC")
    rows: list[Row] = []
    notes: list[str] = []
    for spec in args.periods:
        period = reports.parse_period(spec, now, settings.timezone)
        times = []
        parts: dict[str, float] = {}
        for run in range(args.runs + 1):
            timings: dict[str, float] = {}
            t0 = perf()
            with db.session() as session:
                report = reports.compute_report(
                    session,
                    period,
                    functions=settings.functions,
                    min_group_size=settings.min_group_size,
                    now=now,
                    timings=timings,
                    use_rollups=not args.raw,
                )
            elapsed = perf() - t0
            if run:  # the warm-up is not measured
                times.append(elapsed)
                for part, seconds in timings.items():
                    parts[part] = parts.get(part, 0.0) + seconds
            else:
                print(f"{label}: {spec or 'last 4 weeks'} warm-up {elapsed:.2f} s", flush=True)
        name = spec or "last 4 weeks"
        rows.append((label, name, period.label, len(times), statistics.median(times), min(times), max(times)))
        print(format_row(rows[-1]), flush=True)
        chats = report.summary.metric("chats_held").current.show()
        notes.append(f"{label}, {name}: chats held {chats}, {len(report.tables)} tables")
        if args.breakdown:
            # Each query and table as compute_report times it (a table's time includes the
            # shared aggregates it was the first to need).
            for part, total in sorted(parts.items(), key=lambda kv: -kv[1]):
                print(f"    {part:<22} {total / len(times):7.3f} s per report")
        if args.dump:
            dump_report(report, Path(args.dump) / label / (name.replace(" ", "_")))
    return rows, notes


HEADER = (
    f"{'database':<10} {'period':<14} {'dates':<28} {'runs':>4} {'median s':>9} {'min s':>7} "
    f"{'max s':>7} {'target':>7}  result"
)


def format_row(row: Row) -> str:
    label, name, dates, n, median, low, high = row
    target = TARGETS[label]
    verdict = "PASS" if median < target else "MISS"
    return (
        f"{label:<10} {name:<14} {dates:<28} {n:>4} {median:>9.2f} {low:>7.2f} {high:>7.2f} "
        f"{'< ' + str(round(target)) + ' s':>7}  {verdict}"
    )


def counts_of(db: Database) -> dict[str, int]:
    tables = [Person, Topic, PersonTopic, ChatRequest, Chat, ChatParticipant, Takeaway, Search, PairingRound]
    with db.session() as session:
        return {
            m.__tablename__: int(session.scalar(select(func.count()).select_from(m)) or 0) for m in tables
        }


def build_rollups(db: Database, now: datetime, fresh: bool) -> str:
    """The seeding wrote with Core, which the roll-ups' marks do not see: forget any built
    day and build every day of the history, as `infochat report --build-rollups` does."""
    t0 = perf()
    with db.session() as session:
        if fresh:
            rollups.invalidate(session)
        days = rollups.build_all(session, "UTC", now)
    if db.is_postgres:
        # Chaining the searches rewrote them (and so does migration 0014 on a reused database):
        # reclaim the old rows now, as autovacuum would a minute later, so the runs compare.
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE searches")
            )
    return f"{days} days built in {perf() - t0:.1f} s"


def run_backend(
    label: str, url: str, args: argparse.Namespace, start: datetime, now: datetime, fresh: bool = True
) -> list[Row]:
    db = Database(url)
    try:
        t0 = perf()
        migrate.upgrade(db)  # a reused database may predate the roll-ups
        if fresh:
            seed(db, args, start)
        seeded = perf() - t0
        counts = counts_of(db)
        print(
            f"{label}: {f'seeded in {seeded:.0f} s' if fresh else 'reused'}: "
            + ", ".join(f"{n:,} {t}" for t, n in counts.items()),
            flush=True,
        )
        built = build_rollups(db, now, fresh)
        print(f"{label}: report roll-ups: {built}", flush=True)
        rows, notes = measure(label, db, args, now)
        for note in notes:
            print(f"    {note}")
        if args.dashboard_requests:
            timing = time_overview(url, functions=FUNCTIONS, now=now, requests=args.dashboard_requests)
            print(timing.line(label), flush=True)
        return rows
    finally:
        db.dispose()


def kept_postgres_database(admin_url: str, name: str) -> tuple[str, bool]:
    """The URL of database `name` on the server, created when missing; (url, created)."""
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = make_url(str(normalise_url(admin_url))).set(database=name).render_as_string(hide_password=False)
    return url, not exists


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="also run on PostgreSQL: a server URL (a database is created)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even with --database-url")
    only.add_argument("--pg-only", action="store_true", help="skip SQLite (needs --database-url)")
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--chats", type=int, default=1_000_000, help="chats over the last two years")
    parser.add_argument("--topics", type=int, default=2_000)
    parser.add_argument("--searches-per-chat", type=float, default=0.6)
    parser.add_argument("--runs", type=int, default=5, help="measured reports per period, after one warm-up")
    parser.add_argument(
        "--periods", nargs="+", default=DEFAULT_PERIODS, help='periods as admins type them; "" = last 4 weeks'
    )
    parser.add_argument("--breakdown", action="store_true", help="also time each query function")
    parser.add_argument(
        "--dashboard-requests",
        type=int,
        default=50,
        help="then time the dashboard's overview page: one cold GET /admin and N warm ones (0: skip)",
    )
    parser.add_argument("--dump", help="write every report table as CSV under this folder")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="read every figure from the raw rows, not the roll-ups (compare --dump)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        help="the UTC day the seeded history ends on and reports are computed (default: today); "
        "pin it to compare --dump output or --reuse data across days",
    )
    parser.add_argument(
        "--reuse", metavar="NAME", help="keep the seeded SQLite file / PostgreSQL database NAME and reuse it"
    )
    args = parser.parse_args(argv)
    if args.pg_only and not args.database_url:
        parser.error("--pg-only needs --database-url")
    if args.people < 10 or args.chats < 1 or args.runs < 1:
        parser.error("need at least 10 people, 1 chat and 1 run")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Whole days, so that two runs on the same UTC day seed identical rows (see --dump).
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if args.today:
        today = datetime(args.today.year, args.today.month, args.today.day, tzinfo=UTC)
    start = today - timedelta(days=DAYS)
    now = today + timedelta(hours=12)
    print(
        f"infochat report bench: {args.people:,} people, {args.chats:,} chats over {DAYS} days "
        f"(seed {args.seed}), {args.runs} runs per period after a warm-up\n"
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}\n",
        flush=True,
    )
    rows: list[Row] = []
    if not args.pg_only:
        if args.reuse:
            path = Path(tempfile.gettempdir()) / f"{args.reuse}.db"
            rows += run_backend("SQLite", f"sqlite:///{path}", args, start, now, fresh=not path.exists())
        else:
            with tempfile.TemporaryDirectory(prefix="infochat-reports-") as tmp:
                rows += run_backend("SQLite", f"sqlite:///{Path(tmp) / 'reports.db'}", args, start, now)
    if args.database_url and not args.sqlite_only:
        if args.reuse:
            url, fresh = kept_postgres_database(args.database_url, args.reuse)
            rows += run_backend("PostgreSQL", url, args, start, now, fresh=fresh)
        else:
            with postgres_database(args.database_url, prefix="infochat_bench_reports") as url:
                rows += run_backend("PostgreSQL", url, args, start, now)
    print("\n" + HEADER)
    for row in rows:
        print(format_row(row))
    return 0 if all(r[4] < TARGETS[r[0]] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
