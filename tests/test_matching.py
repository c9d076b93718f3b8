"""Weekly matching (`bot.services.matching`): pure, no database.

Property tests over random organisations check the hard constraints, that
everyone is accounted for once, reproducibility by seed, and maximum
cardinality against an independent oracle (networkx's blossom); a few examples
pin the intended behaviour (mutual topics win, priority, trios, reasons)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services import matching
from bot.services.matching import Candidate, Group, Matching, MatchInput, match, pair_score, upper_bound

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def organisations(draw: st.DrawFn, max_people: int = 60) -> MatchInput:
    """A random company: functions, topics, work hours, priority, and who met or blocked whom."""
    n = draw(st.integers(0, max_people))
    functions = draw(st.integers(1, 6))
    topics = draw(st.integers(0, 12))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    ids = rnd.sample(range(1, 10 * max_people + 10), n)  # ids are not 0..n-1 and not in order
    # Office starts, plus now and then an odd fractional one (rounded to the quarter hour).
    starts = [rnd.choice([1.0, 3.5, 8.0, 9.0, 14.0, 17.0, 22.75, rnd.uniform(0, 24)]) for _ in range(3)]

    def some_topics(most: int) -> frozenset[int]:
        return frozenset(rnd.sample(range(topics), rnd.randint(0, min(most, topics))))

    people = [
        Candidate(
            id=pid,
            function=f"F{rnd.randrange(functions)}",
            speaks=some_topics(4),
            learns=some_topics(3),
            work_start_utc=rnd.choice(starts),
            priority=rnd.random() < 0.1,
        )
        for pid in ids
    ]
    pairs = [frozenset(p) for p in itertools.combinations(ids, 2)]
    rate = draw(st.sampled_from([0.0, 0.05, 0.3, 0.8]))
    recent = frozenset(p for p in pairs if rnd.random() < rate)
    past = frozenset(p for p in pairs if rnd.random() < 0.2) - recent
    blocked = frozenset(p for p in pairs if rnd.random() < rate / 4)
    return MatchInput(
        candidates=people,
        recent_pairs=recent,
        past_pairs=past,
        blocked_pairs=blocked,
        allow_same_function=draw(st.booleans()) if functions > 1 else rnd.random() < 0.5,
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def allowed(inp: MatchInput, a: Candidate, b: Candidate) -> bool:
    """The hard constraints, written out independently of the module."""
    if a.id == b.id:
        return False
    if a.function == b.function and not inp.allow_same_function:
        return False
    key = frozenset((a.id, b.id))
    return key not in inp.recent_pairs and key not in inp.blocked_pairs


def allowed_graph(inp: MatchInput) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(c.id for c in inp.candidates)
    graph.add_edges_from(
        (a.id, b.id) for a, b in itertools.combinations(inp.candidates, 2) if allowed(inp, a, b)
    )
    return graph


def group_pairs(group: Group) -> Iterator[tuple[int, int]]:
    return itertools.combinations(group.members, 2)


def check_invariants(inp: MatchInput, result: Matching) -> None:
    by_id = {c.id: c for c in inp.candidates}
    seen: list[int] = []
    for group in result.groups:
        assert len(group.members) in (2, 3)
        assert list(group.members) == sorted(set(group.members)), "sorted, no self-pairs"
        expected = 0.0
        for a, b in group_pairs(group):
            assert allowed(inp, by_id[a], by_id[b]), f"forbidden pair {a}-{b} in {group.members}"
            scored = pair_score(by_id[a], by_id[b], inp)
            assert scored is not None
            expected += scored[0]
        assert group.score == expected
        seen += group.members
    seen += result.unmatched
    assert sorted(seen) == sorted(by_id), "everyone exactly once, in a group or unmatched with a reason"
    assert all(reason for reason in result.unmatched.values())
    assert result.total_score == sum(g.score for g in result.groups)


@FAST
@given(organisations())
def test_constraints_hold_and_everyone_is_accounted_for(inp: MatchInput) -> None:
    check_invariants(inp, match(inp))


@FAST
@given(organisations())
def test_everyone_eligible_is_matched_when_a_valid_matching_exists(inp: MatchInput) -> None:
    result = match(inp)
    graph = allowed_graph(inp)
    most = len(nx.max_weight_matching(graph, maxcardinality=True))
    # Every group holds one pair of the matching (a trio: a pair plus a third), so the
    # number of groups is the matching's size: it must be the maximum.
    assert len(result.groups) == most
    pairs = [g for g in result.groups if len(g.members) == 2]
    for person, reason in result.unmatched.items():
        partners = set(graph.neighbors(person))
        if not partners:
            assert reason in {
                matching.NO_OTHER_FUNCTION,
                matching.NOBODY_ELSE,
                matching.ALL_MET_RECENTLY,
                matching.NO_ALLOWED_PARTNER,
            }
            continue
        assert reason in {matching.ODD_ONE_OUT, matching.ALL_PARTNERS_TAKEN}
        # Left over although they have partners: no pair could take them as a third.
        assert not any(set(g.members) <= partners for g in pairs), "a trio was possible"
    if 2 * most == len(inp.candidates) - 1:  # odd count, perfect but for one: a trio or one left
        assert len(result.unmatched) <= 1


@FAST
@given(organisations(), st.randoms(use_true_random=False))
def test_same_seed_same_groups_whatever_the_input_order(inp: MatchInput, rnd: random.Random) -> None:
    first = match(inp)
    shuffled = list(inp.candidates)
    rnd.shuffle(shuffled)
    again = match(
        MatchInput(
            candidates=shuffled,
            recent_pairs=inp.recent_pairs,
            past_pairs=inp.past_pairs,
            blocked_pairs=inp.blocked_pairs,
            allow_same_function=inp.allow_same_function,
            seed=inp.seed,
        )
    )
    assert again == first


@settings(max_examples=60, deadline=None)
@given(organisations(max_people=40))
def test_score_is_near_the_exact_optimum_and_below_the_bound(inp: MatchInput) -> None:
    result = match(inp)
    graph = nx.Graph()
    a, b, w = matching.scored_pairs(inp)
    graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
    best = nx.max_weight_matching(graph, maxcardinality=True)
    optimum = sum(graph[x][y]["weight"] for x, y in best)
    pairs_only = sum(_pair_part(inp, g) for g in result.groups)
    assert pairs_only <= optimum + 1e-9
    assert upper_bound(inp) >= optimum - 1e-6
    # Small rounds are solved exactly unless the branch-and-cut budget runs out (then the
    # heuristic's matching stands): exactness itself is pinned on fixed inputs below.
    assert pairs_only >= 0.98 * optimum


def test_small_rounds_are_exactly_optimal() -> None:
    for seed in range(25):
        inp = _fixed_organisation(seed)
        graph = nx.Graph()
        a, b, w = matching.scored_pairs(inp)
        graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist(), strict=True))
        best = nx.max_weight_matching(graph, maxcardinality=True)
        optimum = sum(graph[x][y]["weight"] for x, y in best)
        assert sum(_pair_part(inp, g) for g in match(inp).groups) == optimum, seed


def _fixed_organisation(seed: int) -> MatchInput:
    """A deterministic random organisation of 20–40 people (no hypothesis: a fixed list of cases)."""
    rnd = random.Random(seed)
    ids = rnd.sample(range(1, 1000), rnd.randint(20, 40))
    people = [
        Candidate(
            id=pid,
            function=f"F{rnd.randrange(4)}",
            speaks=frozenset(rnd.sample(range(10), rnd.randint(0, 4))),
            learns=frozenset(rnd.sample(range(10), rnd.randint(0, 3))),
            work_start_utc=rnd.choice([3.5, 8.0, 9.0, 14.0]),
            priority=rnd.random() < 0.1,
        )
        for pid in ids
    ]
    pairs = [frozenset(p) for p in itertools.combinations(ids, 2)]
    return MatchInput(
        candidates=people,
        recent_pairs=frozenset(p for p in pairs if rnd.random() < 0.3),
        past_pairs=frozenset(p for p in pairs if rnd.random() < 0.2),
        blocked_pairs=frozenset(p for p in pairs if rnd.random() < 0.02),
        seed=seed,
    )


def _pair_part(inp: MatchInput, group: Group) -> float:
    """A group's score as a pair: a trio counts its best pair (the bound and optimum are over pairs)."""
    by_id = {c.id: c for c in inp.candidates}
    scores = [pair_score(by_id[x], by_id[y], inp) for x, y in group_pairs(group)]
    return max(s[0] for s in scores if s is not None)


@settings(max_examples=40, deadline=None)
@given(organisations())
def test_sparse_mode_keeps_the_constraints(inp: MatchInput) -> None:
    """The path used above DENSE_MAX people (blocks, rare topics, random partners), on small inputs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matching, "DENSE_MAX", 0)
        patch.setattr(matching, "BLOCK", 12)
        patch.setattr(matching, "TOP_K", 3)
        result = match(inp)
        assert match(inp) == result
    check_invariants(inp, result)


@settings(max_examples=60, deadline=None)
@given(organisations(max_people=30))
def test_vectorised_scores_agree_with_pair_score(inp: MatchInput) -> None:
    a, b, w = matching.scored_pairs(inp)
    by_id = {c.id: c for c in inp.candidates}
    listed = {(x, y): s for x, y, s in zip(a.tolist(), b.tolist(), w.tolist(), strict=True)}
    for x, y in itertools.combinations(sorted(by_id), 2):
        scored = pair_score(by_id[x], by_id[y], inp)
        assert listed.get((x, y)) == (None if scored is None else scored[0])


# -- examples ---------------------------------------------------------------------------------


def person(
    pid: int, function: str, speaks: set[int] = frozenset(), learns: set[int] = frozenset(), **kw
) -> Candidate:
    return Candidate(
        id=pid,
        function=function,
        speaks=frozenset(speaks),
        learns=frozenset(learns),
        work_start_utc=kw.pop("start", 9.0),
        **kw,
    )


def members(result: Matching) -> set[tuple[int, ...]]:
    return {g.members for g in result.groups}


def test_mutual_teachers_are_paired_over_one_way_matches() -> None:
    # 1 and 2 can teach each other; 3 and 4 would each be a one-way match for 1 or 2.
    people = [
        person(1, "Eng", speaks={10}, learns={20}),
        person(2, "Sales", speaks={20}, learns={10}),
        person(3, "Design", speaks={20}),
        person(4, "Finance", learns={10}),
    ]
    for seed in range(10):
        result = match(MatchInput(candidates=people, seed=seed))
        assert (1, 2) in members(result)


def test_pair_score_explains_itself() -> None:
    a = person(1, "Eng", speaks={10, 11}, learns={20})
    b = person(2, "Sales", speaks={20}, learns={10, 11}, priority=True, start=10.0)
    inp = MatchInput(candidates=[a, b])
    scored = pair_score(
        a, b, inp, topic_names={10: "Kubernetes", 20: "Negotiation"}, person_names={1: "Ana", 2: "Cy"}
    )
    assert scored is not None
    score, reasons = scored
    # 1 + (10 + 4) + 10 + mutual 10 + never met 5 + 7 h overlap -> 3 + priority 20
    assert score == 1 + 14 + 10 + 10 + 5 + 3 + 20
    assert "Ana can tell Cy about Kubernetes and topic:11" in reasons
    assert "Cy can tell Ana about Negotiation" in reasons
    assert "Cy could not be paired last week" in reasons
    assert pair_score(a, person(3, "Eng"), inp) is None


def test_priority_person_is_not_the_one_left_out() -> None:
    # 1 can meet 2 or 3, but 2 and 3 have blocked each other: one of them is left out.
    people = [person(1, "Eng"), person(2, "Sales"), person(3, "Design", priority=True)]
    inp_blocked = frozenset({frozenset((2, 3))})
    for seed in range(20):
        result = match(MatchInput(candidates=people, blocked_pairs=inp_blocked, seed=seed))
        assert members(result) == {(1, 3)}
        assert result.unmatched == {2: matching.ODD_ONE_OUT}


def test_odd_one_out_joins_a_trio_that_keeps_the_constraints() -> None:
    people = [person(1, "Eng", speaks={1}), person(2, "Sales", learns={1}), person(3, "Design")]
    result = match(MatchInput(candidates=people, seed=7))
    assert members(result) == {(1, 2, 3)} and result.unmatched == {}
    assert "three of you this week, so nobody is left out" in result.groups[0].reasons
    # Same function as one of the pair: no trio, told why.
    people[2] = person(3, "Sales")
    result = match(MatchInput(candidates=people, seed=7))
    assert members(result) == {(1, 2)} or members(result) == {(1, 3)}
    assert list(result.unmatched.values()) == [matching.ODD_ONE_OUT]


def test_reasons_for_people_nobody_can_meet() -> None:
    alone = match(MatchInput(candidates=[person(1, "Eng"), person(2, "Eng")]))
    assert alone.unmatched == {1: matching.NO_OTHER_FUNCTION, 2: matching.NO_OTHER_FUNCTION}
    met = match(
        MatchInput(
            candidates=[person(1, "Eng"), person(2, "Sales")], recent_pairs=frozenset({frozenset((1, 2))})
        )
    )
    assert met.unmatched == {1: matching.ALL_MET_RECENTLY, 2: matching.ALL_MET_RECENTLY}
    # A block is never revealed to the person blocked.
    blocked = match(
        MatchInput(
            candidates=[person(1, "Eng"), person(2, "Sales")], blocked_pairs=frozenset({frozenset((1, 2))})
        )
    )
    assert blocked.unmatched == {1: matching.NO_ALLOWED_PARTNER, 2: matching.NO_ALLOWED_PARTNER}
    assert match(MatchInput(candidates=[])) == Matching(groups=(), unmatched={}, total_score=0.0)


def test_met_before_outside_the_cooldown_is_allowed_but_scores_lower() -> None:
    a, b = person(1, "Eng"), person(2, "Sales")
    fresh = pair_score(a, b, MatchInput(candidates=[a, b]))
    again = pair_score(a, b, MatchInput(candidates=[a, b], past_pairs=frozenset({frozenset((1, 2))})))
    assert fresh is not None and again is not None
    assert again[0] == fresh[0] - matching.NEVER_MET


def test_different_seeds_can_break_ties_differently() -> None:
    # Four interchangeable people in four functions: three equally good pairings.
    people = [person(i, f"F{i}") for i in range(1, 5)]
    seen = {frozenset(members(match(MatchInput(candidates=people, seed=seed)))) for seed in range(30)}
    assert len(seen) > 1


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        match(MatchInput(candidates=[person(1, "Eng"), person(1, "Sales")]))
