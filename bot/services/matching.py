"""Weekly matching: who meets whom this week, as a pure function over plain data.

`match(MatchInput) -> Matching` knows nothing of the database or Slack; the
round (`services.pairing`) builds the input and stores the seed with the round,
so a round can be replayed exactly.

Hard constraints (a pair that breaks one is never formed, trios included):
different functions (unless `allow_same_function`), not met inside the
cooldown (`recent_pairs`: only chats that happened, as the caller builds it),
not blocked by either person, and never a person with themselves.

Score of an allowed pair (integers, so totals are exact and ties are real ties):

    1                      base: every allowed pair is worth something
  + 10 / 14 per direction  the first / second topic A speaks about that B wants to learn
                           (a 30-minute chat covers one topic well, two at most: more adds 0)
  + 10                     mutual: both can teach the other something
  +  5                     never met before (`past_pairs` holds those who met, outside the cooldown)
  +  0…4                   shared working hours: 1 point per full 2 h of overlap of two 8 h days
                           (starts rounded to the quarter hour)
  + 20 per member          who was left out last week (`Candidate.priority`)

The priority bonus is per person, so it does not change who pairs with whom
among those matched; it only decides who is left over when someone must be.

Objective, lexicographic: first match as many people as possible, then
maximise the total score. A small positive base alone would not guarantee the
first part (two pairs of 1 can lose to one pair of 45), so cardinality is
enforced separately by augmenting paths; this may cost a little score for the
sake of one more person meeting someone, which is the intended trade-off
("nobody is dropped silently").

Algorithm (targets and measurements: docs/performance.md, "Weekly matching"):

1. Candidates. Up to DENSE_MAX people every allowed pair is scored (dense
   numpy) and each person keeps their DENSE_TOP_K best. Above that, people
   are ordered by work start and cut into blocks of about BLOCK, so a block
   holds people whose hours overlap (who score higher together anyway); in a
   block every pair sharing a topic is scored by sparse products over a few
   rows at a time (`_Org.fused`: one product carries both teach counts and
   the met/forbidden/same-function flags) and each person keeps their TOP_K
   best. Pairs sharing a *rare* topic are added across blocks when they beat
   one side's K-th best (the only speaker of a niche topic may sit in
   another block), and random allowed partners for people with fewer than K.
   Partners are ranked without priority points (a person's own priority is the
   same with everyone; counted in the weights, it decides who is left over).
2. Assignment, per block. The maximum-weight perfect assignment on the
   bipartite double cover (person -> partner, "nobody" at weight 0) is the
   fractional-matching LP optimum; scipy's sparse LAPJV solves it. Its
   permutation splits into 2-cycles (pairs), even cycles (take the heavier
   alternate half) and odd cycles (drop the one person whose absence costs
   least).
3. Cardinality. People left over are paired among themselves when allowed,
   then Edmonds' augmenting paths (blossoms) are searched from each one: in
   dense mode on all allowed pairs, so the matching has maximum cardinality;
   in sparse mode on the candidates plus every allowed pair of the people
   left over.
4. Improvement. 2-opt over the candidate edges: swap partners between two
   pairs, or replace a partner by someone left over, when the total rises.
5. Small rounds (≤ EXACT_MAX people) are then solved exactly: branch and cut
   on the matching LP over all allowed pairs (HiGHS, blossom inequalities),
   among matchings of that maximum cardinality, starting from step 4's.
6. Trios. Each remaining person with at least one allowed partner joins the
   pair that gains most, if the trio keeps every constraint pairwise;
   otherwise they are reported in `unmatched` with a reason (and the round
   gives them priority next week).

Determinism: people are sorted by id, then ordered by work start with ties
shuffled by `seed`; every tie (solver order, candidate cut-offs, who is left
over, the LP's tie-breaking perturbation) follows that order or the seed's
generator, so the same input and seed give the same groups (with the same
numpy/scipy versions), and another seed may break ties differently. The order
of `candidates` in the input does not matter.

Reasons are short sentences for the intro message. Topics are named through
`topic_names` (`"topic:<id>"` when missing); people through `person_names`
when given ("Ana can tell Cy about Python"), otherwise phrased without names
("Python: one of you speaks about it, the other wants to learn it").

`upper_bound(inp)` is a certified upper bound on the total *pair* score of any
matching (an LP dual checked against every pair, see its docstring); the bench
reports our score as a fraction of it where exact blossom is too slow.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

# -- score weights (see the module docstring) ------------------------------------------------

BASE = 1
TEACH_FIRST = 10
TEACH_SECOND = 4
MUTUAL = 10
NEVER_MET = 5
HOURS_PER_POINT = 2.0
WORKDAY_HOURS = 8.0
PRIORITY = 20
# The most a pair can score without priority: two topics each way, mutual, new, same hours.
MAX_PAIR_SCORE = (
    BASE + 2 * (TEACH_FIRST + TEACH_SECOND) + MUTUAL + NEVER_MET + int(WORKDAY_HOURS // HOURS_PER_POINT)
)
# Points for 0, 1, 2+ topics taught in one direction.
_TEACH = np.array([0, TEACH_FIRST, TEACH_FIRST + TEACH_SECOND], dtype=np.int32)

# -- search sizes ------------------------------------------------------------------------------

# Up to this many people every allowed pair is scored (n² int32 arrays: 25 MB at 2,500).
DENSE_MAX = 2500
# Sparse mode: people per block (contiguous in work start). Bigger blocks find better
# partners and cost ~ n × BLOCK pair scores; see docs/performance.md for the trade.
BLOCK = 10000
# Candidates kept per person. The assignment graph has ≤ n × TOP_K edges.
TOP_K = 8
# Up to this many people the round is solved exactly (LP with blossom cuts, see
# `_exact_small`): ~50 ms on average at 60 people, 0.1 s at 80 (2 s at worst seen).
EXACT_MAX = 80
MAX_NODES = 40  # LPs solved at most; the heuristic's matching stands if the search is cut short
# Rounds of 2-opt after the assignment (each is a few vectorised passes over the candidates).
IMPROVE_ROUNDS = 4
# Dense mode keeps more: the assignment is cheap at that size and nearly exact with 100.
DENSE_TOP_K = 100
# People left over who get a full O(n) scan (augmenting paths, trios); beyond that the
# leftovers are structural (one function outnumbering the rest) and scans cannot help.
FULL_ROWS = 500
# Pairs sharing a rare topic, scored across blocks: at most this many per person.
RARE_PAIRS_PER_PERSON = 20

# -- unmatched reasons (shown after "I couldn't pair you this week: ") -------------------------

NOBODY_ELSE = "no one else is taking part this week"
NO_OTHER_FUNCTION = "no one from another function is available"
ALL_MET_RECENTLY = "everyone available has met you recently"
NO_ALLOWED_PARTNER = "no one available could be paired with you this week"
ODD_ONE_OUT = "you were the odd one out, and no group of three fitted everyone's constraints"
ALL_PARTNERS_TAKEN = "everyone you could meet was already paired with someone else"


@dataclass(frozen=True)
class Candidate:
    id: int  # person id
    function: str
    speaks: frozenset[int]  # topic ids they can speak about
    learns: frozenset[int]  # topic ids they want to learn
    work_start_utc: float  # their 09:00 local as hours UTC (0–24, may be fractional)
    priority: bool = False  # left out last week -> gets priority now


@dataclass(frozen=True)
class MatchInput:
    candidates: list[Candidate]
    recent_pairs: frozenset[frozenset[int]] = frozenset()  # met inside the cooldown: FORBIDDEN
    past_pairs: frozenset[frozenset[int]] = frozenset()  # ever met (outside cooldown): allowed, scores lower
    blocked_pairs: frozenset[frozenset[int]] = frozenset()  # FORBIDDEN
    allow_same_function: bool = False
    seed: int = 0


@dataclass(frozen=True)
class Group:
    members: tuple[int, ...]  # 2, or 3 for a trio; sorted
    score: float  # sum of the pair scores inside the group (3 pairs for a trio)
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Matching:
    groups: tuple[Group, ...]
    unmatched: dict[int, str]  # person id -> reason
    total_score: float


# -- the score of one pair (the reference the vectorised code reproduces) ---------------------


def hours_points(start_a: float, start_b: float) -> int:
    """1 point per full HOURS_PER_POINT of overlap of two WORKDAY_HOURS days starting at these UTC hours."""
    return int(_overlap_hours(start_a, start_b) // HOURS_PER_POINT)


def _quarter_hour(start: float) -> float:
    """A work start rounded to the quarter hour, in [0, 24): time zones are whole quarters, and
    a bounded set of values keeps the hours score a small table lookup in bulk."""
    return (round(start * 4) % 96) / 4


def _overlap_hours(start_a: float, start_b: float) -> float:
    distance = abs(_quarter_hour(start_a) - _quarter_hour(start_b))
    distance = min(distance, 24.0 - distance)
    return max(0.0, WORKDAY_HOURS - distance)


def _forbidden(a: Candidate, b: Candidate, inp: MatchInput) -> bool:
    if a.id == b.id or (a.function == b.function and not inp.allow_same_function):
        return True
    key = frozenset((a.id, b.id))
    return key in inp.recent_pairs or key in inp.blocked_pairs


def pair_score(
    a: Candidate,
    b: Candidate,
    inp: MatchInput,
    *,
    topic_names: Mapping[int, str] | None = None,
    person_names: Mapping[int, str] | None = None,
) -> tuple[float, tuple[str, ...]] | None:
    """The score of meeting and why, or None when the pair breaks a hard constraint."""
    if _forbidden(a, b, inp):
        return None
    a_to_b = a.speaks & b.learns
    b_to_a = b.speaks & a.learns
    score = BASE + int(_TEACH[min(len(a_to_b), 2)]) + int(_TEACH[min(len(b_to_a), 2)])
    reasons: list[str] = []
    for teacher, learner, topics in ((a, b, a_to_b), (b, a, b_to_a)):
        if topics:
            reasons.append(_teach_reason(teacher.id, learner.id, topics, topic_names, person_names))
    if a_to_b and b_to_a:
        score += MUTUAL
        reasons.append("you can teach each other")
    if frozenset((a.id, b.id)) not in inp.past_pairs:
        score += NEVER_MET
        reasons.append("you have not met before")
    points = hours_points(a.work_start_utc, b.work_start_utc)
    score += points
    if points:
        reasons.append(f"{_overlap_hours(a.work_start_utc, b.work_start_utc):g} h of shared working hours")
    for person in (a, b):
        if person.priority:
            score += PRIORITY
            who = person_names[person.id] if person_names and person.id in person_names else "one of you"
            reasons.append(f"{who} could not be paired last week")
    return float(score), tuple(reasons)


def _teach_reason(
    teacher: int,
    learner: int,
    topics: Iterable[int],
    topic_names: Mapping[int, str] | None,
    person_names: Mapping[int, str] | None,
) -> str:
    names = sorted((topic_names or {}).get(t, f"topic:{t}") for t in topics)
    shown = " and ".join(names[:2]) + (f" (+{len(names) - 2} more)" if len(names) > 2 else "")
    if person_names and teacher in person_names and learner in person_names:
        return f"{person_names[teacher]} can tell {person_names[learner]} about {shown}"
    return f"{shown}: one of you speaks about it, the other wants to learn it"


# -- the organisation as arrays -----------------------------------------------------------------


class _Org:
    """The input as numpy/scipy arrays, people in the seed's order.

    Index order: by work start (so that sparse-mode blocks hold people with
    overlapping hours, who score higher together anyway), ties shuffled by the
    seed; every later tie follows this order."""

    def __init__(self, inp: MatchInput) -> None:
        people = sorted(inp.candidates, key=lambda c: c.id)
        if any(x.id == y.id for x, y in itertools.pairwise(people)):
            raise ValueError("duplicate candidate ids")
        self.inp = inp
        n = self.n = len(people)
        self.rng = np.random.default_rng(inp.seed)
        starts = np.array([_quarter_hour(c.work_start_utc) for c in people], dtype=np.float64)
        order = np.lexsort((self.rng.permutation(n), starts))
        self.people = [people[k] for k in order]
        self.sorted_ids = np.array([c.id for c in people], dtype=np.int64)  # ascending
        self.index_of_sorted = np.empty(n, dtype=np.int64)
        self.index_of_sorted[order] = np.arange(n)
        self.func = np.unique([c.function for c in self.people], return_inverse=True)[1].astype(np.int32)
        self.allow_same = inp.allow_same_function
        self.prio_points = np.array([PRIORITY if c.priority else 0 for c in self.people], dtype=np.int32)
        # At most 96 distinct (quarter-hour) starts: hours points by table lookup.
        uniq, code = np.unique([_quarter_hour(c.work_start_utc) for c in self.people], return_inverse=True)
        self.start_code = code.astype(np.intp)
        self.zones = len(uniq)
        self.hours_table = np.array(
            [[hours_points(x, y) for y in uniq] for x in uniq], dtype=np.int16
        ).reshape(len(uniq), len(uniq))
        topics = sorted({t for c in self.people for t in (*c.speaks, *c.learns)})
        self._topic_col = {t: k for k, t in enumerate(topics)}
        self.speaks = self._topic_matrix([c.speaks for c in self.people])
        self.learns = self._topic_matrix([c.learns for c in self.people])
        self.forbidden_pairs = self._pairs(inp.recent_pairs | inp.blocked_pairs)
        self.past_pairs = self._pairs(inp.past_pairs)
        self.forbidden = self._pair_matrix(self.forbidden_pairs)
        self.past = self._pair_matrix(self.past_pairs)
        self._fused: tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray] | None = None

    def _topic_matrix(self, sets: list[frozenset[int]]) -> sp.csr_matrix:
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(s) for s in sets])
        cols = np.fromiter(
            (self._topic_col[t] for s in sets for t in sorted(s)), dtype=np.int32, count=int(indptr[-1])
        )
        data = np.ones(len(cols), dtype=np.int32)
        return sp.csr_matrix((data, cols, indptr), shape=(self.n, max(1, len(self._topic_col))))

    def _pairs(self, pairs: frozenset[frozenset[int]]) -> np.ndarray:
        """Unique index pairs (i < j) among present people, shape (m, 2); others are ignored.

        Vectorised: at 50,000 people the cooldown alone lists ~300,000 pairs."""
        two = [pair for pair in pairs if len(pair) == 2]
        flat = np.fromiter(itertools.chain.from_iterable(two), dtype=np.int64, count=2 * len(two))
        if len(flat) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        pos = np.searchsorted(self.sorted_ids, flat)
        pos = np.minimum(pos, len(self.sorted_ids) - 1)
        present = self.sorted_ids[pos] == flat
        idx = self.index_of_sorted[pos].reshape(-1, 2)
        idx = idx[present.reshape(-1, 2).all(axis=1)]
        return np.unique(np.sort(idx, axis=1), axis=0)

    def _pair_matrix(self, pairs: np.ndarray) -> sp.csr_matrix:
        rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
        cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
        return sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(self.n, self.n))

    # -- scoring given pairs ---------------------------------------------------------------------

    def pair_scores(self, i: np.ndarray, j: np.ndarray, *, priority: bool = True) -> np.ndarray:
        """Scores of index pairs (i, j), -1 where forbidden; vectorised `pair_score`."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        if len(i) == 0:
            return np.zeros(0, dtype=np.int32)
        c_ij = np.asarray(self.speaks[i].multiply(self.learns[j]).sum(axis=1)).ravel()
        c_ji = np.asarray(self.learns[i].multiply(self.speaks[j]).sum(axis=1)).ravel()
        score = _TEACH[np.minimum(c_ij, 2)] + _TEACH[np.minimum(c_ji, 2)]
        score += MUTUAL * ((c_ij > 0) & (c_ji > 0))
        score += BASE + NEVER_MET * (1 - _lookup(self.past, i, j))
        score += self.hours_table[self.start_code[i], self.start_code[j]]
        if priority:
            score += self.prio_points[i] + self.prio_points[j]
        score[~self.allowed(i, j)] = -1
        return score.astype(np.int32)

    def allowed(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        ok = i != j
        if not self.allow_same:
            ok &= self.func[i] != self.func[j]
        ok &= _lookup(self.forbidden, i, j) == 0
        return ok

    def row_scores(self, i: int) -> np.ndarray:
        """Person i's score with everyone (-1 where forbidden), vectorised over n."""
        c_ij = np.asarray(self.learns[:, self.speaks[i].indices].sum(axis=1)).ravel()
        c_ji = np.asarray(self.speaks[:, self.learns[i].indices].sum(axis=1)).ravel()
        score = _TEACH[np.minimum(c_ij, 2)] + _TEACH[np.minimum(c_ji, 2)]
        score += MUTUAL * ((c_ij > 0) & (c_ji > 0))
        score += BASE + NEVER_MET * (1 - self.past[i].toarray().ravel())
        score += self.hours_table[self.start_code[i], self.start_code]
        score += self.prio_points[i] + self.prio_points
        bad = self.forbidden[i].toarray().ravel() > 0
        if not self.allow_same:
            bad |= self.func == self.func[i]
        bad[i] = True
        score[bad] = -1
        return score.astype(np.int32)

    def dense_scores(self, *, priority: bool = True) -> np.ndarray:
        """All pair scores as an n × n int32 array, -1 where forbidden (dense mode)."""
        c = (self.speaks @ self.learns.T).toarray()
        ct = c.T
        score = _TEACH[np.minimum(c, 2)] + _TEACH[np.minimum(ct, 2)]
        score += MUTUAL * ((c > 0) & (ct > 0))
        score += BASE + NEVER_MET * (1 - self.past.toarray())
        score += self.hours_table[self.start_code[:, None], self.start_code[None, :]]
        if priority:
            score += self.prio_points[:, None] + self.prio_points[None, :]
        bad = self.forbidden.toarray() > 0
        if not self.allow_same:
            bad |= self.func[:, None] == self.func[None, :]
        np.fill_diagonal(bad, True)
        score[bad] = -1
        return score.astype(np.int32)

    def no_topic_max(self) -> np.ndarray:
        """Per person: the most a pair sharing no topic can score with anyone (an upper bound)."""
        return (
            BASE
            + NEVER_MET
            + self.prio_points
            + int(self.prio_points.max(initial=0))
            + self.hours_table[self.start_code].max(axis=1, initial=0)
        ).astype(np.int32)

    # -- scoring many pairs at once: one sparse product ---------------------------------------------

    def fused(self) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """(A, B, table): (A @ B.T)[i, j] encodes everything but hours and priority about pair (i, j).

        x = c_ij + D·c_ji + D²·(met before) + 2D²·(forbidden) + 4D²·(same function), where
        c_ij counts topics i speaks about and j wants to learn and D exceeds any count. One
        product then yields every pair that shares a topic (or is flagged) with its
        whole story, and `table[x]` turns it into the pair's score without hours and
        priority (negative: forbidden, or no shared topic). Flags ride on extra
        columns: one per function, one per person (self-pairs), two per listed pair."""
        if self._fused is not None:
            return self._fused
        n = self.n
        most = max(int(np.diff(self.speaks.indptr).max(initial=0)), 0)
        most = min(most, int(np.diff(self.learns.indptr).max(initial=0)))
        d = most + 1
        d2 = d * d
        blocks_a = [self.speaks, self.learns]
        blocks_b = [self.learns, self.speaks * d]
        everyone = np.arange(n)
        if not self.allow_same and n:
            onehot = sp.csr_matrix(
                (np.ones(n, dtype=np.int32), (everyone, self.func)), shape=(n, int(self.func.max()) + 1)
            )
            blocks_a.append(onehot)
            blocks_b.append(onehot * (4 * d2))
        eye = sp.identity(n, dtype=np.int32, format="csr")
        blocks_a.append(eye)
        blocks_b.append(eye * (2 * d2))
        for pairs, flag in ((self.past_pairs, d2), (self.forbidden_pairs, 2 * d2)):
            m = len(pairs)
            if m == 0:
                continue
            # Column c for i -> j and column m + c for j -> i: never both on one row, so a
            # person's self-entry does not collect flags from their own pairs.
            col = np.arange(2 * m)
            left = np.concatenate([pairs[:, 0], pairs[:, 1]])
            right = np.concatenate([pairs[:, 1], pairs[:, 0]])
            blocks_a.append(sp.csr_matrix((np.ones(2 * m, dtype=np.int32), (left, col)), shape=(n, 2 * m)))
            blocks_b.append(
                sp.csr_matrix((np.full(2 * m, flag, dtype=np.int32), (right, col)), shape=(n, 2 * m))
            )
        a = sp.hstack(blocks_a, format="csr", dtype=np.int32)
        b = sp.hstack(blocks_b, format="csr", dtype=np.int32)
        x = np.arange(8 * d2)
        c_ij, c_ji, flags = x % d, (x // d) % d, x // d2
        table = _TEACH[np.minimum(c_ij, 2)] + _TEACH[np.minimum(c_ji, 2)]
        table += MUTUAL * ((c_ij > 0) & (c_ji > 0)) + BASE + NEVER_MET * (1 - (flags & 1))
        table[(flags & 6) > 0] = _NEVER
        table[(c_ij == 0) & (c_ji == 0)] = _NEVER
        self._fused = (a, b, table.astype(np.int16))
        return self._fused

    def rect_top_k(
        self, rlo: int, rhi: int, clo: int, chi: int, k: int, *, priority: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each row's k best topic-sharing partners among columns [clo, chi).

        Returns (rows, cols, scores) of the kept entries, then per row the k-th best
        score (0 for rows with fewer than k) and the number of allowed topic pairs.
        Scores include the partner's priority only if `priority` (a person's own is
        the same on their whole row). Rows go through in small chunks so the
        arrays stay in cache: the work is a few passes over every topic-sharing pair."""
        a, b, table = self.fused()
        bt = b[clo:chi].T.tocsr()
        hours = self.hours_table.astype(np.int16)
        col_code = self.start_code[clo:chi]
        col_prio = self.prio_points[clo:chi].astype(np.int16)
        out_rows, out_cols, out_scores = [], [], []
        kth = np.zeros(rhi - rlo, dtype=np.int64)
        valid = np.zeros(rhi - rlo, dtype=np.int64)
        step = _CHUNK_ROWS
        for lo in range(rlo, rhi, step):
            hi = min(rhi, lo + step)
            x = (a[lo:hi] @ bt).tocsr()
            counts = np.diff(x.indptr)
            score = table[x.data]
            local = np.repeat(np.arange(hi - lo, dtype=np.intp), counts)
            score += hours[np.repeat(self.start_code[lo:hi], counts), col_code[x.indices]]
            if priority:
                score += col_prio[x.indices]
            keep, row_kth, row_valid = _top_k(local, score, hi - lo, k, self.rng)
            kth[lo - rlo : hi - rlo] = row_kth
            valid[lo - rlo : hi - rlo] = row_valid
            out_rows.append(local[keep] + lo)
            out_cols.append(x.indices[keep].astype(np.int64) + clo)
            out_scores.append(score[keep].astype(np.int32))
        return (
            np.concatenate(out_rows) if out_rows else np.zeros(0, np.int64),
            np.concatenate(out_cols) if out_cols else np.zeros(0, np.int64),
            np.concatenate(out_scores) if out_scores else np.zeros(0, np.int32),
            kth,
            valid,
        )


# Table value for pairs that are forbidden or share no topic: stays negative after
# adding hours and priority points.
_NEVER = -1000
# Rows per sparse product in `rect_top_k`: ~100k–500k pair entries, cache-sized.
_CHUNK_ROWS = 64


def _lookup(matrix: sp.csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """matrix[i, j] for index arrays, as int32 (0 where absent)."""
    if matrix.nnz == 0 or len(i) == 0:
        return np.zeros(len(i), dtype=np.int32)
    return np.asarray(matrix[i, j]).ravel().astype(np.int32)


# -- top-K per row ------------------------------------------------------------------------------


def _top_k(
    rows: np.ndarray, scores: np.ndarray, nrows: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep each row's k highest positive scores: (mask, k-th best per row or 0, positives per row).

    `rows` (0..nrows-1) must be grouped. No sort: scores are small integers, so a
    per-row histogram gives the cut-off; entries tied at the cut-off are taken
    from a random offset in the row (the seed's tie-break) so that a popular
    score level does not always hand the same partners to everyone."""
    if len(rows) == 0:
        zero = np.zeros(nrows, dtype=np.int64)
        return np.zeros(0, dtype=bool), zero, zero
    s = np.maximum(scores, 0).astype(np.intp)
    top = int(s.max()) + 1
    hist = np.bincount(rows * top + s, minlength=nrows * top).reshape(nrows, top)
    hist[:, 0] = 0  # forbidden / no topic
    # at_least[r, v] = positive entries of row r scoring >= v (an extra zero column at v = top).
    at_least = np.zeros((nrows, top + 1), dtype=np.int64)
    at_least[:, :top] = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
    positive = at_least[:, 1].copy()
    full = positive >= k
    cut = np.where(full, top - 1 - np.argmax((at_least[:, :top] >= k)[:, ::-1], axis=1), 0)
    need = np.where(full, k - at_least[np.arange(nrows), cut + 1], 0)
    entry_cut = cut[rows]
    keep = s > entry_cut
    tie = np.flatnonzero((s == entry_cut) & (s > 0))
    if len(tie):
        tie_rows = rows[tie]
        tie_count = np.bincount(tie_rows, minlength=nrows)
        tie_first = np.concatenate([[0], np.cumsum(tie_count)[:-1]])
        rank = np.arange(len(tie)) - tie_first[tie_rows]
        offset = (rng.random(nrows) * np.maximum(tie_count, 1)).astype(np.int64)
        rank = (rank - offset[tie_rows]) % np.maximum(tie_count[tie_rows], 1)
        keep[tie[rank < need[tie_rows]]] = True
    return keep, np.where(full, cut, 0), positive


def _symmetric_edges(rows: np.ndarray, cols: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, ...]:
    """Undirected unique edges (i < j) from directed entries."""
    i = np.minimum(rows, cols)
    j = np.maximum(rows, cols)
    key = i * (int(max(rows.max(initial=0), cols.max(initial=0))) + 1) + j
    _, first = np.unique(key, return_index=True)
    return i[first], j[first], data[first]


# -- candidates -------------------------------------------------------------------------------


def _candidates(org: _Org) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], sp.csr_matrix | None]:
    """Candidate edges (i < j, score), block bounds, and in dense mode the full allowed graph.

    Partners are ranked without priority points (a person's priority is the same
    with every partner; counted in the weights, it only decides who is left over)."""
    n = org.n
    if n <= DENSE_MAX:
        w = org.dense_scores(priority=False)
        rows, cols = np.nonzero(w >= 0)
        keep = _top_k(rows, w[rows, cols], n, DENSE_TOP_K, org.rng)[0]
        rows, cols = rows[keep], cols[keep]
        allowed = sp.csr_matrix(w >= 0)
        i, j, _ = _symmetric_edges(rows, cols, np.zeros(len(rows)))
        return i, j, org.pair_scores(i, j), [0, n], allowed
    blocks = max(1, round(n / BLOCK))
    bounds = np.linspace(0, n, blocks + 1).astype(np.int64)
    block_of = np.repeat(np.arange(blocks), np.diff(bounds))
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    kth = np.zeros(n, dtype=np.int64)
    for lo, hi in itertools.pairwise(bounds.tolist()):
        rows, cols, _, kth[lo:hi], _ = org.rect_top_k(lo, hi, lo, hi, TOP_K, priority=False)
        parts.append((rows, cols))
    if blocks > 1:
        parts.append(_rare_pairs(org, block_of, kth))
    parts.append(_random_pairs(org, parts, bounds, block_of))
    rows = np.concatenate([p[0] for p in parts])
    i, j, _ = _symmetric_edges(rows, np.concatenate([p[1] for p in parts]), np.zeros(len(rows)))
    return i, j, org.pair_scores(i, j), bounds.tolist(), None


def _rare_pairs(org: _Org, block_of: np.ndarray, kth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs across blocks that share a rare topic and beat one side's k-th best candidate.

    Blocks cut the search; a niche topic may have its only speaker in another
    block. Topics are taken from the rarest up while speakers × learners stays
    within RARE_PAIRS_PER_PERSON per person."""
    speakers = np.diff(org.speaks.tocsc().indptr)
    learners = np.diff(org.learns.tocsc().indptr)
    work = speakers.astype(np.int64) * learners
    order = np.argsort(work, kind="stable")
    within = np.cumsum(work[order]) <= RARE_PAIRS_PER_PERSON * org.n
    rare = np.sort(order[within & (work[order] > 0)])
    if len(rare) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    c = (org.speaks[:, rare] @ org.learns[:, rare].T).tocoo()
    i, j = c.row.astype(np.int64), c.col.astype(np.int64)
    keep = block_of[i] != block_of[j]
    i, j = i[keep], j[keep]
    score = org.pair_scores(i, j, priority=False)
    keep = (score > 0) & ((score >= kth[i]) | (score >= kth[j]))
    return i[keep], j[keep]


def _random_pairs(
    org: _Org, parts: list[tuple[np.ndarray, np.ndarray]], bounds: np.ndarray, block_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Random allowed partners in their block for people with few candidates (few or no topics):
    the per-block assignment can use them, and nobody depends on leftovers handling alone."""
    have = np.zeros(org.n, dtype=np.int64)
    for rows, cols in parts:
        have += np.bincount(rows, minlength=org.n) + np.bincount(cols, minlength=org.n)
    short = np.flatnonzero(have < TOP_K)
    if len(short) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i = np.repeat(short, 2 * TOP_K)
    lo, hi = bounds[block_of[i]], bounds[block_of[i] + 1]
    j = lo + (org.rng.random(len(i)) * (hi - lo)).astype(np.int64)
    keep = org.allowed(i, j)
    return i[keep], j[keep]


# -- assignment -> pairs --------------------------------------------------------------------------


def _assignment_pairs(
    n: int, ei: np.ndarray, ej: np.ndarray, ew: np.ndarray, loop: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Max-weight assignment on the double cover: (partner per person or -1, sigma, value).

    `loop` is each person's weight for "nobody" (0 by default). Every entry is
    shifted by +1 so no weight is a zero (scipy drops explicit zeros); a
    perfect assignment has n entries, so the shift changes no choice."""
    loops = np.zeros(n) if loop is None else loop.astype(np.float64)
    everyone = np.arange(n)
    rows = np.concatenate([ei, ej, everyone])
    cols = np.concatenate([ej, ei, everyone])
    data = np.concatenate([ew, ew, loops]).astype(np.float64) + 1.0
    cover = sp.csr_matrix((data, (rows, cols)), shape=(n, n))
    r, c = min_weight_full_bipartite_matching(cover, maximize=True)
    sigma = np.empty(n, dtype=np.int64)
    sigma[r] = c
    weight = np.asarray(cover[everyone, sigma]).ravel() - 1.0
    value = float(weight.sum())
    partner = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    sig = sigma.tolist()
    wl = weight.tolist()
    for start in range(n):
        if seen[start]:
            continue
        cycle = [start]
        seen[start] = True
        v = sig[start]
        while v != start:
            cycle.append(v)
            seen[v] = True
            v = sig[v]
        if len(cycle) == 1:
            continue
        edges = [wl[v] for v in cycle]  # edges[t] = weight of (cycle[t], cycle[t+1])
        for a, b in _cycle_matching(cycle, edges):
            partner[a], partner[b] = b, a
    return partner, sigma, value


def _cycle_matching(cycle: list[int], edges: list[float]) -> list[tuple[int, int]]:
    """Best matching on a cycle: the heavier alternate half (even), or drop the cheapest person (odd)."""
    k = len(cycle)
    if k == 2:
        return [(cycle[0], cycle[1])]
    if k % 2 == 0:
        even = sum(edges[0::2])
        odd = sum(edges[1::2])
        start = 0 if even >= odd else 1
        return [(cycle[t], cycle[(t + 1) % k]) for t in range(start, k, 2)]
    # Leaving out cycle[m] matches edges m+1, m+3, …, m+k-2. Prefix sums with stride 2 over
    # the doubled list give each m in O(1).
    doubled = edges + edges
    stride = [0.0] * (2 * k + 2)
    for x in range(2 * k):
        stride[x + 2] = stride[x] + doubled[x]
    best_m, best = 0, -math.inf
    for m in range(k):
        first, last = m + 1, m + k - 2
        total = stride[last + 2] - stride[first]
        if total > best:
            best_m, best = m, total
    return [(cycle[(best_m + 1 + 2 * s) % k], cycle[(best_m + 2 + 2 * s) % k]) for s in range((k - 1) // 2)]


# -- maximum cardinality: Edmonds' augmenting paths ---------------------------------------------


def _augment(partner: np.ndarray, roots: list[int], neighbours: sp.csr_matrix) -> None:
    """Grow the matching along augmenting paths from each root (blossoms contracted), in place.

    One search per root is enough: a vertex with no augmenting path now never
    gets one later (Edmonds), and the whole alternating tree of a failed search
    (a "Hungarian tree") can be dropped for good, so failed searches together
    cost O(edges) however many people are left over."""
    indptr, indices = neighbours.indptr, neighbours.indices
    match: list[int] = partner.tolist()  # -1 = exposed; a list: this loop is pure Python
    dead: set[int] = set()

    for root in roots:
        if match[root] != -1:
            continue
        parent: dict[int, int] = {}
        base: dict[int, int] = {}
        used = {root}
        touched = [root]
        queue = [root]

        def base_of(v: int, base: dict[int, int] = base) -> int:
            return base.get(v, v)

        def lca(a: int, b: int, parent: dict[int, int] = parent) -> int:
            on_path: set[int] = set()
            while True:
                a = base_of(a)
                on_path.add(a)
                if match[a] == -1:
                    break
                a = parent[match[a]]
            while True:
                b = base_of(b)
                if b in on_path:
                    return b
                b = parent[match[b]]

        def mark(v: int, b: int, child: int, blossom: set[int], parent: dict[int, int] = parent) -> None:
            while base_of(v) != b:
                mv = match[v]
                blossom.add(base_of(v))
                blossom.add(base_of(mv))
                parent[v] = child
                child = mv
                v = parent[mv]

        found = -1
        head = 0
        while head < len(queue) and found == -1:
            v = queue[head]
            head += 1
            for to in indices[indptr[v] : indptr[v + 1]].tolist():
                if to in dead or base_of(v) == base_of(to) or match[v] == to:
                    continue
                if to == root or (match[to] != -1 and match[to] in parent):
                    top = lca(v, to)
                    blossom: set[int] = set()
                    mark(v, top, to, blossom)
                    mark(to, top, v, blossom)
                    for x in list(touched):
                        if base_of(x) in blossom:
                            base[x] = top
                            if x not in used:
                                used.add(x)
                                queue.append(x)
                elif to not in parent:
                    parent[to] = v
                    touched.append(to)
                    if match[to] == -1:
                        found = to
                        break
                    nxt = match[to]
                    used.add(nxt)
                    touched.append(nxt)
                    queue.append(nxt)
        if found == -1:
            dead.update(touched)
        v = found
        while v != -1:
            pv = parent[v]
            ppv = match[pv]
            match[v], match[pv] = pv, v
            v = ppv
    partner[:] = match


# -- the round --------------------------------------------------------------------------------------


def match(
    inp: MatchInput,
    *,
    topic_names: Mapping[int, str] | None = None,
    person_names: Mapping[int, str] | None = None,
) -> Matching:
    """This week's groups: pairs (and trios for the odd ones), plus why anyone is left out."""
    org = _Org(inp)
    n = org.n
    if n == 0:
        return Matching(groups=(), unmatched={}, total_score=0.0)
    ei, ej, ew, bounds, allowed = _candidates(org)
    partner = _solve_blocks(n, ei, ej, ew, bounds)
    exposed = np.flatnonzero(partner == -1)
    if len(exposed) > 1:
        _pair_leftovers(org, partner, exposed)
        exposed = np.flatnonzero(partner == -1)
    if len(exposed) > 0:
        graph = allowed if allowed is not None else _augment_graph(org, ei, ej, exposed)
        _augment(partner, exposed.tolist(), graph)
    _improve(org, partner, ei, ej, ew)
    if allowed is not None and n <= EXACT_MAX:
        # Small rounds: the exact optimum among maximum-cardinality matchings.
        partner = _exact_small(org, allowed, partner)
    exposed = np.flatnonzero(partner == -1)
    trios = _trios(org, partner, exposed)
    return _result(org, partner, trios, topic_names, person_names)


def _solve_blocks(n: int, ei: np.ndarray, ej: np.ndarray, ew: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Partner per person (-1 if none) from the assignment, solved block by block.

    scipy's LAPJV is fast on one block of 10,000 (~0.4 s) but slows down
    sharply (~17 s at 50,000) once a few cross-block edges tie the blocks
    together; those edges are used afterwards by `_improve` instead."""
    partner = np.full(n, -1, dtype=np.int64)
    block = np.searchsorted(np.asarray(bounds), np.arange(n), side="right") - 1
    inside = block[ei] == block[ej]
    for b, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        sel = inside & (block[ei] == b)
        sub = _assignment_pairs(hi - lo, ei[sel] - lo, ej[sel] - lo, ew[sel])[0]
        paired = sub >= 0
        partner[lo:hi][paired] = sub[paired] + lo
    return partner


def _improve(org: _Org, partner: np.ndarray, ei: np.ndarray, ej: np.ndarray, ew: np.ndarray) -> None:
    """2-opt over the candidate edges, in place, keeping everyone matched who is.

    For an edge (u, v) outside the matching: if u and v are paired with u' and v',
    pair (u, v) and (u', v') instead when allowed and heavier; if v has nobody,
    pair (u, v) and leave u' instead when heavier (someone with priority, say).
    Non-overlapping improvements are applied best first, a few rounds."""
    n = org.n
    weight = np.zeros(n, dtype=np.int64)
    for _ in range(IMPROVE_ROUNDS):
        has = np.flatnonzero(partner >= 0)
        weight[:] = 0
        weight[has] = org.pair_scores(has, partner[has])
        pu, pv = partner[ei], partner[ej]
        live = pu != ej
        swaps: list[tuple[float, int, int, int, int]] = []
        both = np.flatnonzero(live & (pu >= 0) & (pv >= 0))
        # Cheap filter first: no pair scores more than MAX_PAIR_SCORE plus priority.
        bound = MAX_PAIR_SCORE + org.prio_points[pu[both]] + org.prio_points[pv[both]]
        both = both[ew[both] + bound > weight[ei[both]] + weight[ej[both]]]
        if len(both):
            other = org.pair_scores(pu[both], pv[both])
            gain = ew[both] + other - weight[ei[both]] - weight[ej[both]]
            good = (other >= 0) & (gain > 0)
            for g, e in zip(gain[good].tolist(), both[good].tolist(), strict=True):
                swaps.append((g, int(ei[e]), int(ej[e]), int(pu[e]), int(pv[e])))
        for u_side, v_side, pu_side, pv_side in ((ei, ej, pu, pv), (ej, ei, pv, pu)):
            lone = np.flatnonzero(live & (pu_side >= 0) & (pv_side < 0))
            gain = ew[lone] - weight[u_side[lone]]
            for g, e in zip(gain.tolist(), lone.tolist(), strict=True):
                if g > 0:
                    swaps.append((g, int(u_side[e]), int(v_side[e]), int(pu_side[e]), -1))
        if not swaps:
            return
        swaps.sort(key=lambda x: -x[0])
        touched = np.zeros(n, dtype=bool)
        for _, u, v, pu_, pv_ in swaps:
            group = [u, v, pu_] + ([pv_] if pv_ >= 0 else [])
            if touched[group].any():
                continue
            touched[group] = True
            partner[u], partner[v] = v, u
            if pv_ >= 0:
                partner[pu_], partner[pv_] = pv_, pu_
            else:
                partner[pu_] = -1


def _exact_small(org: _Org, allowed: sp.csr_matrix, incumbent: np.ndarray) -> np.ndarray:
    """The maximum-weight matching among those with as many pairs as `incumbent` (the maximum).

    Branch and cut on the matching LP over all allowed pairs plus Σx = size,
    solved by HiGHS: while a solution is fractional, odd sets whose blossom
    inequality (edges inside an odd set S ≤ (|S| − 1) / 2, Edmonds' matching
    polytope) is violated become cuts; when none is found, branch on the most
    fractional edge. Starts from the heuristic's matching and returns it
    unchanged if nothing better is found within MAX_NODES LPs."""
    from scipy.optimize import linprog

    n = org.n
    upper = sp.triu(allowed, k=1).tocoo()
    i, j = upper.row.astype(np.int64), upper.col.astype(np.int64)
    m = len(i)
    size = int((incumbent >= 0).sum()) // 2
    if m == 0 or size == 0:
        return incumbent
    # Integer scores plus a seeded perturbation summing to < 1: breaks the LP's ties (fewer
    # degenerate fractional optima, and the seed picks among equal matchings) without
    # changing which matchings are optimal.
    w = org.pair_scores(i, j) + org.rng.random(m) / (m + 1)
    edge = np.arange(m)
    rows: list[sp.csr_matrix] = [
        sp.csr_matrix((np.ones(2 * m), (np.concatenate([i, j]), np.tile(edge, 2))), shape=(n, m))
    ]
    limits: list[np.ndarray] = [np.ones(n)]
    best = incumbent
    chosen = incumbent[i] == j
    best_value = float(w[chosen].sum())
    stack: list[dict[int, int]] = [{}]  # edge -> fixed value
    solved = 0
    while stack and solved < MAX_NODES:
        fixed = stack.pop()
        bounds = np.zeros((m, 2))
        bounds[:, 1] = 1
        for e, value in fixed.items():
            bounds[e] = value
        while solved < MAX_NODES:
            solved += 1
            lp = linprog(
                -w,
                A_ub=sp.vstack(rows, format="csr"),
                b_ub=np.concatenate(limits),
                A_eq=np.ones((1, m)),
                b_eq=[size],
                bounds=bounds,
                method="highs",
            )
            if lp.status != 0 or -lp.fun <= best_value + 1e-9:
                break  # infeasible, or cannot beat what we have
            x = lp.x
            fractional = (x > 1e-6) & (x < 1 - 1e-6)
            if not fractional.any():
                taken = x > 0.5
                best = np.full(n, -1, dtype=np.int64)
                best[i[taken]], best[j[taken]] = j[taken], i[taken]
                best_value = float(w[taken].sum())
                break
            cuts = _blossom_cuts(n, i, j, x, fractional)
            if cuts:
                rows.append(sp.csr_matrix(np.array([inside for inside, _ in cuts], dtype=np.float64)))
                limits.append(np.array([limit for _, limit in cuts]))
                continue
            e = int(np.argmin(np.abs(x - 0.5)))
            stack.append({**fixed, e: 0})
            stack.append({**fixed, e: 1})  # explored first
            break
    return best


def _blossom_cuts(
    n: int, i: np.ndarray, j: np.ndarray, x: np.ndarray, fractional: np.ndarray
) -> list[tuple[np.ndarray, float]]:
    """Violated blossom inequalities among a few candidate odd sets: components of the
    fractional edges, and of the edges with x above a few levels (a cheap stand-in
    for exact Padberg–Rao separation; branching covers the rest)."""
    cuts: dict[bytes, tuple[np.ndarray, float]] = {}
    for support in (fractional, x > 1e-6, x > 0.3, x > 0.45):
        graph = sp.csr_matrix((np.ones(int(support.sum())), (i[support], j[support])), shape=(n, n))
        count, label = connected_components(graph, directed=False)
        sizes = np.bincount(label, minlength=count)
        for c in np.flatnonzero((sizes >= 3) & (sizes % 2 == 1)).tolist():
            members = label == c
            inside = members[i] & members[j]
            limit = (sizes[c] - 1) / 2
            if x[inside].sum() > limit + 1e-6:
                cuts.setdefault(inside.tobytes(), (inside, limit))
    return list(cuts.values())


def _pair_leftovers(org: _Org, partner: np.ndarray, exposed: np.ndarray) -> None:
    """Pair people left over by the assignment among themselves (best total), in place."""
    for _ in range(3):  # each pass solves the leftovers' own assignment; odd cycles leave a few again
        if len(exposed) < 2:
            return
        a, b = np.triu_indices(len(exposed), 1)
        if len(a) > 4_000_000:  # thousands left over only if the graph is very sparse: keep it bounded
            return
        s = org.pair_scores(exposed[a], exposed[b])
        ok = s > 0
        if not ok.any():
            return
        sub, _, _ = _assignment_pairs(len(exposed), a[ok], b[ok], s[ok])
        paired = sub >= 0
        if not paired.any():
            return
        partner[exposed[paired]] = exposed[sub[paired]]
        exposed = exposed[~paired]


def _augment_graph(org: _Org, ei: np.ndarray, ej: np.ndarray, exposed: np.ndarray) -> sp.csr_matrix:
    """Candidates plus every allowed pair of (up to FULL_ROWS of) the people left over.

    A full row costs O(n); thousands left over happen only when one function
    outnumbers all others together, and then extra rows cannot help anyway."""
    rows = [ei, ej]
    cols = [ej, ei]
    for v in _leftover_order(org, exposed)[:FULL_ROWS]:
        others = np.flatnonzero(org.row_scores(v) >= 0)
        rows += [np.full(len(others), v), others]
        cols += [others, np.full(len(others), v)]
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    graph = sp.csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(org.n, org.n))
    graph.sum_duplicates()
    return graph


def _trios(org: _Org, partner: np.ndarray, exposed: np.ndarray) -> dict[int, int]:
    """Third member -> the pair's first member, for leftovers that fit a pair pairwise."""
    joined: dict[int, int] = {}
    if len(exposed) == 0:
        return joined
    firsts = np.flatnonzero((partner >= 0) & (np.arange(org.n) < partner))
    seconds = partner[firsts]
    taken = np.zeros(len(firsts), dtype=bool)
    for v in _leftover_order(org, exposed)[:FULL_ROWS]:
        row = org.row_scores(v)
        gain = row[firsts].astype(np.int64) + row[seconds]
        fits = (row[firsts] >= 0) & (row[seconds] >= 0) & ~taken
        if not fits.any():
            continue
        best = int(np.flatnonzero(fits)[np.argmax(gain[fits])])
        taken[best] = True
        joined[v] = int(firsts[best])
    return joined


def _leftover_order(org: _Org, exposed: np.ndarray) -> list[int]:
    """People left over, priority first, then the seed's order."""
    return sorted(exposed.tolist(), key=lambda v: (org.prio_points[v] == 0, v))


def _unmatched_reasons(org: _Org, left: list[int]) -> dict[int, str]:
    """Why each person left over was not paired (counts, not a scan per person)."""
    n = org.n
    others = np.full(n, n - 1) if org.allow_same else n - np.bincount(org.func)[org.func]
    # Forbidden partners who would otherwise be allowed, per person.
    counts: dict[str, np.ndarray] = {}
    for name, pairs in (("forbidden", org.forbidden_pairs), ("recent", org._pairs(org.inp.recent_pairs))):
        i, j = pairs[:, 0], pairs[:, 1]
        if not org.allow_same:
            keep = org.func[i] != org.func[j]
            i, j = i[keep], j[keep]
        counts[name] = np.bincount(np.concatenate([i, j]), minlength=n)
    allowed = others - counts["forbidden"]
    reasons: dict[int, str] = {}
    for v in left:
        if allowed[v] > 0:
            reasons[v] = ODD_ONE_OUT if len(left) == 1 else ALL_PARTNERS_TAKEN
        elif others[v] == 0:
            reasons[v] = NOBODY_ELSE if org.allow_same else NO_OTHER_FUNCTION
        elif counts["recent"][v] == others[v]:
            reasons[v] = ALL_MET_RECENTLY  # the cooldown is the whole story
        else:
            reasons[v] = NO_ALLOWED_PARTNER  # a block is never revealed
    return reasons


def _result(
    org: _Org,
    partner: np.ndarray,
    trios: dict[int, int],
    topic_names: Mapping[int, str] | None,
    person_names: Mapping[int, str] | None,
) -> Matching:
    people, inp = org.people, org.inp
    thirds: dict[int, int] = {first: third for third, first in trios.items()}
    groups: list[Group] = []
    for a in range(org.n):
        b = int(partner[a])
        if b < a:
            continue
        members = [a, b] + ([thirds[a]] if a in thirds else [])
        score = 0.0
        reasons: list[str] = []
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                scored = pair_score(
                    people[members[x]],
                    people[members[y]],
                    inp,
                    topic_names=topic_names,
                    person_names=person_names,
                )
                if scored is None:  # unreachable: every edge used was checked as allowed
                    raise AssertionError("forbidden pair in a group")
                score += scored[0]
                reasons += scored[1]
        if len(members) == 3:
            reasons.append("three of you this week, so nobody is left out")
        groups.append(
            Group(
                members=tuple(sorted(people[m].id for m in members)),
                score=score,
                reasons=tuple(dict.fromkeys(reasons)),
            )
        )
    left = [v for v in np.flatnonzero(partner == -1).tolist() if v not in trios]
    unmatched = {people[v].id: reason for v, reason in _unmatched_reasons(org, left).items()}
    groups.sort(key=lambda g: g.members)
    return Matching(
        groups=tuple(groups),
        unmatched=dict(sorted(unmatched.items())),
        total_score=float(sum(g.score for g in groups)),
    )


# -- a certified upper bound --------------------------------------------------------------------


def upper_bound(inp: MatchInput, *, rounds: int = 8, per_row: int = 16, tolerance: float = 1e-4) -> float:
    """A certified upper bound on the total pair score of ANY matching of `inp` (trios not counted).

    LP duality: for any y ≥ 0, with δ_i = ½ max_j (w_ij − y_i − y_j)⁺ over all
    allowed partners j, the vector y + δ is feasible for the dual of the
    fractional-matching LP (y_i + y_j ≥ w_ij for every pair), so every matching
    scores at most Σ y + Σ δ. The bound is only as good as y, so y comes from
    column generation: solve the LP (HiGHS) on a set of edges, take its duals,
    scan *every* pair sharing a topic for the most violated ones, add them,
    repeat until the bound improves by less than `tolerance`. Pairs sharing no
    topic are bounded per work-start zone (their score is base + never-met +
    hours + priority). Returns the smallest bound seen.

    Scans all topic-sharing pairs each round (about a minute per round at 50,000
    people): a bench tool, not part of the round."""
    from scipy.optimize import linprog  # only the bench needs an LP solver

    org = _Org(inp)
    n = org.n
    if n < 2:
        return 0.0
    ei, ej, _, _, _ = _candidates(org)
    best = math.inf
    for _ in range(max(1, rounds)):
        ew = org.pair_scores(ei, ej)
        if len(ei):
            incidence = sp.csr_matrix(
                (np.ones(2 * len(ei)), (np.concatenate([ei, ej]), np.tile(np.arange(len(ei)), 2))),
                shape=(n, len(ei)),
            )
            lp = linprog(
                -ew.astype(np.float64), A_ub=incidence, b_ub=np.ones(n), bounds=(0, None), method="highs-ipm"
            )
            y = np.maximum(-np.asarray(lp.ineqlin.marginals, dtype=np.float64), 0.0)
        else:
            y = np.zeros(n)
        worst, rows, cols = _violations(org, y, per_row)
        bound = float(y.sum() + 0.5 * np.maximum(worst, 0.0).sum())
        if len(rows) == 0 or bound > best * (1 - tolerance):
            best = min(best, bound)
            break
        best = bound
        ei, ej, _ = _symmetric_edges(
            np.concatenate([ei, rows]), np.concatenate([ej, cols]), np.zeros(len(ei) + len(rows))
        )
    return best


def _violations(org: _Org, y: np.ndarray, per_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person the largest w_ij − y_i − y_j over all allowed j (an upper bound for pairs sharing
    no topic), and each person's `per_row` most violated topic-sharing pairs."""
    a, b, table = org.fused()
    bt = b.T.tocsr()
    n = org.n
    hours = org.hours_table.astype(np.int64)
    worst = np.full(n, -np.inf)
    found_rows, found_cols = [], []
    for lo in range(0, n, _CHUNK_ROWS):
        hi = min(n, lo + _CHUNK_ROWS)
        x = (a[lo:hi] @ bt).tocsr()
        counts = np.diff(x.indptr)
        local = np.repeat(np.arange(hi - lo, dtype=np.intp), counts)
        score = table[x.data].astype(np.int64)
        score += hours[org.start_code[lo:hi][local], org.start_code[x.indices]]
        score += org.prio_points[lo:hi][local] + org.prio_points[x.indices]
        slack = np.where(score > 0, score - y[lo:hi][local] - y[x.indices], -np.inf)
        some = counts > 0
        worst[lo:hi][some] = np.maximum.reduceat(slack, x.indptr[:-1][some])
        # Quantised to half points for the top-k cut; exact values go into `worst`.
        level = np.clip(np.floor(2 * slack + 0.5), 0, 1_000).astype(np.int64)
        keep = _top_k(local, level, hi - lo, per_row, org.rng)[0]
        found_rows.append(local[keep] + lo)
        found_cols.append(x.indices[keep].astype(np.int64))
    # Pairs sharing no topic: base + never-met + hours + both priorities, maximised per zone.
    zone_best = np.full(org.zones, -np.inf)
    np.maximum.at(zone_best, org.start_code, org.prio_points - y)
    no_topic = (
        BASE
        + NEVER_MET
        + org.prio_points
        - y
        + np.max(org.hours_table[org.start_code].astype(np.float64) + zone_best[None, :], axis=1)
    )
    worst = np.maximum(worst, no_topic)
    return worst, np.concatenate(found_rows), np.concatenate(found_cols)


def scored_pairs(inp: MatchInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every allowed pair as (id_a, id_b, score) arrays with id_a < id_b: small inputs (tests, bench)."""
    org = _Org(inp)
    if org.n < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    w = org.dense_scores()
    i, j = np.nonzero(np.triu(w >= 0, 1))
    ids = np.array([c.id for c in org.people], dtype=np.int64)
    a, b = ids[i], ids[j]
    return np.minimum(a, b), np.maximum(a, b), w[i, j].astype(np.int64)
