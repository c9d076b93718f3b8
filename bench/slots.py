"""Slot proposal benchmark: what `Find a time` costs before any database work.

    .venv/bin/python bench/slots.py [--runs 50] [--now 2026-12-07T09:00:00+00:00]

`bot.services.scheduling.slots.propose_slots` is a pure function; this times it
for the pairs and trios people meet (default working hours 10:00–17:00, 30
minutes, 5 working days), in-process, and prints the median and p95 per case.
Cases whose hours overlap take the "inside everyone's hours" path; the others
fall back to the least-bad times (docs/scheduling.md).

There is no target: the figures are quoted in docs/scheduling.md, and a change
to slots.py should not make them worse.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime

from bot.services.scheduling.slots import Availability, propose_slots

CASES: dict[str, list[Availability]] = {
    "London + New York (overlap)": [Availability(tz="Europe/London"), Availability(tz="America/New_York")],
    "Berlin + Berlin, mornings (overlap)": [
        Availability(tz="Europe/Berlin", best="mornings"),
        Availability(tz="Europe/Berlin"),
    ],
    "Tokyo + New York (no overlap)": [
        Availability(tz="Asia/Tokyo"),
        Availability(tz="America/New_York", best="mornings"),
    ],
    "Berlin + Singapore + Los Angeles (no overlap)": [
        Availability(tz="Europe/Berlin"),
        Availability(tz="Asia/Singapore"),
        Availability(tz="America/Los_Angeles"),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--now", default="2026-12-07T09:00:00+00:00", help="an aware ISO instant")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now)
    print(f"propose_slots at {now.isoformat()}, {args.runs} runs per case (ms)")
    for name, people in CASES.items():
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            proposal = propose_slots(people, now)
            times.append((time.perf_counter() - started) * 1000)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(
            f"  {name:48} median {statistics.median(times):6.2f}  p95 {p95:6.2f}  "
            f"({len(proposal.slots)} slots, overlap {proposal.overlap})"
        )


if __name__ == "__main__":
    main()
