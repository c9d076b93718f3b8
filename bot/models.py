"""SQLAlchemy 2 typed models. Schema changes go through Alembic (migrations/)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.clock import utcnow
from bot.models_base import Base, BigIntId, UTCDateTime


class Person(Base):
    """A workspace member as Slack's directory describes them."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), unique=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    real_name: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(255), default="")
    tz: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_ultra_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Indexed: search caches are keyed on max(updated_at).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, index=True)

    # -- the infochat profile (None/defaults until the person joins) -------------
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    function: Mapped[str | None] = mapped_column(String(100), index=True)
    # "import" when HR's CSV owns the function; the modal then shows it read-only.
    function_source: Mapped[str | None] = mapped_column(String(16))
    ask_me_about: Mapped[str] = mapped_column(String(200), default="")
    chats_per_month: Mapped[int] = mapped_column(SmallInteger, default=2)
    preferred_format: Mapped[str] = mapped_column(String(16), default="any")
    weekly_pairing: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Partners who said "no reply" in a row (Donut's ghost rule: 3 pauses them).
    no_show_streak: Mapped[int] = mapped_column(SmallInteger, default=0)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Availability for scheduling chats (bot.services.scheduling), in the person's Slack time zone:
    # working days as a Monday=bit 0 mask, working hours as minutes after midnight.
    work_days: Mapped[int] = mapped_column(SmallInteger, default=0b11111, server_default="31")
    work_start: Mapped[int] = mapped_column(SmallInteger, default=600, server_default="600")
    work_end: Mapped[int] = mapped_column(SmallInteger, default=1020, server_default="1020")
    best_time: Mapped[str] = mapped_column(String(16), default="any", server_default="any")
    chat_minutes: Mapped[int] = mapped_column(SmallInteger, default=30, server_default="30")

    topics: Mapped[list[PersonTopic]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def display_name(self) -> str:
        return self.real_name or self.name or self.slack_user_id

    @property
    def can_be_messaged(self) -> bool:
        """Deactivated users, bots and guests are never listed, paired or messaged."""
        return not (self.is_deleted or self.is_bot or self.is_restricted or self.is_ultra_restricted)

    @property
    def has_joined(self) -> bool:
        return self.joined_at is not None and self.left_at is None

    def is_paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now

    def is_available(self, now: datetime) -> bool:
        """Can be found, requested and paired right now."""
        return self.can_be_messaged and self.has_joined and not self.is_paused(now)

    def topic_names(self, kind: TopicKind) -> list[str]:
        return sorted((pt.topic.name for pt in self.topics if pt.kind == kind), key=str.casefold)


class TopicKind(enum.StrEnum):
    SPEAK = "speak"  # topics I can speak about
    LEARN = "learn"  # topics I want to learn


class Topic(Base):
    """One entry of the shared catalogue; `key` is the normalised name (see services.topics)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicAlias(Base):
    """Another spelling of a topic ("k8s" -> Kubernetes), added by admins or by a merge."""

    __tablename__ = "topic_aliases"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    topic: Mapped[Topic] = relationship(lazy="joined")


class PersonTopic(Base):
    __tablename__ = "person_topics"
    __table_args__ = (Index("ix_person_topics_topic_kind", "topic_id", "kind"),)

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[TopicKind] = mapped_column(
        Enum(TopicKind, native_enum=False, length=8, values_callable=lambda e: [m.value for m in e]),
        primary_key=True,
    )
    person: Mapped[Person] = relationship(back_populates="topics")
    topic: Mapped[Topic] = relationship(lazy="joined")


class JobRun(Base):
    """One scheduled job's run for one period ("directory-sync", "2026-11-22").

    Every replica runs the scheduler; the primary key lets exactly one of them
    claim a period, so a nightly job runs once however many processes there are.
    """

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(255))


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REDIRECTED = "redirected"
    EXPIRED = "expired"
    CLOSED = "closed"  # the expert left or was deactivated


def _str_enum(enum_type: type[enum.StrEnum], length: int = 16) -> Enum:
    return Enum(enum_type, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class ChatRequest(Base):
    """A learner asking one expert for a 20–30 minute chat."""

    __tablename__ = "chat_requests"
    __table_args__ = (
        # At most one open request from a learner to the same expert, enforced by
        # the database so double submissions and replicas cannot create two.
        Index(
            "uq_chat_requests_open_pair",
            "learner_id",
            "expert_id",
            unique=True,
            sqlite_where=sql_text("status = 'open'"),
            postgresql_where=sql_text("status = 'open'"),
        ),
        Index("ix_chat_requests_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    topic_text: Mapped[str] = mapped_column(String(100), default="")
    intro: Mapped[str] = mapped_column(String(1000), default="")
    goal: Mapped[str] = mapped_column(String(1000), default="")
    questions: Mapped[str] = mapped_column(String(3000), default="")
    preferred_format: Mapped[str] = mapped_column(String(16), default="any")
    duration_minutes: Mapped[int] = mapped_column(SmallInteger, default=30)
    status: Mapped[RequestStatus] = mapped_column(_str_enum(RequestStatus), default=RequestStatus.OPEN)
    decline_reason: Mapped[str] = mapped_column(String(500), default="")
    redirect_to_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # Indexed for reports: requests sent in a period (the status index cannot range over time).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    learner: Mapped[Person] = relationship(foreign_keys=[learner_id], lazy="joined")
    expert: Mapped[Person] = relationship(foreign_keys=[expert_id], lazy="joined")
    topic: Mapped[Topic | None] = relationship(lazy="joined")


class ChatKind(enum.StrEnum):
    REQUEST = "request"  # an accepted chat request
    PAIRING = "pairing"  # a weekly pairing


class Chat(Base):
    """A conversation infochat introduced: from an accepted request or a weekly pairing."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[ChatKind] = mapped_column(_str_enum(ChatKind))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_requests.id", ondelete="SET NULL"), unique=True
    )
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Indexed for reports: chats held in a period.
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Weekly pairings: the round it came from; "Can't make it" cancels without penalty.
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("pairing_rounds.id", ondelete="CASCADE"), index=True
    )
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list[str] | None] = mapped_column(JSON)

    participants: Mapped[list[ChatParticipant]] = relationship(
        back_populates="chat", cascade="all, delete-orphan", lazy="selectin"
    )
    topic: Mapped[Topic | None] = relationship(lazy="joined")


class ChatRole(enum.StrEnum):
    LEARNER = "learner"
    EXPERT = "expert"
    PEER = "peer"  # weekly pairings: both teach and learn


class Outcome(enum.StrEnum):
    MET = "met"
    NOT_YET = "not_yet"
    COULDNT = "couldnt"  # we couldn't meet (with a reason)
    NO_ANSWER = "no_answer"  # asked three times, never answered


class ChatParticipant(Base):
    __tablename__ = "chat_participants"
    __table_args__ = (
        Index("ix_chat_participants_person", "person_id", "chat_id"),
        # Reports join chats to their participants by side: this covers chat -> (role, person).
        Index("ix_chat_participants_chat_role", "chat_id", "role", "person_id"),
    )

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[ChatRole] = mapped_column(_str_enum(ChatRole))
    # Follow-up state, per participant (see services.followups).
    outcome: Mapped[Outcome | None] = mapped_column(_str_enum(Outcome))
    outcome_reason: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checkins_sent: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_checkin_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    chat: Mapped[Chat] = relationship(back_populates="participants")
    person: Mapped[Person] = relationship(lazy="joined")


class PersonUsage(Base):
    """Each person's chat counts as `/infochat find` ranks by them, kept by bot.services.usage.

    Derived from chats and chat_participants (a row per person who has taken part
    in a chat), refreshed in the flush that adds, removes or re-dates a
    participation, so search reads it by primary key instead of counting chats.
    Each figure says for which instants it holds; outside them search counts
    from the chats themselves (see bot.services.usage).
    """

    __tablename__ = "person_usage"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    # UTC month start of the person's latest chat as expert or peer, and how many
    # such chats they have in that month; None: never expert or peer.
    month: Mapped[datetime | None] = mapped_column(UTCDateTime())
    month_chats: Mapped[int] = mapped_column(Integer, default=0)
    # Chats in any role created at or after recent_oldest (the oldest counted);
    # recent_before is the newest chat not counted. `recent` is the count of chats
    # at or after any instant in (recent_before, recent_oldest].
    recent: Mapped[int] = mapped_column(Integer, default=0)
    recent_oldest: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recent_before: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Search(Base):
    """One `/infochat find`: feeds "most searched" and "wanted but not offered" reports."""

    __tablename__ = "searches"
    __table_args__ = (
        # The report's chains (bot.services.reports.rollup_searches): searches that follow another
        # of the same person and group, by when, with what the report reads of them (a covering
        # index, a tenth of the searches); and those whose chain is not computed yet.
        Index(
            "ix_searches_prev_at",
            "prev_at",
            *("created_at", "person_id", "topic_id", "results", "prev_results", "prev2_at", "query"),
            postgresql_where=sql_text("prev_at IS NOT NULL"),
            sqlite_where=sql_text("prev_at IS NOT NULL"),
        ),
        Index(
            "ix_searches_unchained",
            "person_id",
            postgresql_where=sql_text("NOT chained"),
            sqlite_where=sql_text("NOT chained"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    query: Mapped[str] = mapped_column(String(100))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"), index=True)
    results: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Derived for reports, never written by the search itself: the same person's previous
    # search in the same group (topic, else query text), when it was (and the one before
    # it) and what it found;
    # `chained` false until a report (or the hourly job) has set them for this row.
    prev_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    prev2_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the one before that
    prev_results: Mapped[int | None] = mapped_column(Integer)
    chained: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanently: recorded, never retried


class OutboxMessage(Base):
    """A message to deliver exactly once, written in the same transaction as its cause.

    `dedupe_key` is unique: enqueuing the same message twice (a double click,
    a retried event, a second replica) stores it once. Senders claim a row
    (`claimed_until`) before calling Slack, so two senders never send it twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Either a channel id, or the Slack user ids to open a (group) DM with.
    channel: Mapped[str | None] = mapped_column(String(32))
    users: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(4000))
    blocks: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[OutboxStatus] = mapped_column(_str_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_channel: Mapped[str | None] = mapped_column(String(32))
    sent_ts: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What the message is about, so a permanent failure can be acted on (tell the partner).
    subject: Mapped[str | None] = mapped_column(String(64))


class PairingRound(Base):
    """One weekly round, keyed by ISO week: a second run, replica or restart finds it and adds nothing."""

    __tablename__ = "pairing_rounds"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    week: Mapped[str] = mapped_column(String(10), unique=True)  # "%G-W%V", e.g. 2026-W48
    seed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, object] | None] = mapped_column(JSON)


class RoundUnmatched(Base):
    """Someone eligible whom a round could not pair, and why; they get priority next week."""

    __tablename__ = "round_unmatched"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("pairing_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(255))


class PairingBlock(Base):
    """`person` asked never to be paired with `blocked` again (private; never shown to `blocked`)."""

    __tablename__ = "pairing_blocks"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Share(enum.StrEnum):
    ME = "me"  # only the author
    EXPERT = "expert"  # the author and the people they met
    EVERYONE = "everyone"  # anyone reading /infochat learnings on the topic


class Takeaway(Base):
    """What someone learned in a chat. Private unless its author shares it."""

    __tablename__ = "takeaways"
    __table_args__ = (Index("uq_takeaways_chat_author", "chat_id", "author_id", unique=True),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(3000), default="")
    usefulness: Mapped[int | None] = mapped_column(SmallInteger)
    topics: Mapped[list[str] | None] = mapped_column(JSON)
    share: Mapped[Share] = mapped_column(_str_enum(Share), default=Share.ME)
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    author: Mapped[Person] = relationship(lazy="joined")


class Thanks(Base):
    """A thank-you note, forwarded to the person thanked."""

    __tablename__ = "thanks"
    __table_args__ = (Index("uq_thanks_chat_from_to", "chat_id", "from_id", "to_id", unique=True),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    from_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    to_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sender: Mapped[Person] = relationship(foreign_keys=[from_id], lazy="joined")


class Referral(Base):
    """A referral ("who else should I talk to?") suggested in a follow-up."""

    __tablename__ = "referrals"
    __table_args__ = (Index("uq_referrals_chat_by_to", "chat_id", "by_id", "referred_id", unique=True),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    referred_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """Who viewed or exported which report, when (HR data access is audited)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))  # Slack user id, or "cli:<user>" for operators
    action: Mapped[str] = mapped_column(String(64))  # e.g. "report.view", "report.export"
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class SlackEvent(Base):
    """Events API deliveries seen, by event_id: retries of a processed event are dropped."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AppState(Base):
    """Small workspace-wide state: sending stopped (app_uninstalled...), HR dashboard sessions."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# -- scheduling (bot.services.scheduling) -------------------------------------------------


class ScheduleStatus(enum.StrEnum):
    PROPOSING = "proposing"  # times proposed, people picking
    CONFIRMED = "confirmed"  # one time works for everyone
    CANCELLED = "cancelled"  # cancelled from the confirmation, with a reason


class ChatSchedule(Base):
    """Finding a time for one chat, and the time found.

    One row per chat, created by the first `Find a time`. `round` numbers the
    set of proposed times (a reschedule starts a new round); `sequence` is
    the calendar invite's SEQUENCE (each reschedule and the cancellation add
    one); `invite_shared` is the highest sequence whose .ics reached the
    conversation (-1: none yet).
    """

    __tablename__ = "chat_schedules"
    __table_args__ = (Index("ix_chat_schedules_status_start", "status", "start_at"),)

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[ScheduleStatus] = mapped_column(
        _str_enum(ScheduleStatus), default=ScheduleStatus.PROPOSING
    )
    round: Mapped[int] = mapped_column(SmallInteger, default=1)
    minutes: Mapped[int] = mapped_column(SmallInteger, default=30)
    overlap: Mapped[bool] = mapped_column(Boolean, default=True)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sequence: Mapped[int] = mapped_column(SmallInteger, default=0)
    invite_shared: Mapped[int] = mapped_column(SmallInteger, default=-1)
    invite_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the first follow-up check-in is due, if scheduling decided it (2 h after the slot).
    checkin_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    first_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reschedules: Mapped[int] = mapped_column(SmallInteger, default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChatNudge(Base):
    """The one "find a time" nudge a chat gets when nobody picked a time within 3 working days."""

    __tablename__ = "chat_nudges"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScheduleSlot(Base):
    """A time proposed for a chat (by infochat, or suggested by one of its people)."""

    __tablename__ = "schedule_slots"
    __table_args__ = (
        Index("uq_schedule_slots_chat_round_start", "chat_id", "round", "start_at", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(SmallInteger)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    suggested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # Person ids this time falls before / after the working hours of.
    early_for: Mapped[list[int] | None] = mapped_column(JSON)
    late_for: Mapped[list[int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlotPick(Base):
    """Someone in the chat said this time works for them."""

    __tablename__ = "slot_picks"

    slot_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_slots.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


from bot import models_home as _home, models_ranks as _ranks, models_rollups as _rollups  # noqa: E402, F401, I001
