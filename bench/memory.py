"""Memory of one `infochat serve` process: idle, after a weekly round, after an HR report.

    .venv/bin/python bench/memory.py [--people 5000] [--database-url postgresql://…/test]

The real `infochat serve` (one worker) runs as a subprocess against the Slack
stand-in (this process) and a fresh database seeded with bench/round.py's company
(`--people` colleagues in weekly pairing, 4 weeks of history): a temporary
SQLite file, or with `--database-url` a PostgreSQL database of its own on that
server, dropped afterwards. RSS is `VmRSS` in /proc/<pid>/status.

1. idle: after start-up (scheduler started, caches warmed, GC frozen) and a few
   requests (`/infochat help`, a find, an App Home), then 5 s of quiet.
   Target: under 100 MB. The heavy libraries loaded at that point are listed
   (numpy, scipy, matplotlib…: they should load only on the paths that need them).
2. after a round: `INFOCHAT_PAIRING_SCHEDULE` names a minute two to three minutes
   after start-up (UTC), so the scheduler runs this week's round in the server
   once the idle figure is taken, never during it (matching imports
   numpy and scipy); RSS once the round is written (delivery then goes on,
   paced at 50 conversations a minute, as in production).
3. after a report: `/infochat report` from an admin; RSS once the report (text
   and charts, matplotlib) has reached the admin in Slack.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ack  # bench/ is the script's folder
import round as round_bench
from sqlalchemy import func, select

from bot import migrate
from bot.db import Database
from bot.devtools.standin import SlackStandIn
from bot.models import PairingRound

TARGET_IDLE_MB = 100.0
HEAVY = ("numpy", "scipy", "matplotlib", "PIL", "pandas", "highspy", "kiwisolver", "rapidfuzz")
ADMIN = "U00000001"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def heavy_loaded(pid: int) -> list[str]:
    """Heavy libraries whose files the process has mapped (shared objects of numpy, scipy, …)."""
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read()
    return [name for name in HEAVY if f"/site-packages/{name}/" in maps or f"/{name}.libs/" in maps]


@contextlib.contextmanager
def database(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    if args.database_url:
        from typeahead import postgres_database

        with postgres_database(args.database_url, prefix="infochat_bench_memory") as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'memory.db'}"


def wait_for(predicate, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.5)
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    print(
        f"infochat memory bench: one `infochat serve`, {args.people} people, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}; load average {round_bench.load()}",
        flush=True,
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="infochat-memory-") as tmp, database(args, Path(tmp)) as url:
        db = Database(url)
        migrate.upgrade(db)
        round_bench.seed(db, args.people, 4, random.Random(1))
        with SlackStandIn(bot_token=ack.BOT_TOKEN) as standin:
            for i in range(1, args.people + 1):
                standin.add_user(f"U{i:08d}", name=f"person{i}", real_name=f"Person {i}")
            # Every minute would let the round start while the idle figure is taken (numpy and
            # scipy in an "idle" process): the round's minute is the one after next.
            fire = datetime.now(UTC) + timedelta(minutes=2)
            extra = {
                "INFOCHAT_PAIRING_SCHEDULE": f"{fire.minute} {fire.hour} * * *",
                "INFOCHAT_TIMEZONE": "UTC",
                "INFOCHAT_ADMINS": ADMIN,
                "INFOCHAT_LOG_LEVEL": "INFO",
            }
            with ack.infochat_serve(1, url, standin.url, Path(tmp), extra) as server:
                pid = server.proc.pid
                client_url = f"http://127.0.0.1:{server.port}/slack/events"
                from bot.devtools.slack_client import SlackAppClient

                with SlackAppClient(client_url, ack.SIGNING_SECRET, standin) as slack:
                    slack.command("U00000002", "help")
                    slack.command("U00000002", "find python")
                    slack.event({"type": "app_home_opened", "user": "U00000002", "tab": "home"})
                    time.sleep(5)
                    idle = rss_mb(pid)
                    print(f"  idle: {idle:.0f} MB RSS; heavy libraries loaded: {heavy_loaded(pid) or 'none'}")
                    idle_ok = idle < TARGET_IDLE_MB
                    verdict = "PASS" if idle_ok else "MISS"
                    print(f"  idle target < {TARGET_IDLE_MB:.0f} MB: {verdict}", flush=True)
                    ok &= idle_ok

                    def round_written() -> bool:
                        with db.session() as session:
                            # The summary is written last, in the round's own transaction.
                            written = select(func.count()).where(PairingRound.summary.is_not(None))
                            return bool(session.scalar(written))

                    waited = wait_for(round_written, 180, "the scheduled round")
                    time.sleep(2)
                    with db.session() as session:
                        made = session.scalars(select(PairingRound)).first()
                        size = f"{made.participants} people" if made else "?"
                    if not made or not made.participants:
                        print(server.log_tail(60))
                    print(
                        f"  after the round ({size}, written {waited:.0f} s after asking): "
                        f"{rss_mb(pid):.0f} MB RSS; "
                        f"loaded: {heavy_loaded(pid) or 'none'}",
                        flush=True,
                    )
                    before = len(standin.responses)
                    slack.command(ADMIN, "report")
                    # The report's last step answers the command's response_url ("sent … charts").
                    wait_for(lambda: len(standin.responses) > before, 300, "the report")
                    time.sleep(2)
                    print(
                        f"  after a report: {rss_mb(pid):.0f} MB RSS; loaded: {heavy_loaded(pid) or 'none'}",
                        flush=True,
                    )
        db.dispose()
    print(f"load average at the end {round_bench.load()}; overall {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
