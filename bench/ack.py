"""Ack-path benchmark: signed `/infochat help` against a real `infochat serve`.

    .venv/bin/python bench/ack.py [--workers N] [--duration S] [--database-url URL]
                                  [--runs R] [--compare] [--connections 1,16,64]

The server is the real `infochat serve`, started as a subprocess (`python -m bot
serve`) on a free port of 127.0.0.1; a Slack Web API stand-in in this process
answers the one `auth.test` Bolt makes on its first request. The load comes from
this process (a separate one from the server): an asyncio raw-socket HTTP/1.1
client over keep-alive connections, each request signed exactly as Slack signs
it (`v0` HMAC-SHA256 of `v0:{timestamp}:{body}`; signed once per connection and
re-signed every minute, well inside Bolt's 5-minute window). Every response must
be a 200 carrying the help text; anything else is counted as an error.

Each phase (1, 16, 64 connections by default) warms up for `--warmup` seconds,
then measures for `--duration` seconds (or `--max-requests`, whichever comes
first). The server is always stopped with SIGTERM and must exit 0. Exit status:
0 if no errors and a clean server exit, 1 otherwise (the throughput targets are
reported, not enforced).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

import ackmix  # bench/ is the script's folder

from bot.devtools.standin import SlackStandIn
from bot.settings import DEFAULT_FUNCTIONS

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-standin"
TEAM_ID = "T0INFOCHAT"
HELP_MARKER = b"/infochat find &lt;topic&gt;"  # a line of the help text, as the ack carries it
RESIGN_EVERY = 60.0  # seconds; Bolt rejects timestamps older than 5 minutes
TARGET_RPS, TARGET_P99_MS, TARGET_CONNS = 2000.0, 20.0, 64  # help/leave (the old bench)
MIX_TARGET_RPS, MIX_TARGET_P99_MS, MIX_TARGET_CONNS = 1500.0, 20.0, 16  # the mix, one worker

perf = time.perf_counter


# --------------------------------------------------------------------------- requests


def signed_request(
    port: int, user_id: str, timestamp: int, text: str = "help", response_url: str | None = None
) -> bytes:
    """One `/infochat <text>` POST, with the form fields and headers Slack sends."""
    body = urlencode(
        {
            "token": "bench-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "infochat-test",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/infochat",
            "text": text,
            "api_app_id": "A0INFOCHAT",
            "is_enterprise_install": "false",
            "response_url": response_url or f"https://hooks.slack.com/commands/{TEAM_ID}/1/{user_id.lower()}",
            "trigger_id": f"1.{timestamp}.{user_id.lower()}",
        }
    ).encode()
    ts = str(timestamp).encode()
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts + b":" + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /slack/events HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n"
        f"Accept: application/json,*/*\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {timestamp}\r\n"
        f"X-Slack-Signature: v0={digest}\r\n"
        f"\r\n"
    )
    return head.encode("latin-1") + body


_unique = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


def templated_request(port: int, template: ackmix.Template, workload: Workload, n: int) -> bytes:
    """A mix request: its placeholders filled (a fresh trigger id, a unique event id), signed now."""
    body = template.body
    if ackmix.TRIGGER in body and workload.standin is not None:
        body = body.replace(ackmix.TRIGGER, workload.standin.next_trigger())
    if ackmix.UNIQUE in body:
        body = body.replace(ackmix.UNIQUE, b"%012d" % next(_unique))
    timestamp = str(int(time.time())).encode()
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp + b":" + body, hashlib.sha256).hexdigest()
    head = (
        f"POST /slack/events HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n"
        f"Content-Type: {template.content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {timestamp.decode()}\r\n"
        f"X-Slack-Signature: v0={digest}\r\n"
        f"\r\n"
    )
    return head.encode("latin-1") + body


# --------------------------------------------------------------------------- load generator


@dataclass(frozen=True)
class Workload:
    """What the connections send, and what every answer must carry.

    The default is this bench's: `/infochat help` from one user per connection, the
    request signed once and re-sent (re-signed every minute). With `commands`, the
    connections take turns through the (user_id, text) pairs, one after another
    across all connections, each request signed as it leaves. An answer must be a
    200 whose body holds one of `markers`; `Phase.answers` counts the first found.
    """

    markers: tuple[bytes, ...] = (HELP_MARKER,)
    expected: str = "the help text"  # what a 200 without a marker lacked, for the error detail
    commands: Sequence[tuple[str, str]] = ()
    response_url: str | None = None
    text: str = "help"  # what each connection sends when `commands` is empty
    # The real mix (bench/ackmix.py): pre-built bodies, each with its own marker.
    templates: Sequence[ackmix.Template] = ()
    standin: ackmix.StandInProcess | None = None  # issues the templates' trigger ids


HELP = Workload()
# `/infochat help` goes through Bolt like everything else. For comparison, an
# ack that Bolt dispatches: `leave` from someone who never joined, answered in the
# ack after one indexed read of `people` ("nothing to leave"), no follow-up work.
THROUGH_BOLT = Workload(markers=(b"nothing to leave",), expected="the not-taking-part reply", text="leave")


@dataclass
class Phase:
    connections: int
    measure_from: float
    stop_at: float
    max_requests: int
    workload: Workload = HELP
    latencies: list[float] = field(default_factory=list)  # seconds, measured window only
    statuses: Counter[int] = field(default_factory=Counter)  # non-200 answers
    answers: Counter[bytes] = field(default_factory=Counter)  # good answers by the marker they carried
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # mix only: latencies per request kind
    bad_bodies: int = 0  # 200 without any of the workload's markers
    dropped: int = 0  # connections lost mid-request
    malformed: int = 0  # responses that are not parseable HTTP/1.1
    note: str = ""
    timed_out: bool = False  # some connection still waited for an answer 30 s after the phase
    issued: int = 0
    last_done: float = 0.0

    def keep_going(self, now: float) -> bool:
        return now < self.stop_at and len(self.latencies) < self.max_requests

    @property
    def errors(self) -> int:
        failures = self.bad_bodies + self.dropped + self.malformed + self.timed_out
        return sum(self.statuses.values()) + failures


class Connection(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection sending one request at a time.

    Parses just enough of each response: the status line, Content-Length and the body.
    """

    def __init__(self, phase: Phase, port: int, user_id: str) -> None:
        self.phase, self.port, self.user_id = phase, port, user_id
        self.signed_at = 0.0
        self.request = b""
        self.buf = bytearray()
        self.need = -1  # total bytes of the response in flight once its headers are in
        self.head_len = 0
        self.status = 0
        self.started = 0.0
        self.template: ackmix.Template | None = None
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.send()

    def send(self) -> None:
        now = perf()
        if not self.phase.keep_going(now):
            assert self.transport is not None
            self.transport.close()
            return
        workload = self.phase.workload
        if workload.templates:
            self.template = workload.templates[self.phase.issued % len(workload.templates)]
            self.request = templated_request(self.port, self.template, workload, self.phase.issued)
        elif workload.commands:
            user_id, text = workload.commands[self.phase.issued % len(workload.commands)]
            self.request = signed_request(self.port, user_id, int(time.time()), text, workload.response_url)
        elif now - self.signed_at > RESIGN_EVERY:
            self.request = signed_request(self.port, self.user_id, int(time.time()), workload.text)
            self.signed_at = now
        self.phase.issued += 1
        self.started = now
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            self._received(data)
        except Exception as exc:  # a malformed response: count it, drop the connection
            self.phase.malformed += 1
            self.phase.note = f"{type(exc).__name__}: {exc}"
            self.need = -1
            self.started = 0.0
            assert self.transport is not None
            self.transport.close()

    def _received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.need < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:  # the app always sends Content-Length
                raise ValueError("response without Content-Length")
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop >= 0 else None])
            self.head_len = end + 4
            self.need = self.head_len + length
        if len(buf) < self.need:
            return
        done = perf()
        phase = self.phase
        if self.status != 200:
            phase.statuses[self.status] += 1
        elif self.template is not None:
            if any(buf.find(m, self.head_len, self.need) >= 0 for m in self.template.markers):
                phase.answers[self.template.kind.encode()] += 1
            else:
                phase.bad_bodies += 1
                phase.note = f"{self.template.kind}: {bytes(buf[self.head_len : self.need])[:200]!r}"
        else:
            for marker in phase.workload.markers:
                if buf.find(marker, self.head_len, self.need) >= 0:
                    phase.answers[marker] += 1
                    break
            else:
                phase.bad_bodies += 1
        if self.started >= phase.measure_from:
            phase.latencies.append(done - self.started)
            phase.last_done = done
            if self.template is not None:
                phase.by_kind.setdefault(self.template.kind, []).append(done - self.started)
        del buf[: self.need]
        self.need = -1
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.need >= 0 or (self.started and self.phase.keep_going(perf())):
            # Lost with a request in flight (the server closed a keep-alive connection).
            self.phase.dropped += 1
        if not self.closed.done():
            self.closed.set_result(None)


async def _drive(phase: Phase, port: int, index: int) -> None:
    loop = asyncio.get_running_loop()
    while phase.keep_going(perf()):
        _, conn = await loop.create_connection(
            lambda: Connection(phase, port, f"U{index:06d}"), "127.0.0.1", port
        )
        await conn.closed


async def run_phase(
    port: int, connections: int, warmup: float, duration: float, max_requests: int, workload: Workload = HELP
) -> Phase:
    start = perf()
    phase = Phase(connections, start + warmup, start + warmup + duration, max_requests, workload)
    drivers = asyncio.gather(*(_drive(phase, port, i) for i in range(connections)))
    try:
        # Bounded even if the server stops answering: in-flight requests get 30 s.
        await asyncio.wait_for(drivers, timeout=warmup + duration + 30)
    except TimeoutError:
        phase.timed_out = True
    return phase


def new_event_loop() -> tuple[asyncio.AbstractEventLoop, str]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop(), "asyncio"
    return uvloop.new_event_loop(), "uvloop"


# --------------------------------------------------------------------------- CPU accounting


def _tree_cpu_seconds(root_pid: int) -> float | None:
    """User+system CPU seconds of a process and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    if root_pid not in cpu:
        return None
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def _machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (Linux /proc/stat; idle and iowait excluded)."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSample:
    server: float | None
    client: float
    machine: float | None

    @classmethod
    def take(cls, server_pid: int) -> CpuSample:
        t = os.times()
        return cls(_tree_cpu_seconds(server_pid), t.user + t.system, _machine_busy_seconds())

    def since(self, start: CpuSample, wall: float) -> tuple[float | None, float, float | None]:
        """(server, client, everything else on the machine), each in cores over `wall` seconds."""
        server = None if self.server is None or start.server is None else (self.server - start.server) / wall
        client = (self.client - start.client) / wall
        if self.machine is None or start.machine is None or server is None:
            return server, client, None
        return server, client, max(0.0, (self.machine - start.machine) / wall - server - client)


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """The server settings a bench's options set (`--http-threads`); the rest are the app's defaults."""
    threads = getattr(args, "http_threads", None)
    return {} if threads is None else {"INFOCHAT_HTTP_THREADS": str(threads)}


@contextlib.contextmanager
def infochat_serve(
    workers: int, database_url: str, api_url: str, workdir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "INFOCHAT_SLACK_API_URL": api_url,
        "INFOCHAT_DATABASE_URL": database_url,
        "INFOCHAT_PORT": str(port),
        "INFOCHAT_HOST": "127.0.0.1",
        "INFOCHAT_WORKERS": str(workers),
        "INFOCHAT_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    log_path = workdir / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(proc, port, workers, log_path)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    workers: int
    log_path: Path
    exit_code: int | None = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/healthz"
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"infochat serve did not come up:\n{self.log_tail()}")
            time.sleep(0.1)

    def slow_work_pending(self) -> float:
        """Slow work queued or running in the server (0 for a server older than the metric:
        its slow work always ended in a Web API call, which the stand-in's quiet covers)."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("infochat_slow_work_pending "):
                    return float(line.split()[1])
        return 0.0

    def wait_slow_work(self, timeout: float = 120.0) -> None:
        """Until the server has no slow work after acks queued or running."""
        deadline = time.monotonic() + timeout
        while self.slow_work_pending() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_code = None
        else:
            self.exit_code = self.proc.returncode


# --------------------------------------------------------------------------- reporting


@dataclass
class Row:
    run: int
    connections: int
    requests: int
    rps: float
    p50: float
    p90: float
    p99: float
    max: float
    errors: int
    server_cpu: float | None  # cores: the server process and its workers
    client_cpu: float  # cores: this process (the load generator and the stand-in)
    other_cpu: float | None  # cores: everything else running on the machine meanwhile
    detail: str = ""
    sustained: float | None = None  # mix: requests of the whole phase / (its time + the slow work's drain)
    drain: float | None = None  # mix: seconds the slow work ran on after the last ack
    slack_cpu: float | None = None  # mix: cores used by the Slack stand-in's process
    # mix: server CPU seconds of the whole phase (warm-up, window, drain) per request it sent
    cpu_per_request: float | None = None

    @property
    def server_us_per_request(self) -> float | None:
        """Server CPU time per request, in microseconds: the cost, whatever the contention."""
        if self.cpu_per_request is not None:
            return 1e6 * self.cpu_per_request
        return None if self.server_cpu is None or not self.rps else 1e6 * self.server_cpu / self.rps


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]  # nearest-rank


def summarise(run: int, phase: Phase, cpu: tuple[float | None, float, float | None]) -> Row:
    lat = sorted(phase.latencies)
    window = max(1e-9, (phase.last_done or phase.stop_at) - phase.measure_from)
    ms = [1000 * _percentile(lat, q) for q in (0.50, 0.90, 0.99)]
    detail = []
    if phase.statuses:
        detail.append("statuses " + ", ".join(f"{s}x{n}" for s, n in sorted(phase.statuses.items())))
    if phase.bad_bodies:
        detail.append(f"{phase.bad_bodies} 200s without {phase.workload.expected} (last: {phase.note})")
    if phase.dropped:
        detail.append(f"{phase.dropped} connections lost mid-request")
    if phase.malformed:
        detail.append(f"{phase.malformed} malformed responses ({phase.note})")
    if phase.timed_out:
        detail.append("the phase timed out waiting for answers")
    return Row(
        run=run,
        connections=phase.connections,
        requests=len(lat),
        rps=len(lat) / window,
        p50=ms[0],
        p90=ms[1],
        p99=ms[2],
        max=1000 * (lat[-1] if lat else float("nan")),
        errors=phase.errors,
        server_cpu=cpu[0],
        client_cpu=cpu[1],
        other_cpu=cpu[2],
        detail="; ".join(detail),
    )


HEADER = (
    f"{'workers':>7} {'run':>4} {'conns':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} "
    f"{'p99 ms':>7} {'max ms':>7} {'errors':>6} {'srv CPU':>7} {'cli CPU':>7} {'other':>6} {'srv us/req':>10}"
)


def _fmt_cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def format_row(workers: int, row: Row, run_label: str | None = None) -> str:
    return (
        f"{workers:>7} {run_label or str(row.run):>4} {row.connections:>5} {row.requests:>8} "
        f"{row.rps:>7.0f} {row.p50:>7.2f} {row.p90:>7.2f} {row.p99:>7.2f} {row.max:>7.2f} "
        f"{row.errors:>6} {_fmt_cpu(row.server_cpu):>7} {_fmt_cpu(row.client_cpu):>7} "
        f"{_fmt_cpu(row.other_cpu):>6} {_fmt_num(row.server_us_per_request):>10}"
    )


def _fmt_num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def median_row(rows: list[Row]) -> Row:
    med = statistics.median

    def med_or_none(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return med(known) if known else None

    return Row(
        run=0,
        connections=rows[0].connections,
        requests=round(med(r.requests for r in rows)),
        rps=med(r.rps for r in rows),
        p50=med(r.p50 for r in rows),
        p90=med(r.p90 for r in rows),
        p99=med(r.p99 for r in rows),
        max=med(r.max for r in rows),
        errors=sum(r.errors for r in rows),  # errors are summed, never "medianed" away
        server_cpu=med_or_none([r.server_cpu for r in rows]),
        client_cpu=med(r.client_cpu for r in rows),
        other_cpu=med_or_none([r.other_cpu for r in rows]),
        sustained=med_or_none([r.sustained for r in rows]),
        drain=med_or_none([r.drain for r in rows]),
        slack_cpu=med_or_none([r.slack_cpu for r in rows]),
        cpu_per_request=med_or_none([r.cpu_per_request for r in rows]),
    )


# --------------------------------------------------------------------------- main


def bench_workers(
    args: argparse.Namespace, workers: int, api_url: str, workdir: Path
) -> tuple[list[Row], int | None]:
    """The old single-request workloads (`--workload help|leave`)."""
    database_url = args.database_url or f"sqlite:///{workdir / f'bench-{workers}w.db'}"
    rows: list[Row] = []
    loop, _ = new_event_loop()
    workload = THROUGH_BOLT if args.workload == "leave" else HELP
    try:
        with infochat_serve(workers, database_url, api_url, workdir, server_env(args)) as server:
            # First requests: Bolt's auth.test, imports and caches in every worker.
            loop.run_until_complete(run_phase(server.port, max(4, 4 * workers), 1.0, 0.0, 1))
            for run in range(1, args.runs + 1):
                for conns in args.connections:
                    cpu0, t0 = CpuSample.take(server.proc.pid), perf()
                    # CPU is sampled over warm-up + measurement; both run at the same load.
                    phase = loop.run_until_complete(
                        run_phase(server.port, conns, args.warmup, args.duration, args.max_requests, workload)
                    )
                    cpu = CpuSample.take(server.proc.pid).since(cpu0, perf() - t0)
                    row = summarise(run, phase, cpu)
                    rows.append(row)
                    print(format_row(workers, row), flush=True)
                    if row.detail:
                        print(f"{'':>13}errors: {row.detail}", flush=True)
                    if server.proc.poll() is not None:
                        raise RuntimeError(f"infochat serve died:\n{server.log_tail()}")
    finally:
        loop.close()
    return rows, server.exit_code


def seed_mix(args: argparse.Namespace, url: str) -> tuple[list[str], list[str]]:
    """bench/search.py's company; (topic names by popularity, find queries)."""
    import search as search_bench  # bench/ is the script's folder

    from bot import migrate
    from bot.db import Database

    db = Database(url)
    try:
        migrate.upgrade(db)
        t0 = perf()
        popular = search_bench.seed(db, ackmix.seed_args(args.people), random.Random(1))
        print(f"seeded {args.people} people, 500 topics in {perf() - t0:.1f} s", flush=True)
    finally:
        db.dispose()
    by_kind = search_bench.make_queries(popular, 50, random.Random(2))
    return popular, [q for queries in by_kind.values() for q in queries]


def mix_phase(
    loop: asyncio.AbstractEventLoop,
    server: Server,
    standin: ackmix.StandInProcess,
    workload: Workload,
    args: argparse.Namespace,
    run: int,
    conns: int,
) -> tuple[Row, Phase]:
    """One phase of the mix; the CPU window runs until the slow work after the acks is done."""
    cpu0, slack0, t0 = CpuSample.take(server.proc.pid), _tree_cpu_seconds(standin.pid), perf()
    phase = loop.run_until_complete(
        run_phase(server.port, conns, args.warmup, args.duration, args.max_requests, workload)
    )
    ended = perf()
    # The slow work after the acks: until the stand-in stops hearing from it and the server has
    # none left (an App Home that did not change is read, fingerprinted and not sent).
    standin.wait_quiet()
    server.wait_slow_work()
    drain = perf() - ended
    wall = perf() - t0
    cpu = CpuSample.take(server.proc.pid).since(cpu0, wall)
    slack1 = _tree_cpu_seconds(standin.pid)
    slack = None if slack0 is None or slack1 is None else (slack1 - slack0) / wall
    row = summarise(run, phase, cpu)
    row.sustained = phase.issued / (ended - t0 + drain)
    row.drain = drain
    if cpu[0] is not None and phase.issued:
        # CPU over the whole phase, slow work included, per request sent; server_cpu / rps would
        # divide a rate over the phase and its drain by the acks of the window only.
        row.cpu_per_request = cpu[0] * wall / phase.issued
    row.slack_cpu = slack
    if row.other_cpu is not None and slack is not None:
        row.other_cpu = max(0.0, row.other_cpu - slack)
    return row, phase


def bench_mix(
    args: argparse.Namespace, workdir: Path
) -> tuple[list[Row], dict[int, dict[str, list[float]]], bool]:
    database_url = args.database_url or f"sqlite:///{workdir / 'bench-mix.db'}"
    popular, queries = seed_mix(args, database_url)
    functions = [f.strip() for f in DEFAULT_FUNCTIONS.split(",")]
    templates = ackmix.build_templates(args.people, popular, queries, functions, seed=3)
    standin = ackmix.StandInProcess(args.people, BOT_TOKEN)
    workload = Workload(expected="the kind's answer", templates=templates, standin=standin)
    rows: list[Row] = []
    kinds: dict[int, dict[str, list[float]]] = {}
    loop, _ = new_event_loop()
    failed = False
    try:
        with infochat_serve(args.workers, database_url, standin.url, workdir, server_env(args)) as server:
            # Warm every path once (imports, caches, Bolt's auth.test), then let the slow work finish.
            loop.run_until_complete(run_phase(server.port, 4, 2.0, 0.0, 1, workload))
            if not args.cold_homes:
                # The state weeks of use leave: everyone's Home published once (each opened it).
                opens = Workload(templates=ackmix.first_home_opens(args.people), standin=standin)
                loop.run_until_complete(run_phase(server.port, 16, 0.0, 600.0, args.people, opens))
            standin.wait_quiet()
            server.wait_slow_work()
            for run in range(1, args.runs + 1):
                for conns in args.connections:
                    row, phase = mix_phase(loop, server, standin, workload, args, run, conns)
                    rows.append(row)
                    for kind, latencies in phase.by_kind.items():
                        kinds.setdefault(conns, {}).setdefault(kind, []).extend(latencies)
                    print(
                        format_row(args.workers, row)
                        + f" {row.sustained or 0:>9.0f} {_fmt_cpu(row.slack_cpu):>6}",
                        flush=True,
                    )
                    if row.detail:
                        print(f"{'':>13}errors: {row.detail}", flush=True)
                    if server.proc.poll() is not None:
                        raise RuntimeError(f"infochat serve died:\n{server.log_tail()}")
        print(f"server stopped with SIGTERM: exit code {server.exit_code}", flush=True)
        failed = server.exit_code != 0
    finally:
        loop.close()
        calls = standin.stop()
    print("Web API calls the stand-in answered: " + ", ".join(f"{m} {n}" for m, n in sorted(calls.items())))
    failed |= any("failed" in method for method in calls)
    return rows, kinds, failed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workload",
        choices=("mix", "help", "leave"),
        default="mix",
        help="mix: people's traffic (bench/ackmix.py, default); help: `/infochat help`; "
        "leave: `/infochat leave` from people who never joined (one read)",
    )
    parser.add_argument("--workers", type=int, default=1, help="INFOCHAT_WORKERS for the server (default 1)")
    parser.add_argument(
        "--http-threads", type=int, help="INFOCHAT_HTTP_THREADS for the server (default: the app's own)"
    )
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per phase (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per phase (default 1)")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="measured requests per phase, at most"
    )
    parser.add_argument("--database-url", help="INFOCHAT_DATABASE_URL (default: a temporary SQLite file)")
    parser.add_argument(
        "--connections",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="comma-separated connection counts, one phase each (default: mix 1,16, else 1,16,64)",
    )
    parser.add_argument("--runs", type=int, default=3, help="repeat all phases R times and show medians")
    parser.add_argument("--compare", action="store_true", help="help/leave: run with workers 1 and then 2")
    parser.add_argument("--through-bolt", action="store_true", help="the same as --workload leave")
    ackmix.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.through_bolt:
        args.workload = "leave"
    if args.connections is None:
        args.connections = [1, 16] if args.workload == "mix" else [1, 16, 64]
    return args


def main_mix(args: argparse.Namespace) -> int:
    _, loop_name = new_event_loop()
    print(
        f"infochat ack bench: people's traffic through Bolt, keep-alive HTTP/1.1 on 127.0.0.1\n"
        f"mix: {ackmix.proportions_line()} (bench/ackmix.py)\n"
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
        f"client: this process ({loop_name}); server: `infochat serve`, workers {args.workers}, "
        f"HTTP threads {args.http_threads or 'default'}; "
        f"Slack stand-in: a child process\n"
        f"phases: {args.warmup:g} s warm-up + {args.duration:g} s measured, then until the slow work after "
        f"the acks is done; runs {args.runs}; before them "
        f"{'nobody has opened the Home tab' if args.cold_homes else 'everyone opened the Home tab once'}\n"
        f"req/s: acks in the measured window; sustained: all requests of the phase over its time including "
        f"the slow work; CPU in % of one core (srv us/req: server CPU per request, slow work included)\n",
        flush=True,
    )
    print(HEADER + f" {'sustained':>9} {'slack':>6}", flush=True)
    with tempfile.TemporaryDirectory(prefix="infochat-bench-") as tmp:
        rows, kinds, failed = bench_mix(args, Path(tmp))
    print(
        f"\nmedian of {args.runs} runs (errors summed over runs), load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}:"
    )
    print(HEADER + f" {'sustained':>9} {'slack':>6}")
    summary = {}
    for conns in args.connections:
        row = median_row([r for r in rows if r.connections == conns])
        summary[conns] = row
        print(
            format_row(args.workers, row, run_label="med")
            + f" {row.sustained or 0:>9.0f} {_fmt_cpu(row.slack_cpu):>6}"
        )
    for conns, by_kind in kinds.items():
        print(f"\nper kind at {conns} connections (all runs pooled): p50 / p99 ms")
        for kind, latencies in sorted(by_kind.items()):
            lat = sorted(latencies)
            p50, p99 = (1000 * _percentile(lat, q) for q in (0.5, 0.99))
            print(f"  {kind:<20} {len(lat):>7} {p50:>7.2f} {p99:>7.2f}")
    target = summary.get(MIX_TARGET_CONNS)
    ok = not failed and all(r.errors == 0 for r in rows)
    if target is not None:
        rps_ok = (target.sustained or 0) >= MIX_TARGET_RPS and target.rps >= MIX_TARGET_RPS
        p99_ok = target.p99 < MIX_TARGET_P99_MS
        print(
            f"\ntarget, 1 worker at {MIX_TARGET_CONNS} connections: >= {MIX_TARGET_RPS:.0f} req/s acked and "
            f"sustained: {target.rps:.0f} / {target.sustained or 0:.0f} {'PASS' if rps_ok else 'MISS'}; "
            f"ack p99 < {MIX_TARGET_P99_MS:.0f} ms: {target.p99:.1f} {'PASS' if p99_ok else 'MISS'}; "
            f"errors {sum(r.errors for r in rows)} {'PASS' if ok else 'MISS'}"
        )
    return 0 if ok else 1


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so the `finally` blocks stop the server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.workload == "mix":
        return main_mix(args)
    worker_counts = [1, 2] if args.compare else [args.workers]
    _, loop_name = new_event_loop()
    print(
        f"infochat ack bench: signed `/infochat {args.workload}`, "
        f"keep-alive HTTP/1.1 on 127.0.0.1\n"
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}\n"
        f"client: this process, one {loop_name} event loop; server: `infochat serve` subprocess, "
        f"workers {', '.join(map(str, worker_counts))}\n"
        f"phases: {args.warmup:g} s warm-up + {args.duration:g} s measured "
        f"(max {args.max_requests} requests), runs {args.runs}\n"
        f"CPU columns, in % of one core: the server (all workers), this client process, and every other\n"
        f"process on the machine meanwhile (if that is high, the machine was shared); srv us/req is\n"
        f"the server's CPU time per request.\n",
        flush=True,
    )
    failed = False
    summary: list[tuple[int, Row]] = []
    standin = SlackStandIn(bot_token=BOT_TOKEN)
    with tempfile.TemporaryDirectory(prefix="infochat-bench-") as tmp, standin as slack:
        for workers in worker_counts:
            print(HEADER, flush=True)
            rows, exit_code = bench_workers(args, workers, slack.url, Path(tmp))
            print(f"server (workers={workers}) stopped with SIGTERM: exit code {exit_code}\n", flush=True)
            failed |= exit_code != 0 or any(r.errors for r in rows)
            for conns in args.connections:
                summary.append((workers, median_row([r for r in rows if r.connections == conns])))
    title = f"median of {args.runs} runs" if args.runs > 1 else "summary"
    print(f"{title} (errors summed over runs):")
    print(HEADER)
    for workers, row in summary:
        print(format_row(workers, row, run_label="med" if args.runs > 1 else "1"))
    for workers, row in summary:
        if row.connections == TARGET_CONNS:
            met = row.rps >= TARGET_RPS and row.p99 <= TARGET_P99_MS and row.errors == 0
            print(
                f"target at {TARGET_CONNS} connections (>= {TARGET_RPS:.0f} req/s, "
                f"p99 <= {TARGET_P99_MS:.0f} ms, no errors), workers={workers}: {'met' if met else 'NOT met'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
