"""Erasing a person, and the notes it causes, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.blocks.privacy import request_closed_note
from bot.services import outbox
from bot.services.privacy import NOTE_PREFIX
from bot.services.privacy_erase import EraseReport
from bot.services.privacy_erase import erase_person as erase_stored


def erase_person(session: Session, slack_user_id: str, now: datetime) -> EraseReport:
    """`services.privacy_erase.erase_person`, then a note to each learner whose request it closed.

    Queued last, so the erasure's sweep of messages that name the person cannot catch them.
    Raises UnknownPerson.
    """
    report = erase_stored(session, slack_user_id, now)
    for closed in report.to_tell:
        text, blocks = request_closed_note(closed.topic)
        # Keyed under NOTE_PREFIX so a second erasure never deletes them.
        report.learners_told += outbox.enqueue(
            session,
            f"{NOTE_PREFIX}request:{closed.request_id}:closed",
            users=[closed.learner_slack_id],
            text=text,
            blocks=blocks,
            subject="privacy",
        )
    return report
