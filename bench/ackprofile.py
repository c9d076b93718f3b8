"""Where one request of bench/ack.py's mix spends its CPU: each kind alone, in-process.

    .venv/bin/python bench/ackprofile.py [--kinds "app_home_opened,click pause"] [--requests 200] [--repeat 3]
                                         [--profile pyinstrument|cprofile] [--database-url URL]

The mix's requests (bench/ackmix.py, the same seeded company) are dispatched by the
real Bolt app (`build_app`, `InfochatApp.bolt.dispatch`, signature checks and all)
in this process, one kind at a time; the slow work after the ack runs inline on
the same thread (the lazy listeners' executor runs what it is given at once), so
the thread CPU time per request is the whole work of that kind (the cheapest of
`--repeat` batches of random requests of the kind: the machine is shared). As in
bench/ack.py, everyone's App Home is published once first (`--cold-homes`: not),
so a Home opened here shows what it showed: read, fingerprinted, not sent. The Slack stand-in
runs in this process too: its share (answering views.publish and views.open,
validating the views as Slack would) is in the figure, as the notes say.

`--profile` prints a profile of one kind's requests (the first in `--kinds`).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ackmix  # bench/ is the script's folder
from ack import BOT_TOKEN, SIGNING_SECRET, seed_mix, templated_request

from bot.app import build_app
from bot.devtools.standin import SlackStandIn
from bot.settings import DEFAULT_FUNCTIONS, load_settings
from bot.web import slack_request

MIXED = "mixed"


class InlineExecutor(Executor):
    """Runs each submitted function at once, on the caller's thread."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class _Triggers:
    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin

    def next_trigger(self) -> bytes:
        return self.standin.new_trigger_id(None).encode()


def bolt_request(raw: bytes) -> Any:
    """The request as bot.web hands it to Bolt."""
    head, _, body = raw.partition(b"\r\n\r\n")
    headers: dict[str, list[str]] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return slack_request(body.decode(), parse_qs(""), headers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--kinds",
        default="",
        help=f"comma-separated kinds (default: all of the mix); {MIXED!r}: the mix's requests in its order",
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per kind (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="batches per kind; the cheapest is shown")
    parser.add_argument("--profile", choices=("pyinstrument", "cprofile"), help="profile the first kind")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    ackmix.add_arguments(parser)
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] or [name for name, _, _ in ackmix.MIX]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="infochat-ackprof-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'ackprof.db'}"
        popular, queries = seed_mix(args, url)
        functions = [f.strip() for f in DEFAULT_FUNCTIONS.split(",")]
        templates = ackmix.build_templates(args.people, popular, queries, functions, seed=3, count=4000)
        with SlackStandIn(bot_token=BOT_TOKEN, trigger_ttl=None) as standin:
            for i in range(1, args.people + 1):
                standin.add_user(f"U{i:08d}", name=f"person{i}", real_name=f"Person {i}", tz="Europe/London")
            settings = load_settings(
                slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, database_url=url,
                slack_api_url=standin.url, auto_migrate=False,
            )  # fmt: skip
            app = build_app(settings)
            app.bolt._listener_runner.listener_executor = InlineExecutor()  # type: ignore[attr-defined]
            app.bolt._listener_runner.lazy_listener_runner.executor = InlineExecutor()  # type: ignore[attr-defined]
            workload = _Workload(_Triggers(standin))
            rng = random.Random(5)
            if not args.cold_homes:  # as bench/ack.py: everyone's Home published once before
                for template in ackmix.first_home_opens(args.people):
                    _dispatch(app, template, workload)
            print(f"{'kind':<22} {'requests':>8} {'CPU ms/req':>10} {'wall ms/req':>11}")
            for n, kind in enumerate(kinds):
                mine = templates if kind == MIXED else [t for t in templates if t.kind == kind]
                if not mine:
                    print(f"unknown kind {kind!r}", file=sys.stderr)
                    return 2
                for t in mine[:20]:  # warm: imports, caches
                    _dispatch(app, t, workload)
                profiler = _start_profiler(args.profile) if n == 0 and args.profile else None
                cpu = wall = float("inf")
                for _ in range(1 if profiler else args.repeat):
                    if kind == MIXED:  # the mix as bench/ack.py sends it: in its (shuffled) order
                        start = rng.randrange(len(mine) - args.requests)
                        batch = mine[start : start + args.requests]
                    else:
                        batch = [rng.choice(mine) for _ in range(args.requests)]
                    c0, w0 = time.thread_time(), time.perf_counter()
                    for t in batch:
                        _dispatch(app, t, workload)
                    cpu = min(cpu, time.thread_time() - c0)
                    wall = min(wall, time.perf_counter() - w0)
                if profiler is not None:
                    _stop_profiler(args.profile, profiler)
                per = 1000 / len(batch)
                print(f"{kind:<22} {len(batch):>8} {cpu * per:>10.2f} {wall * per:>11.2f}")
                with standin.workspace.lock:
                    standin._api.calls = []
                    standin.workspace.transcript = []
            refused = list(standin.refusals)
            app.shutdown()
    if refused:
        print(f"the stand-in refused {len(refused)} calls, e.g. {refused[0]}")
        return 1
    return 0


class _Workload:
    def __init__(self, triggers: _Triggers) -> None:
        self.standin = triggers


def _dispatch(app: Any, template: ackmix.Template, workload: _Workload) -> None:
    raw = templated_request(0, template, workload, 0)  # type: ignore[arg-type]
    response = app.bolt.dispatch(bolt_request(raw))
    if response.status != 200:
        raise SystemExit(f"{template.kind}: HTTP {response.status} {response.body[:200]!r}")


def _start_profiler(kind: str) -> Any:
    if kind == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)  # wall time: a busy machine inflates waits
        profiler.start()
        return profiler
    import cProfile

    profiler = cProfile.Profile(time.thread_time)  # CPU time of this thread, not wall time
    profiler.enable()
    return profiler


def _stop_profiler(kind: str, profiler: Any) -> None:
    if kind == "pyinstrument":
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False))
        return
    import pstats

    profiler.disable()
    if os.environ.get("ACKPROF_DUMP"):  # for pstats' print_callers and the like
        profiler.dump_stats(os.environ["ACKPROF_DUMP"])
    pstats.Stats(profiler).sort_stats(os.environ.get("ACKPROF_SORT", "cumulative")).print_stats(
        int(os.environ.get("ACKPROF_LINES", "60"))
    )


if __name__ == "__main__":
    sys.exit(main())
