"""`/infochat find` from the precomputed ranking (expert_ranks): what searchers see stays right.

The ranking rows are written by profile saves, pauses, departures and chats;
searches read them for the topic a query names. These tests change things the
way users do and look at the next search, and check that the rows give exactly
what ranking everyone live gives, at any instant.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.clock import frozen_at
from bot.db import Database
from bot.models import ChatRole, Person
from bot.models_ranks import expert_ranks, person_ranks
from bot.services import expert_ranks as ranks
from bot.services import find as find_service
from bot.services import profiles
from bot.services.find import SearchResult, find_experts, ranking
from bot.services.profiles import ProfileInput
from bot.services.topics import merge_topics
from tests.factories import NOW, SEARCHER, chat, ids, person, searcher


@pytest.fixture(autouse=True, params=["largest topic by index", "all matched together"])
def fresh_caches(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Both ways a search reads the rows: the largest matched topic on its own
    # (for topics of any size here), or every matched person in one statement.
    monkeypatch.setattr(ranking, "PRECOMPUTED_MIN", 0 if request.param == "largest topic by index" else 10**9)
    find_service.clear_caches()
    yield
    find_service.clear_caches()


def find(db: Database, query: str, at: Any = NOW, **kwargs: Any) -> SearchResult:
    with db.session() as session:
        return find_experts(session, query, SEARCHER, at, record=False, **kwargs)


def seen(result: SearchResult) -> tuple[Any, ...]:
    """Everything a searcher is shown."""
    return (
        [
            (h.slack_user_id, h.match, h.same_function, h.spare, h.recent_chats, h.matching_topics)
            for h in result.hits
        ],
        result.total,
        result.hidden_paused,
        result.hidden_departed,
        result.hidden_at_capacity,
        result.own_function_count,
    )


def _get(session: Any, slack_user_id: str) -> Person:
    found = session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))
    assert found is not None
    return found


@pytest.mark.ranking_rows_unchecked("moves every row out of its interval to rank everyone live")
def test_rows_give_what_ranking_everyone_live_gives(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    topics = ["Kubernetes", "Kubernetes security", "Pricing", "Pricing strategy", "Sales"]
    popular = ["Kubernetes security", "Pricing strategy"]
    functions = ["Engineering", "Product", "Sales", None]
    with frozen_at(NOW), db.session() as s:
        searcher(s)
        people = []
        for i in range(60):
            roll = rng.random()
            people.append(
                person(
                    s,
                    f"U{i:03d}",
                    f"Person {i}",
                    rng.choice(functions),
                    # Fuzzy matches with more experts than the exact topic, too.
                    speaks=list({*rng.sample(topics, rng.randint(1, 3)), *popular[: rng.randint(0, 2)]}),
                    ask="pricing and sales" if rng.random() < 0.2 else "",
                    chats_per_month=rng.choice([1, 2, 3, 5]),
                    paused_until=NOW + timedelta(days=rng.randint(-5, 40)) if roll < 0.15 else None,
                    left_at=NOW - timedelta(days=3) if 0.15 <= roll < 0.2 else None,
                )
            )
        for _ in range(120):
            a, b = rng.sample(people, 2)
            at = NOW + timedelta(days=rng.randint(-130, 30), hours=rng.randint(0, 23))
            chat(s, at, (a, rng.choice([ChatRole.EXPERT, ChatRole.PEER])), (b, ChatRole.LEARNER))
    queries = ["kubernetes", "pricing", "kubernets", "sales", "strategy pricing"]
    instants = [NOW, NOW + timedelta(days=12), NOW + timedelta(days=45), NOW + timedelta(days=100)]
    searches = [
        (query, at, own, left_out)
        for query in queries
        for at in instants
        for own in (False, True)
        for left_out in ((), ("U001", "U002"))
    ]
    from_rows = [
        seen(find(db, q, at, include_own_function=own, exclude_slack_ids=x)) for q, at, own, x in searches
    ]
    with db.session() as s:  # every row stops holding: everyone is ranked live
        s.execute(update(person_ranks).values(valid_from=NOW + timedelta(days=3650)))
    stale = [
        seen(find(db, q, at, include_own_function=own, exclude_slack_ids=x)) for q, at, own, x in searches
    ]
    monkeypatch.setattr(ranking, "MAX_STALE", 0)  # too many rows do not hold: everyone from people
    live = [
        seen(find(db, q, at, include_own_function=own, exclude_slack_ids=x)) for q, at, own, x in searches
    ]
    assert from_rows == stale == live
    assert any(result[0] for result in live) and any(result[2] for result in live)


def test_a_new_expert_is_found_and_a_paused_or_departed_one_is_counted(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        person(s, "UANN", "Ann", speaks=["Pricing"])
    assert ids(find(db, "pricing")) == ["UANN"]
    with db.session() as s:  # joins through the profile modal
        bob = person(s, "UBOB", "Bob", joined=False, chats_per_month=0)
        form = ProfileInput(function="Sales", speak=["Pricing"], learn=[], chats_per_month=3)
        profiles.save_profile(s, bob, form, NOW)
    assert sorted(ids(find(db, "pricing"))) == ["UANN", "UBOB"]
    with db.session() as s:
        # as `/infochat pause` and the Home's pause menu write it
        ann_state = profiles.pause_state(s, "UANN")
        assert ann_state is not None
        profiles.set_paused_until(s, ann_state, NOW + timedelta(days=14))
    result = find(db, "pricing")
    assert ids(result) == ["UBOB"] and result.hidden_paused == 1
    with db.session() as s:
        ann_state = profiles.pause_state(s, "UANN")
        assert ann_state is not None
        profiles.set_paused_until(s, ann_state, None)  # as `/infochat resume`
        profiles.leave(_get(s, "UBOB"), NOW)
    result = find(db, "pricing")
    assert ids(result) == ["UANN"] and (result.hidden_paused, result.hidden_departed) == (0, 1)
    with db.session() as s:  # stops speaking about it
        ann = _get(s, "UANN")
        profiles.save_profile(
            s, ann, ProfileInput(function="Product", speak=["Sales"], learn=[], chats_per_month=2), NOW
        )
    result = find(db, "pricing")
    assert result.hits == [] and result.hidden_departed == 1
    assert ids(find(db, "sales")) == ["UANN"]


def test_a_chat_moves_an_expert_down_then_into_the_at_capacity_count(db: Database) -> None:
    with db.session() as s:
        me = searcher(s)
        person(s, "UONE", "One", speaks=["Pricing"], chats_per_month=2)
        person(s, "UTWO", "Two", speaks=["Pricing"], chats_per_month=2)
    assert ids(find(db, "pricing")) == ["UONE", "UTWO"]  # equal: lower id first
    with db.session() as s:
        chat(s, NOW - timedelta(hours=1), (_get(s, "UONE"), ChatRole.EXPERT), (s.merge(me), ChatRole.LEARNER))
    result = find(db, "pricing")
    assert ids(result) == ["UTWO", "UONE"] and [h.spare for h in result.hits] == [2, 1]
    with db.session() as s:
        chat(s, NOW - timedelta(minutes=5), (_get(s, "UONE"), ChatRole.PEER), (s.merge(me), ChatRole.PEER))
    result = find(db, "pricing")
    assert ids(result) == ["UTWO"] and result.hidden_at_capacity == 1


def test_time_alone_ends_pauses_resets_capacity_and_ages_chats(db: Database) -> None:
    with frozen_at(NOW), db.session() as s:
        me = searcher(s)
        person(s, "UPAUSED", "Paused", speaks=["Pricing"], paused_until=NOW + timedelta(days=2))
        full = person(s, "UFULL", "Full", speaks=["Pricing"], chats_per_month=1)
        busy = person(s, "UBUSY", "Busy", speaks=["Pricing"], chats_per_month=3)
        chat(s, NOW - timedelta(days=1), (full, ChatRole.EXPERT), (me, ChatRole.LEARNER))
        chat(s, NOW - timedelta(days=80), (busy, ChatRole.EXPERT), (me, ChatRole.LEARNER))
    result = find(db, "pricing")
    assert ids(result) == ["UBUSY"] and (result.hidden_paused, result.hidden_at_capacity) == (1, 1)
    # Three days on, the pause is over: shown, with no chats, before Busy.
    assert ids(find(db, "pricing", NOW + timedelta(days=3))) == ["UPAUSED", "UBUSY"]
    # December: Full has a chat left again; Busy's chat is over 90 days old.
    later = NOW + timedelta(days=15)
    result = find(db, "pricing", later)
    assert ids(result) == ["UPAUSED", "UBUSY", "UFULL"] and result.hidden_at_capacity == 0
    assert [h.recent_chats for h in result.hits] == [0, 0, 1]
    # The hourly job recomputes the rows that ran out; searches see the same.
    with db.session() as s:
        assert ranks.refresh_expired(s, later) == 3
        assert ranks.refresh_expired(s, later) == 0
    assert seen(find(db, "pricing", later)) == seen(result)


def test_only_listed_experts_have_rows_and_merges_move_them(db: Database) -> None:
    with db.session() as s:
        searcher(s)  # takes no chats
        person(s, "UGUEST", "Guest", speaks=["Pricing"], is_restricted=True)
        person(s, "UNEW", "New", speaks=["Pricing"], joined=False)
        person(s, "UPRO", "Pro", speaks=["Pricing strategy deep dive"])
        person(s, "UBOTH", "Both", speaks=["Pricing", "Pricing strategy deep dive"])
        assert s.scalar(select(func.count()).select_from(expert_ranks)) == 3
        merge_topics(s, "Pricing strategy deep dive", "Pricing")
    result = find(db, "pricing")
    assert sorted(ids(result)) == ["UBOTH", "UPRO"] and all(h.match == "exact" for h in result.hits)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(expert_ranks)) == 2
