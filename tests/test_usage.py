"""person_usage: the per-person chat counts search ranks by stay equal to counting the chats."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from bot.db import Database
from bot.models import Chat, ChatKind, ChatParticipant, ChatRole, Person, PersonUsage
from bot.scheduler import jobs
from bot.services import chats, expert_ranks, pairing, usage
from bot.services import find as find_service
from bot.services import requests as request_service
from bot.services.find import SearchResult, find_experts
from bot.services.requests import RequestDraft
from tests.factories import NOW, SEARCHER, chat, ids, person, searcher

DRAFT = RequestDraft(
    intro="I run pricing experiments in Sales.", goal="Learn how Data models churn.", questions=""
)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    find_service.clear_caches()
    yield
    find_service.clear_caches()


SEARCHER_ID = [0]


def find_at(db: Database, at: datetime, query: str = "pricing") -> SearchResult:
    with db.session() as session:
        return find_experts(session, query, SEARCHER, at)


def counted(session: Session, person_id: int, at: datetime) -> tuple[int, int]:
    """(chats as expert or peer in `at`'s UTC month, chats in any role in the 90 days to `at`), from chats."""
    first = usage.month_start(at)
    nxt = (first + timedelta(days=32)).replace(day=1)
    base = (
        select(func.count())
        .select_from(ChatParticipant)
        .join(Chat, Chat.id == ChatParticipant.chat_id)
        .where(ChatParticipant.person_id == person_id)
    )
    used = session.scalar(
        base.where(
            ChatParticipant.role.in_([ChatRole.EXPERT, ChatRole.PEER]),
            Chat.created_at >= first,
            Chat.created_at < nxt,
        )
    )
    recent = session.scalar(base.where(Chat.created_at >= at - usage.RECENT))
    return int(used or 0), int(recent or 0)


def assert_rows_match_chats(db: Database) -> None:
    """Every stored row is what a recount from the chats gives now (and nobody without chats has one)."""
    with db.session() as s:
        stored = {row.person_id: row for row in s.scalars(select(PersonUsage))}
        for person_id, chats in usage.history(s, None).items():
            row = stored.pop(person_id)
            capacity = [at for role, at in chats if role in usage.CAPACITY_ROLES]
            month = usage.month_start(max(capacity)) if capacity else None
            assert row.month == month
            assert row.month_chats == sum(1 for at in capacity if usage.month_start(at) == month)
            # The stored window answers for some instant; the count then is exact.
            since = row.recent_oldest or (row.recent_before + timedelta(seconds=1))  # type: ignore[operator]
            assert row.recent == sum(1 for _, at in chats if at >= since)
            assert row.recent_before is None or row.recent_before < since
        assert stored == {}


def hit(result: SearchResult, slack_id: str) -> tuple[int, int]:
    found = next(h for h in result.hits if h.slack_user_id == slack_id)
    return found.spare, found.recent_chats


def test_capacity_is_shown_right_after_a_request_is_accepted(db: Database) -> None:
    with db.session() as s:
        SEARCHER_ID[0] = searcher(s).id
        expert = person(s, "UEXP", "Eve Expert", "Data", speaks=["Pricing"], chats_per_month=2)
        learners = [person(s, f"UL{i}", f"Lou Learner{i}", "Sales", chats_per_month=0) for i in range(2)]
    assert hit(find_at(db, NOW), "UEXP") == (2, 0)
    for n, learner in enumerate(learners, start=1):
        with db.session() as s:
            request = request_service.create_request(
                s, s.get(Person, learner.id), s.get(Person, expert.id), "Pricing", DRAFT, NOW
            )  # type: ignore[arg-type]
            assert request_service.accept(s, request, "UEXP", NOW) is not None
            # In the same transaction, before it commits, too.
            if n == 1:
                assert hit(find_experts(s, "pricing", SEARCHER, NOW), "UEXP") == (1, 1)
        result = find_at(db, NOW)
        if n == 1:
            assert hit(result, "UEXP") == (1, 1)
        else:
            assert result.hits == [] and result.hidden_at_capacity == 1
        with db.session() as s:
            assert counted(s, expert.id, NOW) == (n, n)
            # The learners' chats count as recent, not against their capacity.
            assert counted(s, learner.id, NOW) == (0, 1)
    with db.session() as s, pytest.raises(request_service.RequestRefused, match="all the chats"):
        me, expert_row = s.get(Person, SEARCHER_ID[0]), s.get(Person, expert.id)
        request_service.check_can_request(s, me, expert_row, NOW)  # type: ignore[arg-type]
    assert_rows_match_chats(db)


def test_a_cancelled_pairing_still_counts_as_before(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        a = person(s, "UPA", "Ann Peer", "Data", speaks=["Pricing"], chats_per_month=2)
        b = person(s, "UPB", "Bob Peer", "Design", speaks=["Pricing"], chats_per_month=1)
        c = Chat(kind=ChatKind.PAIRING, created_at=NOW - timedelta(hours=1))
        c.participants = [
            ChatParticipant(person_id=a.id, role=ChatRole.PEER),
            ChatParticipant(person_id=b.id, role=ChatRole.PEER),
        ]
        s.add(c)
    before = find_at(db, NOW)
    assert hit(before, "UPA") == (1, 1) and before.hidden_at_capacity == 1
    with db.session() as s:
        assert chats.cancel(s, s.get(Chat, c.id), "UPA", NOW)  # type: ignore[arg-type]
    after = find_at(db, NOW)
    # "Can't make it" has never given the month's chat back; the stored counts agree.
    assert hit(after, "UPA") == (1, 1) and after.hidden_at_capacity == 1
    with db.session() as s:
        assert counted(s, a.id, NOW) == (1, 1)
    assert_rows_match_chats(db)


def test_capacity_across_the_month_boundary(db: Database) -> None:
    oct31 = datetime(2026, 10, 31, 23, 59, tzinfo=UTC)
    nov1 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    with db.session() as s:
        searcher(s)
        one = person(s, "UONE", "Olive One", speaks=["Pricing"], chats_per_month=2)
        chat(s, oct31, (one, ChatRole.EXPERT))
    assert hit(find_at(db, oct31 + timedelta(seconds=30)), "UONE") == (1, 1)  # October: one used
    assert hit(find_at(db, nov1), "UONE") == (2, 1)  # November: a fresh month, still recent
    with db.session() as s:
        chat(s, nov1 + timedelta(hours=1), (s.get(Person, one.id), ChatRole.EXPERT))  # type: ignore[arg-type]
        chat(s, nov1 + timedelta(hours=2), (s.get(Person, one.id), ChatRole.LEARNER))  # type: ignore[arg-type]
    assert hit(find_at(db, nov1 + timedelta(hours=3)), "UONE") == (1, 3)
    # A search dated before the newest chat's month (the row says November) counts October's from chats.
    assert hit(find_at(db, oct31 + timedelta(seconds=30)), "UONE") == (1, 3)
    result = find_at(db, datetime(2026, 12, 1, tzinfo=UTC))
    assert hit(result, "UONE") == (2, 3)
    assert_rows_match_chats(db)


def test_recent_chats_leave_the_90_day_window_on_time(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        old = person(s, "UOLD", "Oscar Old", speaks=["Pricing"], chats_per_month=2)
        other = person(s, "UNEW", "Nina New", speaks=["Pricing"], chats_per_month=2)
        chat(s, NOW - timedelta(days=89), (old, ChatRole.EXPERT))
        chat(s, NOW - timedelta(days=89, hours=12), (old, ChatRole.LEARNER))
        chat(s, NOW - timedelta(days=10), (other, ChatRole.LEARNER))
    # Oscar has two recent chats, Nina one: Nina first (equal spare, fewer recent chats).
    assert ids(find_at(db, NOW)) == ["UNEW", "UOLD"]
    assert hit(find_at(db, NOW), "UOLD") == (2, 2)
    # Half a day later one of Oscar's has left the window, a day later both have.
    assert hit(find_at(db, NOW + timedelta(hours=13)), "UOLD") == (2, 1)
    assert ids(find_at(db, NOW + timedelta(days=2))) == ["UOLD", "UNEW"]
    assert hit(find_at(db, NOW + timedelta(days=2)), "UOLD") == (2, 0)
    # Whichever instant the rows were last recounted for, searches agree with the chats.
    for at in (NOW - timedelta(days=200), NOW, NOW + timedelta(days=2), NOW + timedelta(days=400)):
        with db.session() as s:
            usage.refresh(s, [old.id, other.id], at)
        for when in (NOW, NOW + timedelta(hours=13), NOW + timedelta(days=2)):
            result = find_at(db, when)
            with db.session() as s:
                assert hit(result, "UOLD") == (2 - counted(s, old.id, when)[0], counted(s, old.id, when)[1])
                assert hit(result, "UNEW")[1] == counted(s, other.id, when)[1]


def test_hourly_job_recounts_rows_whose_window_moved_on(db: Database) -> None:
    with db.session() as s:
        p = person(s, "UJOB", "Jo Job", speaks=["Pricing"])
        chat(s, NOW - timedelta(days=89), (p, ChatRole.EXPERT))
        usage.refresh(s, [p.id], NOW)
    later = NOW + timedelta(days=2)
    with db.session() as s:
        assert usage.refresh_expired(s, NOW - timedelta(days=1)) == 0
        assert usage.refresh_expired(s, later) == 1
        row = s.get(PersonUsage, p.id)
        assert row is not None and (row.recent, row.recent_oldest) == (0, None)
        assert row.recent_before == NOW - timedelta(days=89)
    assert any(job.name == "chat-usage" for job in jobs_of_any())


def jobs_of_any() -> list[object]:
    class _Settings:
        zone = UTC
        pairing_schedule = "0 9 * * mon"

    class _Ctx:
        settings = _Settings()

    return list(jobs(_Ctx()))  # type: ignore[arg-type]


def test_rows_follow_every_orm_change_and_bulk_loads_are_rebuilt(db: Database) -> None:
    with db.session() as s:
        a = person(s, "UA", "Ann A")
        b = person(s, "UB", "Ben B")
        c = Chat(kind=ChatKind.REQUEST, created_at=NOW - timedelta(days=3))
        c.participants = [
            ChatParticipant(person_id=a.id, role=ChatRole.EXPERT),
            ChatParticipant(person_id=b.id, role=ChatRole.LEARNER),
        ]
        s.add(c)
    assert_rows_match_chats(db)
    with db.session() as s:  # re-dated into last month
        s.get(Chat, c.id).created_at = datetime(2026, 10, 5, tzinfo=UTC)  # type: ignore[union-attr]
    assert_rows_match_chats(db)
    with db.session() as s:  # roles swapped
        for participant in s.get(Chat, c.id).participants:  # type: ignore[union-attr]
            participant.role = ChatRole.LEARNER if participant.role == ChatRole.EXPERT else ChatRole.EXPERT
    assert_rows_match_chats(db)
    with db.session() as s:  # follow-up answers change no count
        participant = s.get(ChatParticipant, (c.id, a.id))
        participant.checkins_sent = 1  # type: ignore[union-attr]
    assert_rows_match_chats(db)
    with db.session() as s:  # one participant removed, then the whole chat
        s.delete(s.get(ChatParticipant, (c.id, b.id)))
    assert_rows_match_chats(db)
    with db.session() as s:
        s.delete(s.get(Chat, c.id))
    assert_rows_match_chats(db)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(PersonUsage)) == 0
        # Core statements bypass the flush hook: rebuild() recounts everything.
        chat_id = s.execute(
            insert(Chat).values(kind=ChatKind.REQUEST, created_at=NOW).returning(Chat.id)
        ).scalar()
        s.execute(insert(ChatParticipant).values(chat_id=chat_id, person_id=a.id, role=ChatRole.PEER))
        s.execute(update(Chat).values(created_at=NOW - timedelta(days=1)))
        assert usage.rebuild(s) == 1
        expert_ranks.rebuild(s)  # what usage.rebuild's docstring asks after a bulk load
    assert_rows_match_chats(db)


def test_a_weekly_round_recounts_everyone_it_pairs(db: Database) -> None:
    """The round writes its chats in bulk, past the flush hook, and recounts its people at once."""
    with db.session() as s:
        searcher(s)
        pairs = [
            (
                person(s, f"UD{i}", f"Dee Data{i}", "Data", speaks=["Pricing"], weekly_pairing=True),
                person(s, f"US{i}", f"Sam Sales{i}", "Sales", speaks=["Pricing"], weekly_pairing=True),
            )
            for i in range(3)
        ]
        chat(s, NOW - timedelta(days=100), (pairs[0][0], ChatRole.EXPERT))  # older than the window
        chat(s, NOW - timedelta(days=2), (pairs[1][1], ChatRole.LEARNER))
    with db.session() as s:
        _, made, groups, _ = pairing.create_round(s, NOW, cooldown_weeks=8, zone=UTC, seed=1)
        assert made is not None and len(groups) == 3
        # In the round's own transaction, before it commits, search sees the new chats.
        assert hit(find_experts(s, "pricing", SEARCHER, NOW), "UD0") == (3, 1)
    assert_rows_match_chats(db)
    result = find_at(db, NOW)
    assert hit(result, "UD0") == (3, 1) and hit(result, "US1") == (3, 2)
