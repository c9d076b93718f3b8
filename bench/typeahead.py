"""Topic type-ahead benchmark: `suggest_topics` and the signed block_suggestion round trip.

    .venv/bin/python bench/typeahead.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                        [--topics 10000] [--people 10000] [--links 100000]
                                        [--queries 400] [--http-queries 200] [--seed 1]

Each backend gets a fresh, migrated database: a SQLite file in a temporary
folder always, and, with `--database-url`, a PostgreSQL database of its own
created on that server and dropped afterwards. It is seeded with `--topics`
topics (two- and three-word names from a business/tech vocabulary, keys made by
`topic_key`), `--people` people and `--links` person_topics spread over the
topics Zipf-like (a few topics very popular, a long tail), then ANALYZEd
(PostgreSQL: VACUUM ANALYZE, the state autovacuum leaves a live database in).

Queries are what someone types into the profile modal: the first 1–4 letters
of a word of a random topic name (so most match something, as real typing
does). Two measurements per backend:

* server: one listener's work in-process, timed around
  `with db.session(): typeahead + topic_options` (the options listener's
  body; `typeahead` is `suggest_topics` plus the exact match), `--queries` per query length;
* HTTP: the full round trip of a signed `block_suggestion` request from
  `SlackAppClient` to the real app (`AppServer`: Bolt on uvicorn, in this
  process) and back, `--http-queries` in all, lengths mixed.

The table gives median, p95 and max in milliseconds, and the mean number of
options returned.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from bot import migrate
from bot.blocks.topics import topic_options
from bot.db import Database, normalise_url
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.models import Person, PersonTopic, Topic, TopicKind
from bot.services.topics import MAX_TOPIC_LENGTH, topic_key, typeahead
from bot.settings import load_settings

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-standin"
perf = time.perf_counter


def _words(text: str) -> list[str]:
    return text.split()


AREAS = _words("""
accessibility accounting advertising agile analytics api architecture auditing automation backend
benchmarking billing blockchain branding budgeting caching campaigns career churn cloud coaching
compliance compensation compilers containers content contracts copywriting crm cryptography culture
customer dashboards data databases debugging delivery design devops diversity documentation ecommerce
editing email encryption enterprise estimation ethics events experimentation facilitation feedback
finance forecasting frontend fundraising gaming governance graphics growth hiring hr identity incidents
infrastructure innovation insurance integrations interviewing inventory investing kubernetes labelling
leadership legal licensing localisation logistics loyalty marketing messaging metrics microservices
migrations mobile monitoring negotiation networking observability onboarding operations optimisation
partnerships payments performance photography planning platforms podcasting postgresql pricing privacy
procurement product programming prototyping python quality recruiting refactoring regulation reliability
reporting research retention risk roadmaps rust safety sales scheduling search security seo servers
sourcing speaking sql statistics storage storytelling strategy streaming supply support sustainability
taxes testing training translation treasury typography usability video visualisation wellbeing writing
""")

MODIFIERS = _words("""
advanced applied b2b basic behavioural collaborative continuous cross-team customer-facing data-driven
distributed early-stage effective enterprise ethical event-driven global hands-on inclusive internal
lean machine-learning mobile modern open-source practical predictive real-time remote responsible
scalable secure strategic technical user-centred visual
""")

SUFFIXES = _words("""
basics best-practices for-beginners at-scale in-practice strategy tooling workflows leadership reviews
audits fundamentals metrics playbooks operations
""")


def topic_names(count: int, rng: random.Random) -> list[str]:
    """`count` distinct topic names (distinct by `topic_key`), one to three words."""
    names: dict[str, str] = {}
    for area in AREAS:
        names.setdefault(topic_key(area), area.capitalize())
    while len(names) < count:
        area = rng.choice(AREAS)
        shape = rng.random()
        if shape < 0.45:
            words = [rng.choice(MODIFIERS), area]
        elif shape < 0.8:
            words = [area, rng.choice(SUFFIXES)]
        else:
            words = [rng.choice(MODIFIERS), area, rng.choice(SUFFIXES)]
        name = " ".join(words).replace("-", " ")
        name = name[:1].upper() + name[1:]
        if len(name) <= MAX_TOPIC_LENGTH:
            names.setdefault(topic_key(name), name)
    return list(names.values())[:count]


def seed(db: Database, n_topics: int, n_people: int, n_links: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    names = topic_names(n_topics, rng)
    with db.session() as session:
        session.execute(
            insert(Topic),
            [
                {"id": i + 1, "name": name, "key": topic_key(name), "created_at": now}
                for i, name in enumerate(names)
            ],
        )
        session.execute(
            insert(Person),
            [
                {"id": i + 1, "slack_user_id": f"U{i + 1:08d}", "name": f"person{i + 1}", "joined_at": now}
                for i in range(n_people)
            ],
        )
        # Zipf-like popularity over a shuffled order, so popular topics are not
        # simply the alphabetically first ones.
        order = list(range(1, len(names) + 1))
        rng.shuffle(order)
        weights = [1.0 / (rank + 1) for rank in range(len(order))]
        links: set[tuple[int, int, TopicKind]] = set()
        while len(links) < n_links:
            batch = rng.choices(order, weights=weights, k=n_links - len(links))
            for topic_id in batch:
                links.add(
                    (rng.randint(1, n_people), topic_id, rng.choice((TopicKind.SPEAK, TopicKind.LEARN)))
                )
        rows = [{"person_id": p, "topic_id": t, "kind": k} for p, t, k in links]
        for start in range(0, len(rows), 20_000):
            session.execute(insert(PersonTopic), rows[start : start + 20_000])
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if db.is_postgres:
            connection.execute(text("SELECT setval('topics_id_seq', (SELECT max(id) FROM topics))"))
            connection.execute(text("SELECT setval('people_id_seq', (SELECT max(id) FROM people))"))
            # The steady state autovacuum leaves: statistics, and a visibility map
            # that lets the popularity counts be index-only scans.
            connection.execute(text("VACUUM ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))


def queries(db: Database, per_length: int, rng: random.Random) -> dict[int, list[str]]:
    with db.engine.connect() as connection:
        names = [row[0] for row in connection.execute(text("SELECT name FROM topics"))]
    out: dict[int, list[str]] = {}
    for length in (1, 2, 3, 4):
        picked: list[str] = []
        while len(picked) < per_length:
            word = rng.choice(rng.choice(names).split())
            if len(word) >= length:
                picked.append(word[:length].lower() if rng.random() < 0.7 else word[:length])
        out[length] = picked
    return out


def listener_body(db: Database, query: str) -> int:
    """What the options listener does for one request (bot/listeners/options.py)."""
    with db.session() as session:
        found = typeahead(session, query)
        return len(topic_options(found.topics, query, exact=found.exact is not None))


def stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1)]  # nearest rank
    return 1000 * statistics.median(ordered), 1000 * p95, 1000 * ordered[-1]


Row = tuple[str, str, int, float, float, float, float]


def measure(label: str, db: Database, args: argparse.Namespace, rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    by_length = queries(db, args.queries, rng)
    for warm in by_length[2][:20]:  # connection pool, statement caches
        listener_body(db, warm)
    for length, qs in by_length.items():
        times, counts = [], []
        for q in qs:
            t0 = perf()
            counts.append(listener_body(db, q))
            times.append(perf() - t0)
        rows.append(
            (
                label,
                f"server, {length} letter{'s' if length > 1 else ''}",
                len(qs),
                *stats(times),
                statistics.mean(counts),
            )
        )
        print(format_row(rows[-1]), flush=True)

    mixed = [q for qs in by_length.values() for q in qs]
    rng.shuffle(mixed)
    mixed = mixed[: args.http_queries]
    with SlackStandIn(bot_token=BOT_TOKEN) as standin:
        settings = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            database_url=db.url.render_as_string(hide_password=False),
            slack_api_url=standin.url,
            auto_migrate=False,
        )
        with AppServer(settings, db=db) as server, SlackAppClient(server.events_url, SIGNING_SECRET) as slack:
            for warm in mixed[:20]:
                slack.block_suggestion("UBENCH", "speak_topics", warm)
            times, counts = [], []
            for q in mixed:
                t0 = perf()
                response = slack.block_suggestion("UBENCH", "speak_topics", q)
                times.append(perf() - t0)
                if response.status_code != 200:
                    raise RuntimeError(
                        f"block_suggestion {q!r}: HTTP {response.status_code} {response.text[:200]}"
                    )
                counts.append(len(response.json()["options"]))
    rows.append((label, "HTTP round trip, 1-4 letters", len(mixed), *stats(times), statistics.mean(counts)))
    print(format_row(rows[-1]), flush=True)
    return rows


HEADER = f"{'database':<10} {'measured':<30} {'queries':>7} " + " ".join(
    f"{title:>7}" for title in ("p50 ms", "p95 ms", "max ms", "options")
)


def format_row(row: Row) -> str:
    label, what, n, p50, p95, worst, options = row
    return f"{label:<10} {what:<30} {n:>7} {p50:>7.2f} {p95:>7.2f} {worst:>7.2f} {options:>7.1f}"


@contextmanager
def postgres_database(admin_url: str, prefix: str = "infochat_bench") -> Iterator[str]:
    """A database of our own on the given server, dropped afterwards."""
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(str(normalise_url(admin_url))).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(label: str, url: str, args: argparse.Namespace) -> list[Row]:
    rng = random.Random(args.seed)
    db = Database(url)
    try:
        migrate.upgrade(db)
        t0 = perf()
        seed(db, args.topics, args.people, args.links, rng)
        print(
            f"{label}: seeded {args.topics} topics, {args.people} people, {args.links} person_topics "
            f"in {perf() - t0:.1f} s",
            flush=True,
        )
        return measure(label, db, args, rng)
    finally:
        db.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="also run on PostgreSQL: a server URL (a database is created)")
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--links", type=int, default=100_000, help="person_topics rows (default 100000)")
    parser.add_argument(
        "--queries", type=int, default=300, help="server-side queries per length (default 300)"
    )
    parser.add_argument("--http-queries", type=int, default=300, help="HTTP round trips (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"infochat type-ahead bench: {args.topics} topics, {args.links} person_topics\n"
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}\n",
        flush=True,
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="infochat-typeahead-") as tmp:
        rows += run_backend("SQLite", f"sqlite:///{Path(tmp) / 'typeahead.db'}", args)
    if args.database_url:
        with postgres_database(args.database_url) as url:
            rows += run_backend("PostgreSQL", url, args)
    print("\n" + HEADER)
    for row in rows:
        print(format_row(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
