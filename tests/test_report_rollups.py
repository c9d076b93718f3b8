"""The report read from the roll-ups is the report read from the raw rows.

A company's history is generated through the services (bot.devtools.history), then
changed the ways history changes: a chat re-dated, a chat held today, someone moving
to another function, a person erased, old text purged, follow-up answers changed, a
chat recorded as held before its intro. After each, every table of the report (as CSV,
what HR sees and downloads) is the same from the roll-ups as from the raw rows, for
several periods, in UTC and in a zone that changed clocks, and across a new year (the
roll-ups keep a row per person and calendar year).
"""

from __future__ import annotations

import argparse
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from bot.cli.report import _report as cli_report
from bot.clock import travel_to
from bot.context import make_context
from bot.db import Database
from bot.devtools.company import make_company
from bot.devtools.history import make_history
from bot.models import Chat, ChatParticipant, ChatRequest, Outcome, Person, Search, Share, Takeaway, Topic
from bot.models_rollups import report_days, report_marks, report_months
from bot.scheduler import jobs, run_claimed
from bot.services import chats, expert_ranks, pairing, profiles, reports
from bot.services.find.experts import find_experts
from bot.services.privacy import purge_old_text
from bot.services.privacy_erase import erase_person
from bot.services.reports import rollups
from bot.services.topics import merge_topics
from bot.settings import Settings

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday; New York left summer time on 1 Nov
NEW_YEAR = datetime(2027, 1, 13, 15, 0, tzinfo=UTC)  # a Wednesday: periods across the new year
PERIODS = ["", "last month", "last 12 weeks", "this year"]
FUNCTIONS = ["Engineering", "Product", "Design", "Sales", "Finance"]


def _tables(db: Database, zone: str, k: int, now: datetime, *, use_rollups: bool) -> dict[str, str]:
    shown = {}
    for text in PERIODS:
        with db.session() as session:
            period = reports.parse_period(text, now, zone)
            report = reports.compute_report(
                session, period, functions=FUNCTIONS, min_group_size=k, now=now, use_rollups=use_rollups
            )
        for table in report.all_tables():
            shown[f"{text or 'last 4 weeks'} / {table.key}"] = reports.to_csv(table).decode()
    return shown


def _assert_same(db: Database, zone: str, now: datetime = NOW) -> dict[str, str]:
    for k in (2, 5):
        raw = _tables(db, zone, k, now, use_rollups=False)
        rolled = _tables(db, zone, k, now, use_rollups=True)
        assert rolled.keys() == raw.keys()
        for key in raw:
            assert rolled[key] == raw[key], f"k={k}, {key}"
    return raw


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_rollups_give_the_raw_rows_report_as_history_changes(db: Database, zone: str) -> None:
    people = make_company(40, functions=FUNCTIONS)
    with travel_to(NOW):
        make_history(db, people, NOW, weeks=10, zone=zone)
    before = _assert_same(db, zone)
    with db.session() as session:
        built = session.scalar(
            select(func.count()).select_from(report_days).where(report_days.c.zone == zone)
        )
    assert built and built >= 70  # the reports above read the roll-ups, built on the way

    # A chat re-dated: held three weeks earlier than it was (introduced the day before).
    with db.session() as session:
        chat = session.scalars(
            select(Chat).where(Chat.done_at.is_not(None)).order_by(Chat.done_at.desc())
        ).first()
        assert chat is not None and chat.done_at is not None
        chat.done_at = chat.done_at - timedelta(days=21)
        chat.created_at = chat.done_at - timedelta(days=1)
    redated = _assert_same(db, zone)
    assert redated != before  # the figures moved: the roll-ups had to follow

    # A chat held now, through the service (a bulk UPDATE), and someone changing function.
    with db.session() as session:
        chat = session.scalars(select(Chat).where(Chat.done_at.is_(None)).order_by(Chat.id)).first()
        assert chat is not None
        chats.record_met(session, chat, chat.participants[0].person_id, NOW - timedelta(hours=1))
        mover = session.scalars(
            select(Person).join(ChatParticipant, ChatParticipant.person_id == Person.id).order_by(Person.id)
        ).first()
        assert mover is not None
        mover.function = "Design" if mover.function != "Design" else "Sales"
    _assert_same(db, zone)

    # Someone else moving function in the profile modal (saved with Core statements, not a flush).
    with db.session() as session:
        switcher = session.scalars(
            select(Person)
            .join(ChatParticipant, ChatParticipant.person_id == Person.id)
            .order_by(Person.id.desc())
        ).first()
        assert switcher is not None
        moved_to = "Finance" if switcher.function != "Finance" else "Product"
        profiles.save_profile(session, switcher, profiles.ProfileInput(moved_to, [], []), NOW)
        assert switcher.function == moved_to
    _assert_same(db, zone)

    # A person erased: their rows stay, re-pointed at nobody, their topics and searches gone.
    with db.session() as session:
        busiest = session.scalar(
            select(Person.slack_user_id)
            .join(ChatParticipant, ChatParticipant.person_id == Person.id)
            .group_by(Person.id, Person.slack_user_id)
            .order_by(func.count().desc(), Person.id)
            .limit(1)
        )
        assert busiest is not None
        erase_person(session, busiest, NOW)
    _assert_same(db, zone)

    # The retention purge: free text older than 30 days blanked.
    with db.session() as session:
        purged = purge_old_text(session, NOW, 30)
    assert purged.searches > 0
    _assert_same(db, zone)


def test_periods_across_the_new_year_answers_changed_and_a_chat_held_before_its_intro(db: Database) -> None:
    zone = "Europe/Berlin"
    with travel_to(NEW_YEAR):
        make_history(db, make_company(30, functions=FUNCTIONS), NEW_YEAR, weeks=12, zone=zone)
    before = _assert_same(db, zone, NEW_YEAR)

    # Six people who could not meet change their answer to "not yet" (the last chats first).
    with db.session() as session:
        parts = session.scalars(
            select(ChatParticipant)
            .where(ChatParticipant.outcome == Outcome.COULDNT)
            .order_by(ChatParticipant.chat_id.desc(), ChatParticipant.person_id)
            .limit(6)
        ).all()
        assert len(parts) == 6
        for part in parts:
            part.outcome = Outcome.NOT_YET
    assert _assert_same(db, zone, NEW_YEAR) != before

    # A chat recorded as held two days before it was introduced (an import gone wrong): it
    # counts in a period only when both days fall in it, as the raw rows count it.
    with db.session() as session:
        chat = session.scalars(
            select(Chat)
            .where(Chat.done_at < NEW_YEAR - timedelta(days=10))
            .order_by(Chat.done_at.desc(), Chat.id)
        ).first()
        assert chat is not None and chat.done_at is not None
        chat.created_at = chat.done_at + timedelta(days=2)
    _assert_same(db, zone, NEW_YEAR)

    # Someone's only chat held in the last 4 weeks (across the new year) moved two months back:
    # the bits of the day it left are cleared, in the year rows and the per-person year rows.
    start = NEW_YEAR - timedelta(days=27)
    with db.session() as session:
        held = (
            select(ChatParticipant.person_id, func.min(Chat.id).label("chat_id"))
            .join(Chat, Chat.id == ChatParticipant.chat_id)
            .where(Chat.done_at >= start, Chat.done_at < NEW_YEAR)
            .group_by(ChatParticipant.person_id)
            .having(func.count() == 1)
            .subquery()
        )
        only = session.scalar(select(held.c.chat_id).order_by(held.c.chat_id).limit(1))
        assert only is not None
        moved = session.get(Chat, only)
        assert moved is not None and moved.done_at is not None
        moved.done_at -= timedelta(days=60)
        moved.created_at = moved.done_at - timedelta(days=1)
    _assert_same(db, zone, NEW_YEAR)


def test_writes_mark_the_days_they_change_and_bare_core_writes_need_an_invalidate(db: Database) -> None:
    people = make_company(12, functions=FUNCTIONS)
    with travel_to(NOW):
        make_history(db, people, NOW, weeks=3)
    _assert_same(db, "UTC")
    # This week's round writes its chats with Core statements, past the flush hooks: it marks
    # the day they are introduced on itself, in its transaction.
    with db.session() as session:
        session.execute(update(Person).values(chats_per_month=20))  # room for this week's chats
        expert_ranks.rebuild(session)  # a bulk write past the flush hooks: rebuild search's rows
    with db.session() as session:
        _, made, groups, _ = pairing.create_round(session, NOW, cooldown_weeks=0, zone=UTC, seed=5)
        assert made is not None and groups
        assert session.scalar(select(func.count()).select_from(report_marks)) == 1
    _assert_same(db, "UTC")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(report_marks)) == 0  # consumed
        chat = session.scalars(select(Chat).where(Chat.done_at.is_not(None)).order_by(Chat.id)).first()
        assert chat is not None and chat.done_at is not None
        chat.done_at -= timedelta(days=8)
    with db.session() as session:
        # Its creation, and the day it was held before and after.
        assert session.scalar(select(func.count()).select_from(report_marks)) == 3
    _assert_same(db, "UTC")

    # A Core statement on a bare connection is invisible to the marks: the report would be stale
    # until the roll-ups are invalidated (bench/reports.py does so after seeding).
    with db.engine.begin() as connection:
        connection.execute(update(Chat.__table__).values(done_at=None))
    with db.session() as session:
        period = reports.parse_period("last 12 weeks", NOW, "UTC")
        stale = reports.compute_report(session, period, functions=FUNCTIONS, min_group_size=2, now=NOW)
        assert stale.summary.metric("chats_held").current.show() != "0"
        rollups.invalidate(session)
    _assert_same(db, "UTC")


def test_the_cli_builds_every_day_ahead_of_the_first_report(db: Database, settings: Settings) -> None:
    with travel_to(NOW):
        make_history(db, make_company(8, functions=FUNCTIONS), NOW, weeks=2)
        assert cli_report(argparse.Namespace(build_rollups=True), settings) == 0
    with db.session() as session:
        first = session.scalar(
            select(func.min(report_days.c.day)).where(report_days.c.zone == settings.timezone)
        )
        last = session.scalar(
            select(func.max(report_days.c.day)).where(report_days.c.zone == settings.timezone)
        )
        oldest = min(session.scalar(select(func.min(m.created_at))) for m in (Chat, ChatRequest))
    assert first == oldest.date() and last == NOW.date()


def test_the_hourly_job_rebuilds_what_writes_marked_so_the_next_report_builds_nothing(
    db: Database, settings: Settings
) -> None:
    people = make_company(12, functions=FUNCTIONS)
    with travel_to(NOW):
        make_history(db, people, NOW, weeks=3)
    _assert_same(db, settings.timezone)
    with db.session() as session:
        chat = session.scalars(select(Chat).where(Chat.done_at.is_not(None)).order_by(Chat.id)).first()
        assert chat is not None and chat.done_at is not None
        chat.done_at -= timedelta(days=2)  # marks three days
    ctx = make_context(settings, require_slack=False)
    with travel_to(NOW):
        outcome = run_claimed(ctx, next(job for job in jobs(ctx) if job.name == "report-rollups"))
    ctx.db.dispose()
    assert outcome is not None and outcome.startswith("rebuilt ") and not outcome.startswith("rebuilt 0 ")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(report_marks)) == 0
        period = reports.parse_period("", NOW, settings.timezone)
        scope_days = rollups.ensure(
            session, settings.timezone, period.first_day - timedelta(days=28), NOW.date()
        )
    assert scope_days == 0  # the report HR opens next finds every day current
    _assert_same(db, settings.timezone)


def test_building_the_roll_ups_survives_a_write_committed_by_another_connection_meanwhile(
    db: Database,
) -> None:
    """An admin's Home computes headline figures (building roll-up days) while someone else's
    click commits. On SQLite the build read first and wrote later, and a commit in between
    failed it with "database is locked" at once: the admin's Home was never published."""
    with travel_to(NOW):
        make_history(db, make_company(8, functions=FUNCTIONS), NOW, weeks=2)
    _assert_same(db, "UTC")  # the history's marks consumed: the next build starts by reading
    with db.session() as session:
        rollups.invalidate(session)
    other = Database(db.url.render_as_string(hide_password=False))
    committed = threading.Event()

    def someone_elses_click() -> None:
        with other.session() as session:
            session.execute(update(Person).where(Person.id == 1).values(title="Changed meanwhile"))
        committed.set()

    def in_the_middle(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("DELETE FROM report_rollup_held") and not committed.is_set():
            threading.Thread(target=someone_elses_click, daemon=True).start()
            # Unlocked, the other write commits at once; holding the lock, it waits for ours.
            committed.wait(timeout=1.0)

    event.listen(db.engine, "before_cursor_execute", in_the_middle)
    try:
        with db.session() as session:
            period = reports.parse_period("", NOW, "UTC")
            report = reports.compute_report(session, period, functions=FUNCTIONS, min_group_size=2, now=NOW)
            assert report.summary.metric("chats_held").current.show() != "0"
    finally:
        event.remove(db.engine, "before_cursor_execute", in_the_middle)
    assert committed.wait(timeout=15), "the other connection's write never went through"
    other.dispose()
    _assert_same(db, "UTC")


def test_search_tables_read_ended_months_and_chains_as_people_search_again(db: Database) -> None:
    """The search tables read whole months that have ended and each search's chain (the same
    person's previous search of the group): the same tables as from the searches themselves
    as people search the same things again, finding more or fewer experts than k, search
    after a report, a search is added to a month already rolled up, a topic is merged into
    another and a searcher is erased."""
    zone = "America/New_York"
    people = make_company(30, functions=FUNCTIONS)
    with travel_to(NOW):
        make_history(db, people, NOW, weeks=16, zone=zone)
    with db.session() as session:
        topic_ids = list(
            session.scalars(
                select(Search.topic_id)
                .where(Search.topic_id.is_not(None))
                .group_by(Search.topic_id)
                .order_by(func.count().desc(), Search.topic_id)
                .limit(2)
            )
        )
        ids = {
            p.user_id: session.scalar(select(Person.id).where(Person.slack_user_id == p.user_id))
            for p in people
        }
        # Eight people search the same four things every week, finding 0, 3, 7 or 1 experts:
        # across k (2 and 5) and back, by topic and by free text typed two ways.
        for week in range(16):
            for i, person in enumerate(people[:8]):
                kind = (i + week) % 4
                session.add(
                    Search(
                        person_id=ids[person.user_id],
                        query=["python", "  Basket Weaving ", "basket weaving", "go"][kind],
                        topic_id=[topic_ids[0], None, None, topic_ids[1]][kind],
                        results=[0, 3, 7, 1][(i + 2 * week) % 4],
                        created_at=NOW - timedelta(weeks=week, hours=i),
                    )
                )
    before = _assert_same(db, zone)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(report_months)) >= 3  # months rolled up
        assert session.scalar(select(func.count()).where(Search.prev_at.is_not(None))) > 100  # repeats

    # Searches after the report (unchained until the next report chains them).
    with travel_to(NOW + timedelta(hours=1)), db.session() as session:
        for person in people[8:14]:
            find_experts(session, "basket weaving", person.user_id, NOW + timedelta(hours=1))
    assert _assert_same(db, zone) != before

    # A search recorded in a month already rolled up, and one moved to another month.
    with db.session() as session:
        session.add(
            Search(
                person_id=ids[people[20].user_id],
                query="basket weaving",
                results=0,
                created_at=NOW - timedelta(days=70),
            )
        )
        moved = session.scalars(
            select(Search).where(Search.topic_id == topic_ids[1]).order_by(Search.id)
        ).first()
        assert moved is not None
        moved.created_at -= timedelta(days=40)
    _assert_same(db, zone)

    # A topic merged into another: its searches count under the other's name.
    with db.session() as session:
        names = [session.get(Topic, tid).name for tid in topic_ids]  # type: ignore[union-attr]
        merge_topics(session, names[1], names[0])
    _assert_same(db, zone)

    # One of the people who searched again erased: their searches count, not as a person.
    with db.session() as session:
        erase_person(session, people[0].user_id, NOW)
    _assert_same(db, zone)


def test_what_people_learned_about_follows_takeaways_shared_edited_and_deleted(db: Database) -> None:
    """ "What people learned about" reads one row per topic of each shared takeaway, chained per
    author: the table is the one the takeaways give as authors write again on a topic, make
    one private, share it again, change its topics, delete it, and are erased."""
    zone = "UTC"
    people = make_company(24, functions=FUNCTIONS)
    with travel_to(NOW):
        make_history(db, people, NOW, weeks=10, zone=zone)
    with db.session() as session:
        shared = session.scalars(
            select(Takeaway).where(Takeaway.share != Share.ME).order_by(Takeaway.id)
        ).all()
        assert len(shared) >= 8
        # Everyone who shared writes about the same topic again, a week apart: repeats per author.
        for i, note in enumerate(shared):
            note.topics = [*(note.topics or []), "Pricing"] if i % 2 else ["Pricing", "Pricing"]
    before = _assert_same(db, zone)
    assert any("Pricing" in csv for key, csv in before.items() if key.endswith("learnings_by_topic"))

    with db.session() as session:
        notes = session.scalars(
            select(Takeaway).where(Takeaway.share != Share.ME).order_by(Takeaway.id)
        ).all()
        notes[0].share = Share.ME  # made private: its topics are no longer read
        notes[1].topics = ["Negotiation"]
        notes[2].created_at -= timedelta(days=20)
        session.delete(notes[3])
    assert _assert_same(db, zone) != before

    with db.session() as session:
        note = session.scalars(
            select(Takeaway).where(Takeaway.share == Share.ME).order_by(Takeaway.id)
        ).first()
        assert note is not None
        note.share = Share.EVERYONE
        note.topics = ["Pricing"]
        author = session.get(Person, note.author_id)
        assert author is not None
        slack_id = author.slack_user_id
    _assert_same(db, zone)

    # Erasure blanks the author's topics with a bulk UPDATE.
    with db.session() as session:
        erase_person(session, slack_id, NOW)
    _assert_same(db, zone)
