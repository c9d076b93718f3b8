"""SQLAlchemy 2 typed models. Schema changes go through Alembic (migrations/)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names make migrations reviewable and reversible on both
# SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite has no tz type)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; infochat stores aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

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
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

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
