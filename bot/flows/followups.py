"""Follow-ups after chats: the job that sends check-ins, and the messages follow-ups cause.

`run_followups` is used by the scheduler (every 15 minutes, on any replica)
and by `infochat followups`. Each check-in is claimed with a conditional
UPDATE (services.followups.claim_checkin) and enqueued in the same
transaction under the key `chat:{id}:checkin:{person_id}:{n}`, so concurrent
runs, re-runs and crashes send every check-in exactly once. Messages wait for
the recipient's working hours (services.pairing.not_before) and are paced by
the outbox's conversations.open limiter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks import Block
from bot.blocks import followups as followup_blocks
from bot.clock import zone
from bot.context import AppContext
from bot.flows import outbox as delivery
from bot.flows.requests import person_card
from bot.models import Chat, ChatParticipant, OutboxMessage, OutboxStatus, Outcome, Person, Share, Takeaway
from bot.services import chats, followups, learnings, outbox, pairing

log = logging.getLogger(__name__)

# At most this many check-ins are claimed per run; the rest wait for the next
# run (15 minutes later), which keeps one run's DMs inside Slack's rate limits.
BATCH = 500


def checkin_key(chat_id: int, person_id: int, number: int) -> str:
    return f"chat:{chat_id}:checkin:{person_id}:{number}"


def _subject(chat_id: int) -> str:
    # Not "chat:…": a follow-up is its own subject (privacy erasure finds messages by subject).
    return f"followup:{chat_id}"


def _dm(
    session: Session, key: str, person: Person, message: tuple[str, list[Block]], now: datetime, subject: str
) -> str:
    """`message` to `person` alone, held until their morning when it is night where they are."""
    text, blocks = message
    outbox.enqueue(
        session,
        key,
        users=[person.slack_user_id],
        text=text,
        blocks=blocks,
        not_before=pairing.not_before(now, [zone(person.tz)]),
        subject=subject,
    )
    return key


@dataclass
class FollowupReport:
    checkins: int = 0
    reasks: int = 0
    no_answers: int = 0

    def __str__(self) -> str:
        return f"sent {self.checkins} check-ins, {self.reasks} re-asks, {self.no_answers} no-answers"


def run_followups(ctx: AppContext, now: datetime) -> str:
    """Queue the check-ins and re-asks that are due, record "no answer"s, then deliver."""
    settings = ctx.settings
    report = FollowupReport()
    with ctx.db.session() as session:
        due = followups.due_first_checkins(session, now, settings.followup_after, BATCH)
        due += followups.due_reasks(session, now, BATCH - len(due))
        expired = followups.due_no_answers(session, now, BATCH)
    for item in due:
        # One transaction per check-in: its claim and its message commit together.
        with ctx.db.session() as session:
            if not followups.claim_checkin(session, item, now):
                continue
            queue_checkin(session, item, now)
        if item.number == 1:
            report.checkins += 1
        else:
            report.reasks += 1
    for item in expired:
        with ctx.db.session() as session:
            if followups.record_no_answer(session, item, now):
                report.no_answers += 1
    log.info(
        "follow-ups: %s",
        report,
        extra={"checkins": report.checkins, "reasks": report.reasks, "no_answers": report.no_answers},
    )
    delivery.deliver(ctx)
    return str(report)


def queue_checkin(session: Session, item: followups.Due, now: datetime) -> str:
    chat = session.get(Chat, item.chat_id)
    person = session.get(Person, item.person_id)
    assert chat is not None and person is not None
    partners = [person_card(p) for p in chats.partners_of(chat, person.id)]
    topic = followups.chat_topic(session, chat)
    tz = zone(person.tz).key
    if item.outcome == Outcome.MET:
        message = followup_blocks.learned_prompt_message(partners, topic, chat.id)
    else:
        message = followup_blocks.checkin_message(partners, topic, chat.created_at, chat.id, item.number, tz)
    return _dm(session, checkin_key(chat.id, person.id, item.number), person, message, now, _subject(chat.id))


# -- the answers ---------------------------------------------------------------------------------


def save_learning(
    session: Session,
    author: ChatParticipant,
    submitted: learnings.LearningInput,
    now: datetime,
) -> learnings.SavedLearning:
    """Store what the author learned, then queue their thank-you notes and the referral offer."""
    chat, person = author.chat, author.person
    saved = learnings.save_learning(session, chat, person, submitted, now)
    queue_thanks(session, chat, person, saved, submitted.thanks, now)
    if saved.referral is not None:
        queue_referral_offer(session, chat, person, saved.referral, now)
    return saved


def couldnt_meet(
    ctx: AppContext, chat_id: int | None, slack_user_id: str, reason: str, now: datetime
) -> None:
    """`We couldn't meet` with a reason; a partner the ghost rule pauses is told, with a way back.

    Raises chats.NotParticipant (also when the chat is gone) or followups.AlreadyAnswered.
    """
    with ctx.db.session() as session:
        member = chats.participant_in(session, chat_id, slack_user_id)
        if member is None:
            raise chats.NotParticipant(chats.GONE)
        result = followups.record_couldnt(session, member.chat, member.person_id, reason, now)
        for paused in result.paused:
            queue_ghost_pause(session, member.chat, paused, now)


# -- messages the answers cause ------------------------------------------------------------------


def queue_thanks(
    session: Session,
    chat: Chat,
    author: Person,
    saved: learnings.SavedLearning,
    note: str,
    now: datetime,
) -> list[str]:
    """The thank-you note to each partner (with the takeaway if shared with them), once per pair."""
    topic = followups.chat_topic(session, chat)
    takeaway = saved.takeaway
    shared = takeaway.text if takeaway is not None and takeaway.share != Share.ME else None
    keys = []
    for partner in saved.thanked:
        message = followup_blocks.thanks_message(person_card(author), topic, note, shared)
        key = f"chat:{chat.id}:thanks:{author.id}:{partner.id}"
        keys.append(_dm(session, key, partner, message, now, _subject(chat.id)))
    if shared and not note.strip():
        # No note, but they chose to share their notes with the people they met.
        for partner in chats.partners_of(chat, author.id):
            message = followup_blocks.learned_shared_message(person_card(author), topic, shared)
            key = f"chat:{chat.id}:learned:{author.id}:{partner.id}"
            keys.append(_dm(session, key, partner, message, now, _subject(chat.id)))
    return keys


def queue_referral_offer(
    session: Session, chat: Chat, author: Person, referred: Person, now: datetime
) -> str:
    """Offer the author an `Ask for a chat` with the referred colleague, on the chat's topic."""
    topic = followups.chat_topic(session, chat)
    suggested_by = [p.display_name for p in chats.partners_of(chat, author.id)]
    text, blocks = followup_blocks.referral_message(
        suggested_by, person_card(referred), topic, referred.is_available(now)
    )
    key = f"chat:{chat.id}:referral:{author.id}:{referred.id}"
    # The author is at the keyboard right now: no working-hours hold.
    outbox.enqueue(
        session, key, users=[author.slack_user_id], text=text, blocks=blocks, subject=_subject(chat.id)
    )
    return key


def queue_ghost_pause(session: Session, chat: Chat, person: Person, now: datetime) -> str:
    """Tell someone the ghost rule paused them, with `Stay active` / `Pause me`."""
    until = person.paused_until or now
    message = followup_blocks.ghost_pause_message(until, zone(person.tz).key)
    return _dm(session, f"chat:{chat.id}:ghost:{person.id}", person, message, now, f"ghost:{person.id}")


# -- keeping the check-in DMs current ---------------------------------------------------------------


def refresh_checkins(ctx: AppContext, chat_id: int, person_id: int) -> None:
    """Show the answer in every check-in DM this person got about this chat (buttons stay usable
    where an answer can still change)."""
    with ctx.db.session() as session:
        chat = session.get(Chat, chat_id)
        participant = session.get(ChatParticipant, (chat_id, person_id))
        if chat is None or participant is None:
            return
        sent = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.dedupe_key.like(f"chat:{chat_id}:checkin:{person_id}:%"),
                OutboxMessage.status == OutboxStatus.SENT,
            )
        ).all()
        if not sent or participant.outcome is None:
            return
        partners = [person_card(p) for p in chats.partners_of(chat, person_id)]
        wrote = (
            session.scalar(
                select(Takeaway.id).where(Takeaway.chat_id == chat_id, Takeaway.author_id == person_id)
            )
            is not None
        )
        text, blocks = followup_blocks.answered_message(
            partners,
            followups.chat_topic(session, chat),
            chat_id,
            str(participant.outcome),
            reason=participant.outcome_reason,
            next_at=participant.next_checkin_at,
            last=participant.checkins_sent >= followups.MAX_CHECKINS,
            wrote=wrote,
            tz=zone(participant.person.tz).key,
        )
        targets = [(m.sent_channel, m.sent_ts) for m in sent if m.sent_channel and m.sent_ts]
    for channel, ts in targets:
        try:
            ctx.slack.update_message(str(channel), str(ts), text, blocks)
        except Exception:
            log.exception("could not update a check-in DM", extra={"chat_id": chat_id})
