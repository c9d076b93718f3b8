"""A whole weekly round at company scale, then its delivery against Slack's rate limits.

    .venv/bin/python bench/round.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                    [--people 50000] [--history-weeks 12] [--deliver all|N|0] [--seed 1]

1. A PostgreSQL database of its own is created on the server, migrated and
   seeded: `--people` colleagues who all take part in weekly pairing, in the 11
   default functions, six office time zones, each speaking about 3–8 of 2,000
   topics (Zipf-like) and wanting to learn 2–5; `--history-weeks` earlier
   rounds (60 % of people each week, 70 % of those chats held), so the cooldown
   and "met before" have work to do; then VACUUM ANALYZE.
2. **The round**, in a fresh process (so its peak RSS is the round's, as the
   scheduler's job would see it in `infochat serve`): `bot.flows.pairing.run_round`
   at a pinned instant, without delivery: eligibility, matching, writing the
   round and its chats, queuing every intro in the outbox, one transaction.
   Target: under 60 s and under 1.5 GB peak RSS.
3. **Delivery** of what was queued (the ~N/2 group intros, the unmatched notes and
   the admin's summary) by the real outbox (`bot.flows.outbox.OutboxSender`)
   through the real Slack gateway to the Slack stand-in with Slack's rate limits
   on (`bot/devtools/standin/ratelimits.py`: `conversations.open` Tier 3, 50 a
   minute with a burst of 50; `chat.postMessage` 1 a second per channel with a
   burst of 3). Time is simulated (`bot.clock.simulated_time`): the gateway's
   pacing and any Retry-After move the clock on instead of waiting, and the
   stand-in's limiter reads the same clock, so hours of Slack's time take
   minutes. Every intro opens a group DM, so the floor is set by
   `conversations.open`: (messages - burst) / rate. Targets: the outbox finishes
   within 5 % of that floor, and no limit refuses two calls in a row. Intros
   held for the morning in someone's time zone are treated as due (`as_of`), as
   the demo's fast-forward does: this measures sending, not waiting for 08:00.

Every phase prints its figures and PASS/MISS, with the machine's load average.
Exit status 0 when every target is met.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from typeahead import postgres_database, topic_names  # bench/ is the script's folder

from bot import clock, migrate
from bot.db import Database
from bot.models import (
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRole,
    OutboxMessage,
    OutboxStatus,
    Person,
    PersonTopic,
    Topic,
    TopicKind,
)
from bot.services.topics import topic_key
from bot.settings import DEFAULT_FUNCTIONS

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
BOT_TOKEN = "xoxb-standin"
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # a Monday morning
ZONES = ["Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "Asia/Singapore", "UTC"]
TARGET_SECONDS, TARGET_RSS_MB, TARGET_FLOOR_SHARE = 60.0, 1536.0, 0.05
perf = time.perf_counter


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------- seeding


def seed(db: Database, people: int, history_weeks: int, rng: random.Random) -> None:
    names = list({topic_key(n): n for n in topic_names(2000, rng)}.values())
    functions = [f.strip() for f in DEFAULT_FUNCTIONS.split(",")]
    fn_weights = [1 / (i + 1) ** 0.7 for i in range(len(functions))]
    order = list(range(1, len(names) + 1))
    rng.shuffle(order)
    weights = [1 / (rank + 1) for rank in range(len(order))]
    long_ago = NOW - timedelta(days=400)
    rows, links = [], []
    for i in range(1, people + 1):
        rows.append(
            {
                "id": i,
                "slack_user_id": f"U{i:08d}",
                "name": f"person{i}",
                "real_name": f"Person {i}",
                "title": "Specialist",
                "tz": rng.choice(ZONES),
                "function": rng.choices(functions, fn_weights)[0],
                "chats_per_month": rng.choice([2, 4, 4, 4, 6, 8]),
                "weekly_pairing": True,
                "joined_at": long_ago,
                "created_at": long_ago,
                "updated_at": long_ago,
            }
        )
        speaks = set(rng.choices(order, weights=weights, k=rng.randint(3, 8)))
        learns = set(rng.choices(order, weights=weights, k=rng.randint(2, 5))) - speaks
        links += [{"person_id": i, "topic_id": t, "kind": TopicKind.SPEAK} for t in speaks]
        links += [{"person_id": i, "topic_id": t, "kind": TopicKind.LEARN} for t in learns]
    chats, participants = [], []
    chat_id = 0
    for week in range(history_weeks, 0, -1):
        created = NOW - timedelta(weeks=week)
        ids = rng.sample(range(1, people + 1), int(0.6 * people) // 2 * 2)
        for a, b in zip(ids[::2], ids[1::2], strict=True):
            chat_id += 1
            held = rng.random() < 0.7
            chats.append(
                {
                    "id": chat_id,
                    "kind": ChatKind.PAIRING,
                    "created_at": created,
                    "done_at": created + timedelta(days=3) if held else None,
                }
            )
            participants += [
                {"chat_id": chat_id, "person_id": a, "role": ChatRole.PEER},
                {"chat_id": chat_id, "person_id": b, "role": ChatRole.PEER},
            ]
    topics = [
        {"id": i + 1, "name": n, "key": topic_key(n), "created_at": long_ago} for i, n in enumerate(names)
    ]
    for model, batch in (
        (Topic, topics),
        (Person, rows),
        (PersonTopic, links),
        (Chat, chats),
        (ChatParticipant, participants),
    ):
        bulk_insert(db, model.__table__, batch)
    finish_seeding(db)


def finish_seeding(db: Database) -> None:
    """After bulk inserts (past the flush hooks that keep person_usage and search's ranking
    rows): those rows computed as the app would, id sequences moved on, statistics fresh."""
    from bot.services import expert_ranks, usage

    with db.session() as session:
        usage.rebuild(session)
        expert_ranks.rebuild(session)
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if db.is_postgres:
            for table in ("topics", "people", "chats"):
                connection.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
            connection.execute(text("VACUUM ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))


def bulk_insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (executemany took 14 minutes for this company on a busy machine),
    Core executemany on SQLite. COPY skips SQLAlchemy's Python-side defaults, so they are
    filled in here."""
    if not rows:
        return
    if not db.is_postgres:
        with db.engine.begin() as connection:
            for start in range(0, len(rows), 20_000):
                connection.execute(insert(table), rows[start : start + 20_000])
        return
    fill: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in rows[0] or default is None:
            continue
        if default.is_scalar:
            fill[column.name] = default.arg
        elif default.is_callable:
            fill[column.name] = default.arg(None)
    columns = [*rows[0], *fill]
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    values = [row[c] if c in row else fill[c] for c in columns]
                    copy.write_row([v.value if isinstance(v, enum.Enum) else v for v in values])
        driver.commit()
    finally:
        raw.close()


# --------------------------------------------------------------------------- the round (child process)


def _timed(owner: Any, name: str, spent: dict[str, float], cpu: dict[str, float]) -> None:
    """Wrap owner.name to add its wall time to spent[name] and this process's CPU time to
    cpu[name] (a bench's stopwatch, not a mock)."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = perf(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + perf() - t0
            cpu[name] = cpu.get(name, 0.0) + time.process_time() - c0

    setattr(owner, name, wrapper)


def _backend_cpu(db: Database) -> float | None:
    """CPU seconds of the PostgreSQL backends serving this database, read from /proc when
    the server runs on this machine (None otherwise): the round's share of the server."""
    with db.engine.connect() as connection:
        pids = list(
            connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
        )
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"postgres" not in f.read():
                    return None
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def run_round_child(url: str, seed_value: int) -> dict[str, Any]:
    from bot.context import AppContext
    from bot.flows import pairing as pairing_flow
    from bot.gateway.slack import SlackGateway, build_web_client
    from bot.services import matching, pairing
    from bot.settings import load_settings

    spent: dict[str, float] = {}
    cpu: dict[str, float] = {}
    _timed(pairing, "eligible_people", spent, cpu)
    _timed(pairing, "build_input", spent, cpu)
    _timed(matching, "match", spent, cpu)
    _timed(pairing_flow, "_queue_messages", spent, cpu)
    settings = load_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="bench",
        database_url=url,
        slack_api_url="http://127.0.0.1:9/api/",  # never called: no delivery here
        admins=["U00000001"],
    )
    db = Database(url)
    ctx = AppContext(
        settings=settings, db=db, slack=SlackGateway(build_web_client(BOT_TOKEN, settings.slack_api_url))
    )
    rss_before = _rss_mb()
    t0, c0 = perf(), time.process_time()
    with clock.frozen_at(NOW):
        report = pairing_flow.run_round(ctx, NOW, seed=seed_value, deliver=False)
    total, total_cpu = perf() - t0, time.process_time() - c0
    server_cpu = _backend_cpu(db) if db.is_postgres else None
    db.dispose()
    return {
        "seconds": total,
        "cpu_seconds": total_cpu,
        "server_cpu_seconds": server_cpu,
        "spent": spent,
        "cpu": cpu,
        "participants": report.participants,
        "pairs": report.pairs,
        "trios": report.trios,
        "unmatched": len(report.unmatched),
        "rss_before_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _steps(spent: dict[str, float], total: float) -> str:
    """The round's steps, as docs/performance.md's table lists them."""
    steps = {
        "eligibility": spent.get("eligible_people", 0.0),
        "history and topics": spent.get("build_input", 0.0),
        "matching": spent.get("match", 0.0),
        "queuing the intros": spent.get("_queue_messages", 0.0),
    }
    rest = total - sum(steps.values())
    shown = ", ".join(f"{name} {value:.2f} s" for name, value in steps.items())
    return f"{shown}, writing the round and committing {rest:.2f} s (total {total:.2f} s)"


def round_phase(url: str, seed_value: int) -> tuple[dict[str, Any], bool]:
    print(f"\nthe round (fresh process), load average {load()}:", flush=True)
    out = subprocess.run(
        [sys.executable, __file__, "--child-round", url, "--seed", str(seed_value)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    )
    if out.returncode != 0:
        print(out.stdout[-2000:], out.stderr[-4000:])
        raise RuntimeError("the round failed")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"  {result['participants']} eligible, {result['pairs']} pairs, {result['trios']} trios, "
        f"{result['unmatched']} unmatched\n"
        f"  wall: {_steps(result['spent'], result['seconds'])}\n"
        f"  CPU of the round's process: {_steps(result['cpu'], result['cpu_seconds'])}\n"
        f"  CPU of PostgreSQL's backends for the round: "
        + (
            "not readable here (server elsewhere)"
            if result["server_cpu_seconds"] is None
            else f"{result['server_cpu_seconds']:.2f} s"
        )
        + f"\n  RSS before the round {result['rss_before_mb']:.0f} MB (interpreter and imports)",
        flush=True,
    )
    ok_time = result["seconds"] < TARGET_SECONDS
    ok_rss = result["peak_rss_mb"] < TARGET_RSS_MB
    print(
        f"  round: {result['seconds']:.1f} s (target < {TARGET_SECONDS:.0f} s) {verdict(ok_time)}; "
        f"peak RSS {result['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB:.0f} MB) {verdict(ok_rss)}",
        flush=True,
    )
    return result, ok_time and ok_rss


# --------------------------------------------------------------------------- delivery


def delivery_phase(url: str, people: int, limit: int | None) -> bool:
    from sqlalchemy import func, select, update

    from bot.app import build_app
    from bot.devtools.standin import RateLimits, SlackStandIn
    from bot.devtools.standin.ratelimits import METHOD_TIERS, floor_seconds
    from bot.flows.outbox import OutboxSender
    from bot.settings import load_settings

    db = Database(url)
    with db.session() as session:
        queued = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        if limit is not None and limit < queued:
            # Deliver only the first `limit`: the rest are marked failed so the outbox skips them.
            cut = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id).offset(limit).limit(1))
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id >= cut).values(status=OutboxStatus.FAILED)
            )
            queued = limit
    print(f"\ndelivery of {queued} queued messages, simulated time, load average {load()}:", flush=True)
    limits = RateLimits(clock=clock.monotonic)
    standin = SlackStandIn(bot_token=BOT_TOKEN, rate_limits=limits)
    for i in range(1, people + 1):
        standin.add_user(f"U{i:08d}", name=f"person{i}", real_name=f"Person {i}")
    with standin:
        settings = load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret="bench",
            database_url=url,
            slack_api_url=standin.url,
        )
        ctx = build_app(settings, db=db).ctx
        sent = failed = 0
        t0 = perf()
        with clock.simulated_time(NOW) as simulated:
            sender = OutboxSender(ctx)
            while True:
                report = sender.drain(limit=500, as_of=NOW + timedelta(days=2))
                sent, failed = sent + report.sent, failed + report.failed
                standin.reset()  # keep the stand-in's call log from growing; the limiter keeps its own
                if report.sent + report.failed + report.retrying + report.reconciled == 0:
                    break
                if (sent + failed) % 5000 < 500:
                    print(
                        f"  {sent + failed} done, {simulated.elapsed() / 3600:.2f} h of Slack's time, "
                        f"{perf() - t0:.0f} s real",
                        flush=True,
                    )
            took = simulated.elapsed()
        real = perf() - t0
    opens = sum(1 for d in limits.log if d.method == "conversations.open" and d.retry_after is None)
    floor = floor_seconds(opens, METHOD_TIERS["conversations.open"])
    refused = limits.refused()
    twice = limits.refused_twice_in_a_row()
    over = took / floor - 1 if floor else 0.0
    print(
        f"  sent {sent}, failed {failed}; conversations.open {opens}, 429s {len(refused)}, "
        f"refused twice in a row {len(twice)}\n"
        f"  Slack's time {took / 3600:.3f} h against a floor of {floor / 3600:.3f} h "
        f"({100 * over:+.2f} %), real time {real:.0f} s ({1000 * real / max(1, sent):.1f} ms a message)",
        flush=True,
    )
    ok_floor = sent == queued and over <= TARGET_FLOOR_SHARE
    ok_twice = not twice
    print(
        f"  delivery: everything sent within {100 * TARGET_FLOOR_SHARE:.0f} % of the floor "
        f"{verdict(ok_floor)}; never refused twice in a row {verdict(ok_twice)}",
        flush=True,
    )
    db.dispose()
    return ok_floor and ok_twice


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="PostgreSQL server (admin URL)")
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--history-weeks", type=int, default=12)
    parser.add_argument("--deliver", default="all", help="all (default), a number of messages, or 0 to skip")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child-round", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_round:
        print(json.dumps(run_round_child(args.child_round, args.seed)))
        return 0
    print(
        f"infochat round bench: {args.people} people, {args.history_weeks} weeks of history, PostgreSQL\n"
        f"machine: {os.cpu_count()} CPUs, load average {load()}",
        flush=True,
    )
    ok = True
    with postgres_database(args.database_url, prefix="infochat_bench_round") as url:
        db = Database(url)
        try:
            migrate.upgrade(db)
            t0 = perf()
            seed(db, args.people, args.history_weeks, random.Random(args.seed))
            print(f"seeded in {perf() - t0:.0f} s", flush=True)
        finally:
            db.dispose()
        _, round_ok = round_phase(url, args.seed)
        ok &= round_ok
        if args.deliver != "0":
            ok &= delivery_phase(url, args.people, None if args.deliver == "all" else int(args.deliver))
    print(f"\nload average at the end {load()}; overall {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
