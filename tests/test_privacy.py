"""Privacy: export everything about a person, erase it without changing report counts, purge old text."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from bot.clock import utcnow
from bot.db import Database
from bot.flows import requests as request_flow
from bot.flows.privacy import erase_person
from bot.models import (
    AuditEntry,
    Base,
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRequest,
    ChatRole,
    OutboxMessage,
    OutboxStatus,
    PairingBlock,
    PairingRound,
    Person,
    Referral,
    RequestStatus,
    Search,
    Share,
    Takeaway,
    Thanks,
)
from bot.services import outbox, pairing, privacy
from bot.services import requests as request_service
from bot.services.find import find_experts
from tests.factories import make_person

REPO = Path(__file__).resolve().parents[1]
# A string only the erased person ever wrote: after erasure it must be nowhere.
MARKER = "xyzzy-quill-7731"
SUBJECT = {
    "slack_user_id": "UZQ1",
    "real_name": "Zuzanna Quillfeather",
    "name": "zuzanna",
    "email": "Zuzanna.Q@example.com",
}
BO_PRIVATE = "BO-PRIVATE-NOTE: my own reminders"


def _draft(intro: str, goal: str = "How experts decide what to build next quarter.") -> Any:
    return request_service.RequestDraft(intro=intro, goal=goal, questions="Who else should I talk to?")


def _person(session: Any, slack_user_id: str) -> Person:
    person = session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))
    assert person is not None
    return person


@pytest.fixture
def history(db: Database) -> dict[str, Any]:
    """Zuzanna's history with three colleagues, made through the services where they exist."""
    now = utcnow()
    make_person(
        db, None, "UZQ1", "Zuzanna Quillfeather", "Sales", speaks=["Negotiation"], learns=["Kubernetes"]
    )
    make_person(
        db, None, "UOMAR", "Omar Haddad", "Engineering", speaks=["Kubernetes"], learns=["Negotiation"]
    )
    make_person(db, None, "UKEMI", "Kemi Ng", "Product", learns=["Negotiation"])
    make_person(db, None, "UBO", "Bo Novak", "Finance", learns=["Negotiation"])
    with db.session() as session:
        zq, omar, kemi, bo = (_person(session, u) for u in ("UZQ1", "UOMAR", "UKEMI", "UBO"))
        zq.email = SUBJECT["email"]
        zq.title = "Account Executive"
        zq.ask_me_about = "enterprise deals"
        session.flush()

        # She asks Omar; he accepts; both are introduced (the ask already delivered).
        asked = request_service.create_request(
            session, zq, omar, "Kubernetes", _draft(f"I'm Zuzanna in Sales, {MARKER}, curious."), now
        )
        request_flow.ask_expert(session, asked, now)
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == request_flow.ask_key(asked.id))
            .values(status=OutboxStatus.SENT, sent_at=now, sent_channel="DOMAR", sent_ts="1.1")
        )
        chat = request_service.accept(session, asked, "UOMAR", now)
        assert chat is not None
        request_flow.introduce(session, asked, chat, now)

        # Kemi asks her (still open); Bo asked her and she declined with a note.
        kemi_asks = request_service.create_request(
            session, kemi, zq, "Negotiation", _draft("Hi Zuzanna, I'm Kemi from Product."), now
        )
        request_flow.ask_expert(session, kemi_asks, now)
        bo_asked = request_service.create_request(
            session, bo, zq, "Negotiation", _draft("Hello, I'm Bo from Finance, new to deals."), now
        )
        request_service.decline(session, bo_asked, "UZQ1", f"Busy this month, sorry! {MARKER}", now)

        # A weekly pairing with Bo whose reasons name her; each blocks the other afterwards.
        pairing_round = PairingRound(week="2026-W48", seed=1, created_at=now, participants=2)
        session.add(pairing_round)
        session.flush()
        paired = Chat(
            kind=ChatKind.PAIRING,
            round_id=pairing_round.id,
            created_at=now,
            score=10.0,
            reasons=["Zuzanna can tell Bo about Negotiation", "you have not met before"],
        )
        paired.participants = [
            ChatParticipant(person_id=zq.id, role=ChatRole.PEER),
            ChatParticipant(person_id=bo.id, role=ChatRole.PEER),
        ]
        session.add(paired)
        session.flush()
        pairing.block_partners(session, paired, "UZQ1")
        pairing.block_partners(session, paired, "UBO")

        # Follow-ups: takeaways (hers private, Omar's shared, Bo's private), thanks, referrals.
        session.add_all(
            [
                Takeaway(
                    chat_id=chat.id,
                    author_id=zq.id,
                    text=f"Deployments roll out gradually. {MARKER}",
                    usefulness=5,
                    topics=["Kubernetes", MARKER],
                    share=Share.ME,
                    created_at=now,
                ),
                Takeaway(
                    chat_id=chat.id,
                    author_id=omar.id,
                    text="Zuzanna Quillfeather asked sharp questions about rollouts.",
                    usefulness=4,
                    share=Share.EXPERT,
                    created_at=now,
                ),
                Takeaway(
                    chat_id=paired.id,
                    author_id=bo.id,
                    text=BO_PRIVATE,
                    usefulness=3,
                    share=Share.ME,
                    created_at=now,
                ),
                Thanks(
                    chat_id=chat.id, from_id=zq.id, to_id=omar.id, text=f"Thank you! {MARKER}", created_at=now
                ),
                Thanks(
                    chat_id=chat.id,
                    from_id=omar.id,
                    to_id=zq.id,
                    text="Thanks Zuzanna, fun chat.",
                    created_at=now,
                ),
                Referral(chat_id=chat.id, by_id=zq.id, referred_id=kemi.id, created_at=now),
                Referral(chat_id=paired.id, by_id=bo.id, referred_id=zq.id, created_at=now),
                AuditEntry(actor="UADMIN", action="report.view", detail="2026-11", created_at=now),
            ]
        )
        find_experts(session, "Kubernetes", "UZQ1", now)

        # Messages: one waiting for her, an admin summary naming her, one for Bo about something else.
        outbox.enqueue(
            session, "checkin:her", users=["UZQ1"], text="Did you meet Omar?", subject="followup:0"
        )
        outbox.enqueue(
            session,
            "summary:UADMIN",
            users=["UADMIN"],
            text="Unmatched: Zuzanna Quillfeather",
            subject="summary",
        )
        outbox.enqueue(session, "bo:other", users=["UBO"], text="Your pause ends Monday.", subject="pause")
        return {
            "ids": {"UZQ1": zq.id, "UOMAR": omar.id, "UKEMI": kemi.id, "UBO": bo.id},
            "asked": asked.id,
            "kemi_request": kemi_asks.id,
            "chat": chat.id,
            "paired": paired.id,
        }


def _dump(db: Database) -> list[tuple[str, str, str]]:
    """Every string (and JSON) value of every column of every table: (table, column, value)."""
    values: list[tuple[str, str, str]] = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    if isinstance(value, str):
                        values.append((table.name, column, value))
                    elif isinstance(value, list | dict):
                        values.append((table.name, column, json.dumps(value, ensure_ascii=False)))
    return values


def _traces(db: Database) -> list[tuple[str, str, str]]:
    needles = [*SUBJECT.values(), "Zuzanna", "Quillfeather", MARKER]
    return [hit for hit in _dump(db) if any(n.lower() in hit[2].lower() for n in needles)]


def _counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Person, ChatRequest, Chat, ChatParticipant, Takeaway, Thanks, Referral, Search)
        }


# -- export ---------------------------------------------------------------------------------------


def test_export_has_their_data_and_nobody_elses_private_data(db: Database, history: dict[str, Any]) -> None:
    with db.session() as session:
        data = privacy.export_person(session, "UZQ1")
        with pytest.raises(privacy.UnknownPerson):
            privacy.export_person(session, "UNOBODY")
        assert privacy.find_person(session, "zuzanna.q@EXAMPLE.com").slack_user_id == "UZQ1"

    assert json.loads(json.dumps(data)) == data  # plain JSON, datetimes as ISO strings
    datetime.fromisoformat(data["exported_at"])
    assert data["directory"]["email"] == SUBJECT["email"]
    assert data["directory"]["real_name"] == SUBJECT["real_name"]
    assert data["profile"]["function"] == "Sales"
    assert data["profile"]["ask_me_about"] == "enterprise deals"
    assert data["profile"]["topics_i_speak_about"] == ["Negotiation"]
    assert data["profile"]["topics_i_want_to_learn"] == ["Kubernetes"]

    [sent] = data["requests_sent"]
    assert sent["to"] == "UOMAR" and MARKER in sent["intro"] and sent["status"] == "accepted"
    received = {r["from"]: r for r in data["requests_received"]}
    assert set(received) == {"UKEMI", "UBO"}
    assert received["UKEMI"]["intro"].startswith("Hi Zuzanna")  # addressed to her
    assert MARKER in received["UBO"]["decline_or_redirect_note"]

    chats = {c["id"]: c for c in data["chats"]}
    assert chats[history["chat"]]["partners"] == ["UOMAR"] and chats[history["chat"]]["role"] == "learner"
    assert chats[history["paired"]]["kind"] == "pairing" and chats[history["paired"]]["partners"] == ["UBO"]

    [takeaway] = data["takeaways"]
    assert MARKER in takeaway["text"] and takeaway["shared_with"] == "me"
    assert [t["to"] for t in data["thanks_sent"]] == ["UOMAR"]
    assert [t["from"] for t in data["thanks_received"]] == ["UOMAR"]
    assert [r["referred"] for r in data["referrals_made"]] == ["UKEMI"]
    assert data["times_referred_by_others"] == 1
    assert [s["query"] for s in data["searches"]] == ["Kubernetes"]
    assert [b["never_pair_with"] for b in data["pairing_blocks_set"]] == ["UBO"]
    waiting = [m["text"] for m in data["messages_waiting_to_be_sent"]]
    assert "Did you meet Omar?" in waiting and "Your pause ends Monday." not in waiting

    everything = json.dumps(data)
    # Other people's private takeaways, and blocks others set on her, are theirs.
    assert BO_PRIVATE not in everything
    assert "asked sharp questions" not in everything
    assert all(b["never_pair_with"] != "UZQ1" for b in data["pairing_blocks_set"])
    # Partners appear by Slack id only (messages to her say what they say).
    stored = json.dumps({k: v for k, v in data.items() if k != "messages_waiting_to_be_sent"})
    assert "Omar Haddad" not in stored and "Bo Novak" not in stored


# -- erase ----------------------------------------------------------------------------------------


def test_erase_leaves_no_trace_and_keeps_counts(db: Database, history: dict[str, Any]) -> None:
    assert _traces(db), "the history should mention her before erasure"
    before = _counts(db)
    with db.session() as session:
        report = erase_person(session, "UZQ1", utcnow())
    placeholder = f"erased:{history['ids']['UZQ1']}"
    assert report.placeholder == placeholder and not report.already_erased
    assert report.requests_closed == 1 and report.learners_told == 1
    assert report.topics_removed == 2 and report.pairing_blocks_deleted == 2
    assert report.takeaways_blanked == 1 and report.thanks_blanked == 1 and report.searches_anonymised == 1

    assert _traces(db) == []
    assert _counts(db) == before

    with db.session() as session:
        person = _person(session, placeholder)
        assert person.is_deleted and person.left_at is not None and not person.weekly_pairing
        assert (person.name, person.real_name, person.title, person.email, person.tz) == (
            "",
            "",
            "",
            None,
            None,
        )
        assert person.function == "Sales"  # reports count chats across functions
        assert person.topics == []
        # Kemi's open request is closed, and she is told without naming anyone.
        kemi_request = session.get(ChatRequest, history["kemi_request"])
        assert kemi_request is not None and kemi_request.status == RequestStatus.CLOSED
        assert kemi_request.intro == "Hi [erased], I'm Kemi from Product."
        note = session.scalar(select(OutboxMessage).where(OutboxMessage.users == "UKEMI"))
        assert note is not None and "no longer on infochat" in note.text
        # Her rows stay with their numbers; other people's data stays theirs.
        takeaway = session.scalar(select(Takeaway).where(Takeaway.author_id == person.id))
        assert takeaway is not None and (takeaway.text, takeaway.topics, takeaway.usefulness) == ("", None, 5)
        assert session.scalar(select(Takeaway.text).where(Takeaway.text == BO_PRIVATE)) == BO_PRIVATE
        assert session.scalar(select(Search.person_id)) is None
        assert session.scalar(select(func.count()).select_from(PairingBlock)) == 0
        paired = session.get(Chat, history["paired"])
        assert paired is not None and paired.reasons == [
            "[erased] can tell Bo about Negotiation",
            "you have not met before",
        ]
        messages = {m.dedupe_key: m for m in session.scalars(select(OutboxMessage))}
        assert "checkin:her" not in messages and "summary:UADMIN" not in messages  # unsent: gone
        assert messages["bo:other"].text == "Your pause ends Monday."
        ask = messages[request_flow.ask_key(history["asked"])]
        assert ask.status == OutboxStatus.SENT and ask.text == "" and ask.blocks is None

    # Idempotent: the placeholder erases again without changing anything; her old id is gone.
    dump = _dump(db)
    with db.session() as session:
        again = erase_person(session, placeholder, utcnow())
        with pytest.raises(privacy.UnknownPerson):
            erase_person(session, "UZQ1", utcnow())
    assert again.already_erased
    assert [line.split(" ")[0] for line in again.lines()] == ["0"] * len(again.lines())
    assert sorted(_dump(db)) == sorted(dump)
    assert _counts(db) == before


# -- retention ------------------------------------------------------------------------------------


def test_purge_blanks_only_old_text(db: Database) -> None:
    now = utcnow()
    old = now - timedelta(days=400)
    make_person(db, None, "UL", "Lena Park", "Sales", learns=["Kubernetes"])
    make_person(db, None, "UX", "Omar Haddad", "Engineering", speaks=["Kubernetes"], chats_per_month=8)
    make_person(db, None, "UY", "Kemi Ng", "Product", speaks=["Kubernetes"], chats_per_month=8)
    with db.session() as session:
        lena, omar, kemi = (_person(session, u) for u in ("UL", "UX", "UY"))
        declined = request_service.create_request(
            session, lena, omar, "Kubernetes", _draft("An old intro, long ago."), old
        )
        request_service.decline(session, declined, "UX", "An old decline note.", old)
        still_open = request_service.create_request(
            session, lena, kemi, "Kubernetes", _draft("Still waiting for Kemi."), old
        )
        chat_old = Chat(kind=ChatKind.PAIRING, created_at=old)
        chat_new = Chat(kind=ChatKind.PAIRING, created_at=now)
        session.add_all([chat_old, chat_new])
        session.flush()
        for chat, when, label in ((chat_old, old, "old"), (chat_new, now, "new")):
            session.add_all(
                [
                    Takeaway(
                        chat_id=chat.id,
                        author_id=lena.id,
                        text=f"{label} takeaway",
                        usefulness=4,
                        topics=["Kubernetes"],
                        created_at=when,
                    ),
                    Thanks(
                        chat_id=chat.id,
                        from_id=lena.id,
                        to_id=omar.id,
                        text=f"{label} thanks",
                        created_at=when,
                    ),
                ]
            )
        find_experts(session, "Kubernetes", "UL", old)
        find_experts(session, "Kubernetes", "UL", now)
        outbox.enqueue(session, "old-sent", users=["UL"], text="old sent", blocks=[{"type": "divider"}])
        outbox.enqueue(session, "old-pending", users=["UL"], text="old pending")
        outbox.enqueue(session, "new-sent", users=["UL"], text="new sent")
        session.execute(
            update(OutboxMessage).where(OutboxMessage.dedupe_key.like("old-%")).values(created_at=old)
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key.like("%-sent"))
            .values(status=OutboxStatus.SENT, sent_at=now)
        )
        ids = {"declined": declined.id, "open": still_open.id}
    before = _counts(db)

    with db.session() as session:
        report = privacy.purge_old_text(session, now, 365)
    assert (report.request_texts, report.decline_notes, report.takeaways) == (1, 1, 1)
    assert (report.thanks, report.searches, report.messages) == (1, 1, 1)
    assert "1 requests" in str(report)

    with db.session() as session:
        declined_row = session.get(ChatRequest, ids["declined"])
        open_row = session.get(ChatRequest, ids["open"])
        assert declined_row is not None and open_row is not None
        assert (
            declined_row.intro,
            declined_row.goal,
            declined_row.questions,
            declined_row.decline_reason,
        ) == ("", "", "", "")
        assert open_row.intro == "Still waiting for Kemi."  # the expert still has to read it
        takeaways = dict(
            session.execute(select(Takeaway.created_at < now - timedelta(days=1), Takeaway.text)).all()
        )
        assert takeaways == {True: "", False: "new takeaway"}
        assert session.scalars(select(Takeaway.usefulness)).all() == [4, 4]  # ratings stay
        assert sorted(session.scalars(select(Thanks.text))) == ["", "new thanks"]
        assert sorted(session.scalars(select(Search.query))) == ["", "Kubernetes"]
        messages = {m.dedupe_key: m for m in session.scalars(select(OutboxMessage))}
        assert (messages["old-sent"].text, messages["old-sent"].blocks) == ("", None)
        assert messages["old-pending"].text == "old pending" and messages["new-sent"].text == "new sent"
    assert _counts(db) == before

    with db.session() as session:
        again = privacy.purge_old_text(session, now, 365)
    assert str(again).count(" 0 ") == 6
    assert privacy.nightly_purge(db, None, now).startswith("retention off")
    assert "blanked text older than" in privacy.nightly_purge(db, 365, now)


# -- the CLI --------------------------------------------------------------------------------------


def _cli(
    db: Database, tmp_path: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))} | {
        "INFOCHAT_DATABASE_URL": make_url(str(db.url)).render_as_string(hide_password=False),
        "INFOCHAT_LOG_LEVEL": "WARNING",
        # The code under test, whichever checkout this is.
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "privacy", *args],
        cwd=tmp_path,  # away from any .env in the repository
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_export_erase_purge(db: Database, history: dict[str, Any], tmp_path: Path) -> None:
    shown = _cli(db, tmp_path, "export", "UZQ1")
    assert shown.returncode == 0, shown.stderr
    assert MARKER in json.loads(shown.stdout)["requests_sent"][0]["intro"]

    out = tmp_path / "zq.json"
    saved = _cli(db, tmp_path, "export", "zuzanna.q@example.com", "--out", str(out))
    assert saved.returncode == 0, saved.stderr
    assert str(out) in saved.stdout and json.loads(out.read_text())["directory"]["slack_user_id"] == "UZQ1"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    missing = _cli(db, tmp_path, "export", "UNOBODY")
    assert missing.returncode == 1 and "no one with Slack user id UNOBODY" in missing.stderr

    declined = _cli(db, tmp_path, "erase", "UZQ1", stdin="n\n")
    assert declined.returncode == 1 and "Nothing erased" in declined.stdout
    assert "Zuzanna Quillfeather" in declined.stdout  # the prompt says whom
    with db.session() as session:
        assert _person(session, "UZQ1").real_name == "Zuzanna Quillfeather"

    before = _counts(db)
    erased = _cli(db, tmp_path, "erase", "UZQ1", "--yes")
    assert erased.returncode == 0, erased.stderr
    placeholder = f"erased:{history['ids']['UZQ1']}"
    assert f"now {placeholder}" in erased.stdout and "takeaways blanked" in erased.stdout
    assert _traces(db) == []  # including the two export audit entries
    assert _counts(db) == before
    with db.session() as session:
        audit = session.execute(select(AuditEntry.action, AuditEntry.detail).order_by(AuditEntry.id)).all()
    assert [tuple(a) for a in audit if a[0].startswith("privacy.")] == [
        ("privacy.export", placeholder),
        ("privacy.export", placeholder),
        ("privacy.erase", placeholder),
    ]

    again = _cli(db, tmp_path, "erase", "UZQ1", "--yes")
    assert again.returncode == 0 and "Nothing stored about UZQ1" in again.stdout

    unset = _cli(db, tmp_path, "purge")
    assert unset.returncode == 2 and "INFOCHAT_RETENTION_DAYS" in unset.stderr
    purged = _cli(db, tmp_path, "purge", INFOCHAT_RETENTION_DAYS="30")
    assert purged.returncode == 0, purged.stderr
    assert "blanked text older than" in purged.stdout
