"""Six months of a company's life, for the demo's HR report to have something to say.

Colleagues join over the first weeks, weekly rounds pair them, some ask each other
for chats (most accepted, some declined, a few left to expire), and afterwards most
say they met and some note what they learned. Everything goes through the services
that live use goes through (directory.upsert_member, profiles.save_profile,
find.find_experts, pairing.create_round, requests.create_request/accept/decline/expire,
chats.record_met, followups.record_couldnt, learnings.save_learning), each called with
the instant it happened, so the history obeys the same rules and fills the same tables.
Nothing is sent to Slack: those messages belong to the past.

Every chat gets times proposed (scheduling.store.propose); most people tick the same one and
meet after it, so the report's scheduling table has confirmed times and working days to show.

Seeded, so every demo tells the same story; about 20 s of CPU for 264 people and 26 weeks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.db import Database
from bot.devtools.company import Employee
from bot.models import Chat, ChatParticipant, Person, RequestStatus, Share
from bot.services import chats, directory, followups, learnings, pairing, profiles, requests
from bot.services.find import QueryError, find_experts
from bot.services.scheduling import store as schedule_store

TAKEAWAYS = [
    "How {topic} really works here, and who decides what. I'd had it backwards.",
    "Three things to read on {topic}, and the one mistake everyone new makes.",
    "What a good week looks like in their team, and where {topic} fits into it.",
    "Why {topic} takes longer than it looks: the hidden steps and who owns them.",
]
REQUESTS_PER_WEEK = 8
BROWSES_PER_WEEK = 20  # searches that do not end in a request
# What some people look for and nobody offers yet: HR's "wanted but not offered".
UNOFFERED = ["Public speaking", "Machine learning", "Mandarin", "Negotiating a raise"]
WEEKLY_PAIRING_SHARE = 0.45  # of colleagues who opted into the weekly round
NOTE_SHARE = 0.3  # of people who met and noted what they learned
COULDNT_SHARE = 0.2  # of chats whose people never found a time


@dataclass
class History:
    people: int = 0
    weeks: int = 0
    rounds: int = 0
    chats: int = 0
    requests: int = 0
    scheduled: int = 0
    met: int = 0
    takeaways: int = 0
    searches: int = 0

    def __str__(self) -> str:
        return (
            f"{self.people} colleagues over {self.weeks} weeks: {self.rounds} weekly rounds, "
            f"{self.requests} requests, {self.chats} chats ({self.scheduled} with a time agreed, "
            f"{self.met} met), {self.takeaways} notes of what was learned, {self.searches} searches"
        )


def member(person: Employee) -> dict[str, object]:
    """The Slack user object the directory sync would read for `person`."""
    return {
        "id": person.user_id,
        "name": person.handle,
        "tz": person.tz,
        "profile": {"real_name": person.name, "title": person.title, "email": person.email},
    }


def make_history(
    db: Database,
    people: list[Employee],
    now: datetime,
    *,
    weeks: int = 26,
    seed: int = 2026,
    zone: str = "UTC",
) -> History:
    """`weeks` of life for `people`, ending the week before `now` (this week's round is the demo's)."""
    rng = random.Random(seed)
    tz = ZoneInfo(zone)
    history = History(people=len(people), weeks=weeks)
    # Monday 09:00 (the default schedule) of the week `weeks` back, in the company's zone.
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday() + 7 * weeks)
    first_round = datetime(monday.year, monday.month, monday.day, 9, tzinfo=tz).astimezone(UTC)
    joined = _join(db, people, first_round, rng)
    by_user = {p.user_id: p for p in people}
    for week in range(weeks):
        instant = first_round + timedelta(weeks=week)
        with db.session() as session:
            clock = _Past(now)
            _round(session, instant, week, seed, tz, rng, history, clock)
            _requests(session, instant, joined, by_user, rng, history, clock)
            # The follow-up job's first check-ins went out (and were answered above): claim them,
            # so that the demo's own follow-up run only asks about the demo's chats.
            for due in followups.due_first_checkins(
                session, clock(instant + timedelta(days=7)), timedelta(0)
            ):
                followups.claim_checkin(session, due, clock(instant + timedelta(days=7)))
    return history


@dataclass(frozen=True)
class _Past:
    """Events of the history happen before the demo starts, never after `now`."""

    now: datetime

    @property
    def latest(self) -> datetime:
        return self.now - timedelta(minutes=30)

    def __call__(self, instant: datetime) -> datetime:
        return min(instant, self.latest)


def _join(db: Database, people: list[Employee], start: datetime, rng: random.Random) -> dict[str, datetime]:
    """Profiles saved over the first eight weeks (most in the launch week), as people join."""
    joined: dict[str, datetime] = {}
    with db.session() as session:
        for person in people:
            week = 0 if rng.random() < 0.5 else rng.randrange(1, 8)
            at = start - timedelta(days=3) + timedelta(weeks=week, hours=rng.randrange(0, 72))
            row = directory.upsert_member(session, member(person)).person
            profiles.save_profile(
                session,
                row,
                profiles.ProfileInput(
                    function=person.function,
                    speak=person.speaks,
                    learn=person.learns,
                    chats_per_month=rng.choice([2, 2, 3, 4]),
                    weekly_pairing=rng.random() < WEEKLY_PAIRING_SHARE,
                ),
                at,
            )
            joined[person.user_id] = at
    return joined


def _round(
    session: Session,
    instant: datetime,
    week: int,
    seed: int,
    tz: ZoneInfo,
    rng: random.Random,
    history: History,
    clock: _Past,
) -> None:
    _, made, groups, _ = pairing.create_round(session, instant, cooldown_weeks=12, zone=tz, seed=seed + week)
    if made is None:
        return
    history.rounds += 1
    for chat_id, _planned in groups:
        chat = session.get_one(Chat, chat_id)
        _follow_up(session, chat, clock(instant + timedelta(days=rng.randrange(2, 6))), rng, history, clock)


def _requests(
    session: Session,
    instant: datetime,
    joined: dict[str, datetime],
    by_user: dict[str, Employee],
    rng: random.Random,
    history: History,
    clock: _Past,
) -> None:
    learners = [user for user, at in joined.items() if at <= instant]
    for _ in range(BROWSES_PER_WEEK):
        learner = by_user[rng.choice(learners)]
        wanted = rng.choice(UNOFFERED) if rng.random() < 0.3 else rng.choice(learner.learns[:2])
        at = clock(instant + timedelta(days=rng.randrange(0, 5), hours=rng.randrange(0, 8)))
        find_experts(session, wanted, learner.user_id, at)
        history.searches += 1
    for _ in range(REQUESTS_PER_WEEK):
        learner_id = rng.choice(learners)
        learner = by_user[learner_id]
        topic = rng.choice(learner.learns)
        asked_at = clock(instant + timedelta(days=rng.randrange(0, 5), hours=rng.randrange(0, 8)))
        try:
            found = find_experts(session, topic, learner_id, asked_at)
        except QueryError:
            continue
        history.searches += 1
        hits = [h for h in found.hits if joined.get(h.slack_user_id, asked_at) < asked_at]
        if not hits or rng.random() < 0.25:  # some only look
            continue
        expert_hit = hits[0] if rng.random() < 0.6 else rng.choice(hits)
        person = profiles.get_person(session, learner_id)
        expert = profiles.get_person(session, expert_hit.slack_user_id)
        if person is None or expert is None:
            continue
        draft = requests.RequestDraft(
            intro=f"Hi! I'm {learner.name}, {learner.title} in {learner.function}.",
            goal=f"How {topic} works in your team, and what you'd tell a beginner.",
            questions="",
        )
        try:
            request = requests.create_request(session, person, expert, topic, draft, asked_at)
        except requests.RequestRefused:
            continue
        history.requests += 1
        answered_at = clock(asked_at + timedelta(hours=rng.randrange(2, 48)))
        roll = rng.random()
        if roll < 0.72:
            chat = requests.accept(session, request, expert.slack_user_id, answered_at)
            if chat is not None:
                met_at = clock(answered_at + timedelta(days=rng.randrange(2, 8)))
                _follow_up(session, chat, met_at, rng, history, clock)
        elif roll < 0.9:
            requests.decline(session, request, expert.slack_user_id, "Busy this month, sorry!", answered_at)
        elif request.status == RequestStatus.OPEN:
            requests.expire(session, request, clock(asked_at + timedelta(days=7)))


def _follow_up(
    session: Session, chat: Chat, at: datetime, rng: random.Random, history: History, clock: _Past
) -> None:
    """Times are proposed for every chat. Most pick one together and meet (some note what they
    learned); the rest never agree on a time. A chat whose time is still ahead is upcoming."""
    history.chats += 1
    session.flush()
    participants = list(chat.participants)
    proposed_at = chat.created_at + timedelta(minutes=rng.randrange(1, 30))
    if proposed_at >= at:
        return  # too recent for anyone to have looked at the times yet
    proposed = schedule_store.propose(session, chat, proposed_at)
    if rng.random() < COULDNT_SHARE or not proposed.slots:
        for participant in participants:
            followups.record_couldnt(session, chat, participant.person_id, "scheduling", at)
        return
    start = _agree_on_a_time(session, chat, proposed, proposed_at, rng, clock.latest)
    if start is None:
        return
    history.scheduled += 1
    met_at = max(at, start + timedelta(hours=1))
    if met_at > clock.latest:
        return  # the chat is still ahead: it stays upcoming
    history.met += 1
    _met(session, chat, participants, met_at, rng, history)


def _agree_on_a_time(
    session: Session,
    chat: Chat,
    proposed: schedule_store.Proposed,
    proposed_at: datetime,
    rng: random.Random,
    until: datetime,
) -> datetime | None:
    """Each person ticks the same one of the first three times (a few hours apart), as in Slack."""
    slot = rng.choice(proposed.slots[:3])
    picked_at = proposed_at
    for person in schedule_store.people_of(chat):
        picked_at += timedelta(hours=rng.randrange(1, 6))
        if picked_at >= min(slot.start_at, until):
            return None  # nobody got round to it before the time (or the history) ran out
        picked = schedule_store.pick(
            session, chat, person.slack_user_id, proposed.schedule.round, [slot.id], picked_at
        )
    return picked.confirmed.start_at if picked.confirmed is not None else None


def _met(
    session: Session,
    chat: Chat,
    participants: list[ChatParticipant],
    at: datetime,
    rng: random.Random,
    history: History,
) -> None:
    topic = followups.chat_topic(session, chat)
    for participant in participants:
        author = session.get(Person, participant.person_id)
        if author is None:
            continue
        if rng.random() < NOTE_SHARE and topic:
            note = learnings.LearningInput(
                text=rng.choice(TAKEAWAYS).format(topic=topic),
                usefulness=rng.choice([3, 4, 4, 5, 5]),
                topics=[topic],
                share=rng.choice([Share.EVERYONE.value, Share.EVERYONE.value, Share.ME.value]),
                thanks="Thank you, that helped a lot!" if rng.random() < 0.5 else "",
            )
            learnings.save_learning(session, chat, author, note, at)
            history.takeaways += 1
        else:
            chats.record_met(session, chat, author.id, at)
