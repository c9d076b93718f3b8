"""A small company with a few months of activity, for the dashboard's tests and screenshots.

People are made through the real profile service; chats, searches and takeaways are
written as rows with the dates they would have had (as tests/test_reports.py does),
drawn from a fixed random seed so every run and every database sees the same figures.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.db import Database
from bot.devtools.standin import SlackStandIn
from bot.models import (
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    Outcome,
    RequestStatus,
    Search,
    Share,
    Takeaway,
    Topic,
)
from tests.factories import make_person

# function -> (people, topics they speak about, topics they want to learn)
COMPANY = {
    "Engineering": (24, ["Kubernetes", "Python", "Incident response"], ["Pricing", "User research"]),
    "Product": (14, ["Roadmapping", "User research"], ["Kubernetes", "Negotiation"]),
    "Design": (9, ["Design systems", "User research"], ["Python", "Roadmapping"]),
    "Sales": (18, ["Negotiation", "Pricing"], ["Kubernetes", "Roadmapping", "Budgeting"]),
    "Finance": (7, ["Budgeting", "Forecasting"], ["Python"]),
}
# How often learners of one function ask experts of another (row learns from column).
FLOW = {
    "Engineering": {"Product": 3, "Sales": 2, "Design": 2},
    "Product": {"Engineering": 5, "Sales": 2, "Design": 2},
    "Design": {"Engineering": 3, "Product": 3},
    "Sales": {"Engineering": 6, "Product": 4, "Finance": 1},
    "Finance": {"Engineering": 1, "Sales": 1},
}
WANTED_NOT_OFFERED = ["Quantum computing", "Public speaking"]


def seed_company(db: Database, standin: SlackStandIn, now: datetime, weeks: int = 14) -> dict[str, list[int]]:
    """Make the company and its activity over the `weeks` before `now`; returns person ids by function."""
    rng = random.Random(16)
    people: dict[str, list[int]] = {}
    joined = now - timedelta(weeks=weeks + 2)
    for function, (count, speaks, learns) in COMPANY.items():
        people[function] = [
            make_person(
                db,
                standin,
                f"U{function[:3].upper()}{i:02d}",
                f"{function} Person{i:02d}",
                function,
                speaks=speaks if i % 3 != 2 else [],
                learns=learns if i % 2 == 0 else learns[:1],
                chats_per_month=1 if i % 4 == 0 else 4,
                weekly=i % 3 == 0,
                joined_at=joined,
            )
            for i in range(count)
        ]
    plan = []
    for week in range(weeks):
        busy = 12 + 4 * week + rng.randint(0, 8)  # the programme grows
        for _ in range(busy):
            learner_fn = rng.choice(list(FLOW))
            targets = FLOW[learner_fn]
            expert_fn = rng.choices(list(targets), weights=list(targets.values()))[0]
            learner = rng.choice(people[learner_fn])
            expert = rng.choice([p for i, p in enumerate(people[expert_fn]) if i % 3 != 2])
            created = now - timedelta(weeks=weeks - week, hours=rng.randint(0, 160))
            status = rng.choices(
                [RequestStatus.ACCEPTED, RequestStatus.DECLINED, RequestStatus.EXPIRED], weights=[8, 1, 1]
            )[0]
            done = created + timedelta(days=rng.randint(1, 5)) if rng.random() < 0.85 else None
            plan.append((learner, expert, rng.choice(COMPANY[expert_fn][1]), created, status, done))
    with db.session() as session:
        requests = [
            ChatRequest(
                learner_id=learner,
                expert_id=expert,
                topic_text=topic,
                status=status,
                created_at=created - timedelta(days=2),
                responded_at=created,
            )
            for learner, expert, topic, created, status, _ in plan
        ]
        session.add_all(requests)
        session.flush()  # one batched insert; the chats need the requests' ids
        chats = []
        for request, (learner, expert, topic, created, status, done) in zip(requests, plan, strict=True):
            if status != RequestStatus.ACCEPTED:
                continue
            done = done if done is not None and done <= now else None
            chat = Chat(kind=ChatKind.REQUEST, request_id=request.id, created_at=created, done_at=done)
            chat.participants = [
                _answered(ChatParticipant(person_id=p, role=r, checkins_sent=1), done, created, rng)
                for p, r in ((learner, ChatRole.LEARNER), (expert, ChatRole.EXPERT))
            ]
            chats.append((chat, learner, topic, done))
        session.add_all([chat for chat, *_ in chats])
        session.flush()
        for chat, learner, topic, done in chats:
            if done is not None and rng.random() < 0.6:
                session.add(
                    Takeaway(
                        chat_id=chat.id,
                        author_id=learner,
                        text="Notes from the chat.",
                        usefulness=rng.choice([3, 4, 4, 5, 5]),
                        topics=[topic],
                        share=Share.EVERYONE if rng.random() < 0.7 else Share.ME,
                        created_at=done,
                    )
                )
        topic_ids = {name: id_ for name, id_ in session.execute(select(Topic.name, Topic.id))}
        everyone = [p for ids in people.values() for p in ids]
        for _ in range(weeks * 14):
            function = rng.choice(list(COMPANY))
            query = rng.choice(COMPANY[function][1] + WANTED_NOT_OFFERED)
            session.add(
                Search(
                    person_id=rng.choice(everyone),
                    query=query,
                    topic_id=topic_ids.get(query),
                    results=0 if query in WANTED_NOT_OFFERED else 5,
                    created_at=now - timedelta(hours=rng.randint(1, weeks * 7 * 24)),
                )
            )
    return people


def _answered(
    participant: ChatParticipant, done: datetime | None, introduced: datetime, rng: random.Random
) -> ChatParticipant:
    """The check-in answer a participant gave: We met for most chats held (learners more
    often than experts), Not yet or We couldn't meet for some of the others."""
    if done is not None:
        if rng.random() < (0.9 if participant.role == ChatRole.LEARNER else 0.5):
            participant.outcome, participant.answered_at = Outcome.MET, done
        return participant
    answer, asked = rng.random(), introduced + timedelta(days=3)
    if answer < 0.4:
        participant.outcome, participant.answered_at = Outcome.NOT_YET, asked
    elif answer < 0.6:
        participant.outcome, participant.outcome_reason = Outcome.COULDNT, "scheduling"
        participant.answered_at = asked
    elif answer < 0.7:
        participant.outcome = Outcome.NO_ANSWER
    return participant
