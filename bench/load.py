"""Load benchmark: signed `/infochat find` at rising concurrency against `infochat serve` on PostgreSQL.

    .venv/bin/python bench/load.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                   [--experts 10000] [--levels 1,2,4,8,16,32] [--duration 5]
                                   [--warmup 1] [--workers 1] [--runs 1]

A fresh PostgreSQL database of its own is created on the `--database-url` server,
migrated (`bot.migrate.upgrade`), seeded with bench/search.py's company
(`--experts` people, 2,000 topics spoken about Zipf-like, 8,000 chats) and dropped
at the end. The real `infochat serve` runs against it as a subprocess, with a Slack
Web API stand-in in this process (bench/ack.py's `infochat_serve`); the load comes
from this process too, a second one: bench/ack.py's asyncio client over keep-alive
HTTP/1.1 connections, each request signed as Slack signs it.

The requests are `/infochat find <query>` from random seeded people, cycling
through a shuffled mix of bench/search.py's query kinds: exact topic names (half
weighted to the popular topics, half uniform, so mostly rare ones), built-in
aliases, one-letter typos, reversed word order, "ask me about" words and words
nobody offers (no match: suggestions computed, the unmet search recorded). Every
answer must be a 200 whose body is a find result: a list of experts, "No one …"
or "Only people in your own function …"; anything else is an error.

`find` answers in the slash command's ack (bot/listeners/find.py), so the ack
latency measured here is what Slack (and the user) waits for. Each request's
`response_url` points at the stand-in all the same, and after the run the bench
reports how many posts reached it and which Web API calls were made, so a lazy
step added later is seen (and answered) instead of going to slack.com.

Per concurrency level (closed loop: each connection sends its next request when
the answer arrives): `--warmup` s, then `--duration` s measured; requests/s,
p50/p90/p99/max ms, errors, and CPU in % of one core for the server (all
workers), the PostgreSQL backends of the bench database, this client process,
and everything else on the machine. With `--runs R` all levels are repeated R
times and medians are shown. Targets on the 2-core VM: >= 300 req/s at the peak
level, and p99 <= 50 ms at 8 concurrent requests. The server is stopped with
SIGTERM and must exit 0. Exit status: 0 if no errors and a clean exit (targets
are reported, not enforced), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import ack  # bench/ is the script's folder
import search as search_bench
from typeahead import postgres_database

from bot import migrate
from bot.db import Database
from bot.devtools.standin import SlackStandIn

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_RPS, TARGET_P99_MS, TARGET_LEVEL = 300.0, 50.0, 8
AIM_P99_MS = 25.0  # #17 asks for the 50 ms with margin
# A find answer is one of these, whatever the query (bot/blocks/search.py); the
# first found names the kind of answer in the per-level counts.
WITH_EXPERTS, NO_ONE, OWN_ONLY = b'"ask_for_chat"', b"*No one ", b"*Only people in your own function"
ANSWER_KINDS = {WITH_EXPERTS: "experts listed", NO_ONE: "no one", OWN_ONLY: "own function only"}
perf = time.perf_counter


# --------------------------------------------------------------------------- workload


def find_commands(popular: list[str], args: argparse.Namespace) -> tuple[list[tuple[str, str]], Counter[str]]:
    """(user_id, "find <query>") pairs in a shuffled mix of every query kind, and the kinds' counts."""
    rng = random.Random(args.seed + 2)
    by_kind = search_bench.make_queries(popular, args.queries, rng)
    mix = [(kind, query) for kind, queries in by_kind.items() for query in queries]
    rng.shuffle(mix)
    searchers = [f"U{rng.randint(1, args.experts):08d}" for _ in range(256)]
    commands = [(rng.choice(searchers), f"find {query}") for _, query in mix]
    return commands, Counter(kind for kind, _ in mix)


# --------------------------------------------------------------------------- database CPU


def _database_cpu_seconds(database: str) -> float:
    """User+system CPU seconds of the PostgreSQL backends serving `database` (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    needle = f" {database} ".encode()
    total = 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            if not cmdline.startswith(b"postgres: ") or needle not in cmdline:
                continue
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


@dataclass
class LevelRow:
    row: ack.Row  # other_cpu there excludes the database's share
    db_cpu: float | None
    answers: Counter[bytes]


def sample(server_pid: int, database: str) -> tuple[ack.CpuSample, float, float]:
    return ack.CpuSample.take(server_pid), _database_cpu_seconds(database), perf()


def measure_level(
    loop: asyncio.AbstractEventLoop,
    run: int,
    conns: int,
    args: argparse.Namespace,
    server: ack.Server,
    workload: ack.Workload,
    database: str,
) -> LevelRow:
    cpu0, db0, t0 = sample(server.proc.pid, database)
    phase = loop.run_until_complete(
        ack.run_phase(server.port, conns, args.warmup, args.duration, args.max_requests, workload)
    )
    cpu1, db1, t1 = sample(server.proc.pid, database)
    wall = t1 - t0
    srv, cli, other = cpu1.since(cpu0, wall)
    db = (db1 - db0) / wall
    row = ack.summarise(run, phase, (srv, cli, None if other is None else max(0.0, other - db)))
    return LevelRow(row, db, phase.answers)


# --------------------------------------------------------------------------- reporting


HEADER = (
    f"{'run':>4} {'conns':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
    f"{'max ms':>7} {'errors':>6} {'srv CPU':>7} {'db CPU':>6} {'cli CPU':>7} {'other':>6} {'srv us/req':>10}"
)


def format_level(level: LevelRow, label: str | None = None) -> str:
    row, cpu = level.row, ack._fmt_cpu
    return (
        f"{label or str(row.run):>4} {row.connections:>5} {row.requests:>8} {row.rps:>7.0f} "
        f"{row.p50:>7.2f} {row.p90:>7.2f} {row.p99:>7.2f} {row.max:>7.2f} {row.errors:>6} "
        f"{cpu(row.server_cpu):>7} {cpu(level.db_cpu):>6} {cpu(row.client_cpu):>7} "
        f"{cpu(row.other_cpu):>6} {ack._fmt_num(row.server_us_per_request):>10}"
    )


def format_answers(answers: Counter[bytes]) -> str:
    return ", ".join(f"{answers[marker]} {kind}" for marker, kind in ANSWER_KINDS.items())


def median_level(levels: list[LevelRow]) -> LevelRow:
    known = [lv.db_cpu for lv in levels if lv.db_cpu is not None]
    answers: Counter[bytes] = Counter()
    for lv in levels:
        answers += lv.answers
    return LevelRow(
        ack.median_row([lv.row for lv in levels]), statistics.median(known) if known else None, answers
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help=f"PostgreSQL admin URL; a database is made there, then dropped (default {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument("--experts", type=int, default=10_000, help="people seeded (default 10,000)")
    parser.add_argument("--topics", type=int, default=2_000)
    parser.add_argument("--chats", type=int, default=8_000, help="chats over the last 120 days")
    parser.add_argument(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 2, 4, 8, 16, 32],
        help="comma-separated concurrent connections, one phase each (default 1,2,4,8,16,32)",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per level (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per level (default 1)")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="measured requests per level, at most"
    )
    parser.add_argument("--workers", type=int, default=1, help="INFOCHAT_WORKERS for the server (default 1)")
    parser.add_argument(
        "--http-threads", type=int, help="INFOCHAT_HTTP_THREADS for the server (default: the app's own)"
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat all levels R times and show medians")
    parser.add_argument(
        "--queries", type=int, default=200, help="queries of each kind in the mix (default 200)"
    )
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so the `finally` blocks stop the server and drop the database


def seed_database(url: str, args: argparse.Namespace) -> list[str]:
    db = Database(url)
    try:
        migrate.upgrade(db)
        t0 = perf()
        popular = search_bench.seed(db, args, random.Random(args.seed))
        print(
            f"seeded {args.experts} people, {args.topics} topics, {args.chats} chats in {perf() - t0:.1f} s",
            flush=True,
        )
        return popular
    finally:
        db.dispose()


def run(args: argparse.Namespace, url: str, workdir: Path) -> tuple[list[LevelRow], bool]:
    """Seed, serve, drive every level; (rows, whether anything failed)."""
    database = url.rsplit("/", 1)[1].split("?", 1)[0]
    popular = seed_database(url, args)
    commands, kinds = find_commands(popular, args)
    print(
        f"query mix ({len(commands)} queries, cycled): " + ", ".join(f"{n} {k}" for k, n in kinds.items()),
        flush=True,
    )
    rows: list[LevelRow] = []
    failed = False
    with SlackStandIn(bot_token=ack.BOT_TOKEN) as standin:
        workload = ack.Workload(
            markers=tuple(ANSWER_KINDS),
            expected="a find result",
            commands=commands,
            response_url=standin.new_response_url(),
        )
        loop, _ = ack.new_event_loop()
        try:
            with ack.infochat_serve(args.workers, url, standin.url, workdir, ack.server_env(args)) as server:
                # Bolt's auth.test, imports and the search caches in every worker.
                warm = loop.run_until_complete(
                    ack.run_phase(server.port, max(4, 4 * args.workers), 2.0, 0.0, 1, workload)
                )
                print(f"warm-up: {warm.issued} requests, {warm.errors} errors\n", flush=True)
                print(HEADER, flush=True)
                for run_no in range(1, args.runs + 1):
                    for conns in args.levels:
                        level = measure_level(loop, run_no, conns, args, server, workload, database)
                        rows.append(level)
                        print(format_level(level), flush=True)
                        if level.row.detail:
                            print(f"{'':>11}errors: {level.row.detail}", flush=True)
                        if server.proc.poll() is not None:
                            raise RuntimeError(f"infochat serve died:\n{server.log_tail()}")
            print(f"\nserver (workers={args.workers}) stopped with SIGTERM: exit code {server.exit_code}")
            failed |= server.exit_code != 0
            if server.exit_code != 0:
                print(server.log_tail(), flush=True)
        finally:
            loop.close()
        answered = sum((lv.answers for lv in rows), Counter[bytes]())
        answered += warm.answers
        other_calls = Counter(c.method for c in standin.calls if c.method != "auth.test")
        print(
            f"results delivered in the ack body (find answers there): {sum(answered.values())} answers "
            f"({format_answers(answered)})\n"
            f"response_url posts received by the stand-in: {len(standin.responses)}; Web API calls besides "
            f"auth.test: {', '.join(f'{m} x{n}' for m, n in other_calls.items()) or 'none'}",
            flush=True,
        )
    failed |= any(lv.row.errors for lv in rows) or warm.errors > 0
    return rows, failed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _, loop_name = ack.new_event_loop()
    print(
        f"infochat load bench: signed `/infochat find` on PostgreSQL, keep-alive HTTP/1.1 on 127.0.0.1\n"
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.2f} at start\n"
        f"client: this process, one {loop_name} event loop; server: `infochat serve` subprocess, "
        f"workers {args.workers}\n"
        f"levels: {', '.join(map(str, args.levels))} connections, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s measured each, runs {args.runs}\n"
        f"CPU columns, in % of one core: the server (all workers), the PostgreSQL backends of the\n"
        f"bench database, this client process, and everything else on the machine meanwhile (if that\n"
        f"is high, the machine was shared); srv us/req is the server's CPU time per request.\n",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="infochat-load-") as tmp,
        postgres_database(args.database_url, prefix="infochat_bench_load") as url,
    ):
        rows, failed = run(args, url, Path(tmp))
    print("database dropped")
    summary = [median_level([lv for lv in rows if lv.row.connections == c]) for c in args.levels]
    title = f"median of {args.runs} runs" if args.runs > 1 else "summary"
    print(f"\n{title} (errors summed over runs):")
    print(HEADER)
    for level in summary:
        print(format_level(level, label="med" if args.runs > 1 else "1"))
    if summary:
        peak = max(summary, key=lambda lv: lv.row.rps)
        print(
            f"\ntarget >= {TARGET_RPS:.0f} req/s (peak): {peak.row.rps:.0f} req/s at "
            f"{peak.row.connections} connections: {'PASS' if peak.row.rps >= TARGET_RPS else 'MISS'}"
        )
        at = [lv for lv in summary if lv.row.connections == TARGET_LEVEL]
        if at:
            p99 = at[0].row.p99
            verdict = "PASS" if p99 <= TARGET_P99_MS and at[0].row.errors == 0 else "MISS"
            print(
                f"target p99 <= {TARGET_P99_MS:.0f} ms at {TARGET_LEVEL} connections: {p99:.1f} ms: {verdict}"
            )
            aim = "PASS" if p99 <= AIM_P99_MS else "MISS"
            print(f"aim (margin, #17): p99 <= {AIM_P99_MS:.0f} ms at {TARGET_LEVEL} connections: {aim}")
        else:
            print(f"target p99 <= {TARGET_P99_MS:.0f} ms at {TARGET_LEVEL} connections: not measured")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
