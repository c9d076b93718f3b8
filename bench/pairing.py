"""Weekly matching benchmark: time, memory and quality of `bot.services.matching.match`.

    .venv/bin/python bench/pairing.py [--sizes 1000,10000,50000] [--seed 1] [--baseline 1000]
                                      [--exact-max 2000] [--skip-reference]

Needs the bench extra for the references: `pip install -e '.[bench]'`
(networkx for the baseline, rustworkx for exact blossom; networkx is used
for blossom too, slowly, when rustworkx is missing).

Each size runs in a fresh child process (so peak memory is the round's own):
a synthetic company is built, the peak-RSS mark is reset
(/proc/self/clear_refs), and `match()` is timed ("time s"; "of which
candidates s" times the candidate scoring alone, run again afterwards);
"peak MB" is the process's high-water RSS during the call (interpreter,
numpy/scipy and the input included) and "Δ MB" that minus the RSS before it.

The company: 20 functions (Zipf-like sizes, the largest ~20 %), 2,000 topics
with Zipf popularity (s = 1: the top topic is spoken about by about half the
company), each person speaking about 3–8 and wanting to learn 2–5 others,
offices in six time zones, 1 % with priority (left out last week), history of
20 weekly rounds in which 60 % took part (the last 12 inside the cooldown:
forbidden; the older ones: met before), and one blocked pair per 200 people.

Quality, as a fraction of:
* the exact optimum (N ≤ --exact-max): maximum-weight, maximum-cardinality
  blossom over ALL allowed pairs with the same scores (rustworkx);
* above that, `matching.upper_bound`: an LP-dual bound certified over all
  pairs (column generation with HiGHS; minutes at 50,000, not timed).

Baseline (Yelp Beans style) at --baseline people: networkx
`max_weight_matching` over all allowed pairs with unit weights; its time, and
its score under our scoring (total, and the topic part alone) against ours.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bot.services import matching
from bot.services.matching import Candidate, MatchInput

FUNCTIONS = 20
TOPICS = 2000
OFFICES = [
    (17.0, 0.20),
    (14.0, 0.20),
    (9.0, 0.25),
    (8.0, 0.15),
    (3.5, 0.12),
    (1.0, 0.08),
]  # 09:00 local in UTC
WEEKS, COOLDOWN, TURNOUT = 20, 12, 0.6


def company(n: int, seed: int) -> MatchInput:
    """The synthetic company described in the module docstring."""
    rng = np.random.default_rng(seed)
    sizes = 1 / np.arange(1, FUNCTIONS + 1) ** 0.7
    function = rng.choice(FUNCTIONS, n, p=sizes / sizes.sum())
    popularity = 1 / np.arange(1, TOPICS + 1)
    draws = rng.choice(TOPICS, size=(n, 40), p=popularity / popularity.sum())
    speak_count = rng.integers(3, 9, n)
    learn_count = rng.integers(2, 6, n)
    start = rng.choice([o for o, _ in OFFICES], n, p=[w for _, w in OFFICES])
    priority = rng.random(n) < 0.01
    people = []
    for i in range(n):
        distinct = list(dict.fromkeys(draws[i].tolist()))  # Zipf draws, first occurrences
        speaks = distinct[: speak_count[i]]
        learns = distinct[speak_count[i] : speak_count[i] + learn_count[i]]
        people.append(
            Candidate(
                id=i + 1,
                function=f"function-{function[i]}",
                speaks=frozenset(speaks),
                learns=frozenset(learns),
                work_start_utc=float(start[i]),
                priority=bool(priority[i]),
            )
        )
    recent: set[frozenset[int]] = set()
    past: set[frozenset[int]] = set()
    for week in range(WEEKS):
        took_part = rng.permutation(n)[: int(n * TURNOUT) // 2 * 2] + 1
        pairs = {frozenset((int(a), int(b))) for a, b in took_part.reshape(-1, 2)}
        (recent if week < COOLDOWN else past).update(pairs)
    blocked = {frozenset((int(a), int(b))) for a, b in rng.integers(1, n + 1, (n // 200, 2)) if a != b}
    return MatchInput(
        candidates=people,
        recent_pairs=frozenset(recent),
        past_pairs=frozenset(past - recent),
        blocked_pairs=frozenset(blocked),
        seed=seed,
    )


# -- measurements (in the child) ----------------------------------------------------------------


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024  # kB -> MB
    return 0


def _topic_points(inp: MatchInput, pairs: list[tuple[int, int]]) -> int:
    """The teach-and-learn part of the score (topics both ways, mutual), without base/hours/history."""
    by_id = {c.id: c for c in inp.candidates}
    points = 0
    for a, b in pairs:
        x, y = by_id[a], by_id[b]
        ab, ba = len(x.speaks & y.learns), len(y.speaks & x.learns)
        points += int(matching._TEACH[min(ab, 2)] + matching._TEACH[min(ba, 2)])
        points += matching.MUTUAL if ab and ba else 0
    return points


def _pair_total(inp: MatchInput, pairs: list[tuple[int, int]]) -> float:
    by_id = {c.id: c for c in inp.candidates}
    total = 0.0
    for a, b in pairs:
        scored = matching.pair_score(by_id[a], by_id[b], inp)
        assert scored is not None, "a reference paired a forbidden pair"
        total += scored[0]
    return total


def _exact(inp: MatchInput) -> tuple[float, float]:
    """(optimum, seconds): max-weight max-cardinality blossom on all allowed pairs."""
    a, b, w = matching.scored_pairs(inp)
    edges = list(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
    started = time.perf_counter()
    try:
        import rustworkx as rx

        graph = rx.PyGraph()
        nodes = {c.id: graph.add_node(c.id) for c in inp.candidates}
        graph.add_edges_from([(nodes[x], nodes[y], s) for x, y, s in edges])
        chosen = rx.max_weight_matching(graph, max_cardinality=True, weight_fn=int)
        pairs = [(graph[x], graph[y]) for x, y in chosen]
    except ImportError:
        import networkx as nx

        g = nx.Graph()
        g.add_weighted_edges_from(edges)
        pairs = list(nx.max_weight_matching(g, maxcardinality=True))
    return _pair_total(inp, pairs), time.perf_counter() - started


def _baseline(inp: MatchInput) -> dict[str, float]:
    """Yelp Beans style: networkx blossom over allowed pairs, every pair weight 1."""
    import networkx as nx

    a, b, _ = matching.scored_pairs(inp)
    g = nx.Graph()
    g.add_nodes_from(c.id for c in inp.candidates)
    g.add_edges_from(zip(a.tolist(), b.tolist(), strict=True), weight=1)
    started = time.perf_counter()
    pairs = list(nx.max_weight_matching(g))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "pairs": len(pairs),
        "score": _pair_total(inp, pairs),
        "topic": _topic_points(inp, pairs),
    }


def run_one(n: int, seed: int, exact_max: int, baseline: bool, reference: bool) -> dict[str, object]:
    inp = company(n, seed)
    gc.collect()
    rss_before = _status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark to now
        peak_reset = True
    except OSError:
        peak_reset = False
    started = time.perf_counter()
    result = matching.match(inp)
    seconds = time.perf_counter() - started
    peak = _status("VmHWM")
    # The same candidate scoring again on its own, for the breakdown (after the peak is read).
    started = time.perf_counter()
    matching._candidates(matching._Org(inp))
    candidate_seconds = time.perf_counter() - started
    pairs = [g.members for g in result.groups if len(g.members) == 2]
    out: dict[str, object] = {
        "n": n,
        "seconds": seconds,
        "candidate_seconds": candidate_seconds,
        "peak_mb": peak if peak_reset else None,
        "delta_mb": peak - rss_before if peak_reset else None,
        "pairs": len(pairs),
        "trios": len(result.groups) - len(pairs),
        "unmatched": len(result.unmatched),
        "score": result.total_score,
        "topic": _topic_points(inp, [(a, b) for a, b in pairs]),
    }
    if reference:
        if n <= exact_max:
            optimum, ref_seconds = _exact(inp)
            out.update(reference="exact", reference_value=optimum, reference_seconds=ref_seconds)
        else:
            started = time.perf_counter()
            bound = matching.upper_bound(inp)
            out.update(
                reference="bound", reference_value=bound, reference_seconds=time.perf_counter() - started
            )
    if baseline:
        out["baseline"] = _baseline(inp)
    return out


# -- the table (in the parent) --------------------------------------------------------------------

TARGETS = {  # n: (seconds, MB of peak RSS, fraction of the reference)
    1_000: (None, None, 0.995),
    10_000: (3.0, 400, 0.99),
    50_000: (20.0, 1500, 0.98),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline", type=int, default=1000, help="size for the Yelp-Beans-style baseline (0: none)"
    )
    parser.add_argument("--exact-max", type=int, default=2000)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.one is not None:
        print(
            json.dumps(
                run_one(
                    args.one, args.seed, args.exact_max, args.one == args.baseline, not args.skip_reference
                )
            )
        )
        return

    print(f"# {platform.python_version()} on {os.cpu_count()} CPUs, {platform.machine()}, seed {args.seed}")
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--seed",
            str(args.seed),
            "--baseline",
            str(args.baseline),
        ]
        cmd += ["--exact-max", str(args.exact_max)] + (["--skip-reference"] if args.skip_reference else [])
        child = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if child.returncode != 0:
            sys.exit(f"size {n} failed:\n{child.stderr}")
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(f"# N = {n:,} done (load average {os.getloadavg()[0]:.1f})", flush=True)

    header = (
        "| N | time s | of which candidates s | peak MB | Δ MB | pairs | trios | unmatched | total score "
        "| reference | ours / reference | targets |"
    )
    print()
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        n = int(row["n"])
        ref = row.get("reference")
        fraction = float(row["score"]) / float(row["reference_value"]) if ref else None
        target = TARGETS.get(n)
        verdict = ""
        if target:
            checks = []
            if target[0] is not None:
                checks.append(f"≤ {target[0]:g} s {'✓' if row['seconds'] <= target[0] else '✗'}")
            if target[1] is not None and row["peak_mb"] is not None:
                checks.append(f"≤ {target[1]} MB {'✓' if row['peak_mb'] <= target[1] else '✗'}")
            if fraction is not None:
                checks.append(f"≥ {target[2]:.1%} {'✓' if fraction >= target[2] else '✗'}")
            verdict = ", ".join(checks)
        reference = (
            f"{ref} {float(row['reference_value']):,.1f} ({float(row['reference_seconds']):.0f} s)"
            if ref
            else "—"
        )
        print(
            f"| {n:,} | {row['seconds']:.2f} | {row['candidate_seconds']:.2f} | {row['peak_mb']} "
            f"| {row['delta_mb']} | {row['pairs']:,} "
            f"| {row['trios']} | {row['unmatched']} | {float(row['score']):,.0f} | {reference} "
            f"| {f'{fraction:.2%}' if fraction is not None else '—'} | {verdict} |"
        )
    for row in rows:
        base = row.get("baseline")
        if not base:
            continue
        print()
        print(
            f"Baseline at N = {row['n']:,} (networkx max_weight_matching, unit weights, all allowed pairs):"
        )
        print(
            f"  time {base['seconds']:.1f} s vs ours {row['seconds']:.2f} s; "
            f"pairs {base['pairs']:,} vs {row['pairs']:,}; "
            f"total score {base['score']:,.0f} vs {float(row['score']):,.0f}; "
            f"topic points {base['topic']:,} vs {row['topic']:,} "
            f"(ours {row['topic'] / max(base['topic'], 1):.2f}×)"
        )


if __name__ == "__main__":
    main()
