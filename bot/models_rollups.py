"""Tables of the HR report's roll-ups (bot.services.reports.rollups keeps them).

Per local day of a report's time zone: the chats held that day (and the function
pairs they joined), and which people held a chat or learned that day. They are
derived from chats, chat_participants, chat_requests and people, rebuilt a day at
a time from those rows, so they can always be thrown away and rebuilt.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, Text

from bot.models_base import Base, BigIntId, UTCDateTime

ZONE = 64  # IANA zone names are shorter

# A day of `zone` whose roll-up rows are built and current; no row: build before reading.
report_days = Table(
    "report_rollup_days",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("built_at", UTCDateTime(), nullable=False),
)

# Instants whose local day (in every zone) changed since it was built: a write marks the
# created_at and done_at of each chat or request it touched; the next report rebuilds them.
report_marks = Table(
    "report_rollup_marks",
    Base.metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
)

# Chats held on `day` (local day of done_at) created by the end of `cday` (the later of
# that day and the local day of created_at): a chat counts in a period when both fall in it.
# lside / eside: distinct learner-side / expert-side people that day.
report_held = Table(
    "report_rollup_held",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("cday", Date, primary_key=True),
    Column("chats", Integer, nullable=False),
    Column("cross_chats", Integer, nullable=False),
    Column("lside", Integer, nullable=False),
    Column("eside", Integer, nullable=False),
)

# The same chats by (learner's function, expert's function) as people's functions are now.
report_flow = Table(
    "report_rollup_flow",
    Base.metadata,
    Column("zone", String(ZONE), nullable=False),
    Column("day", Date, nullable=False),
    Column("cday", Date, nullable=False),
    Column("lf", String(100)),
    Column("ef", String(100)),
    Column("chats", Integer, nullable=False),
    Column("learners", Integer, nullable=False),
    Column("experts", Integer, nullable=False),
    Index("ix_report_rollup_flow_day", "zone", "day"),
)

# Chats introduced (created) on `day` with someone of function label `fn` ("(no function)" for
# none, "All functions" for any): the scheduling table's intros.
report_intros = Table(
    "report_rollup_intros",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("fn", String(100), primary_key=True),
    Column("chats", Integer, nullable=False),
)

HELD, LEARNED, INTRO, EXPERT, ASKED = 1, 2, 3, 4, 5  # report_people.kind, report_years.kind
FLOW_LEARNER, FLOW_EXPERT = 6, 7  # report_years.kind: a side of a held chat, by (lf, ef)

# Per local day, what the year rows below cannot hold: kind EXPERT (on the expert's side of
# `chats` chats created that day; the year rows keep whole months' sums, a period's partial
# months are summed from these) and kind HELD for chats held before the local day they were
# created on (`cday` later than `day`: they count in a period only when both days fall in
# it, which one day's bit cannot say). Every other HELD participant is a bit in report_years.
report_people = Table(
    "report_rollup_people",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("person_id", BigIntId, primary_key=True),
    Column("kind", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("cday", Date, primary_key=True),
    Column("chats", Integer, nullable=False),
    Index("ix_report_rollup_people_kind_day", "zone", "kind", "day"),
    sqlite_with_rowid=False,
)

# Who took part when, one row per person, kind and calendar year of the local days, with one
# column per month: bit d-1 of `m<month>` is set when the person took part on day d (kinds
# HELD: a participant of a chat held that day and created by then; LEARNED: asked for a chat,
# or joined one on the learner's side, created that day; INTRO: a participant of a chat
# created that day; ASKED: received a chat request that day; FLOW_LEARNER / FLOW_EXPERT: on
# that side of a chat held that day with someone of the other side, by the learner's and the
# expert's function `lf`, `ef`, "" for none). Kind EXPERT holds counts instead: the person's
# chats on the expert's side created in that month. The distinct people of any run of days
# are one pass over at most a row per person and year (bot.services.reports.rolled).
MONTHS = tuple(f"m{month}" for month in range(1, 13))
report_years = Table(
    "report_rollup_years",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("kind", Integer, primary_key=True),
    Column("lf", String(100), primary_key=True),
    Column("ef", String(100), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("person_id", BigIntId, primary_key=True),
    *(Column(name, Integer, nullable=False, server_default="0") for name in MONTHS),
    sqlite_with_rowid=False,
)

# The same bits of kinds LEARNED, HELD, INTRO and ASKED side by side, one row per person and
# year (`l<month>`, `h<month>`, `i<month>`, `a<month>`), kept with report_years by the same
# builds: a period across a new year groups a row per person and year, not four.
ACTIVITY = {"l": LEARNED, "h": HELD, "i": INTRO, "a": ASKED}
report_person_years = Table(
    "report_rollup_person_years",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("person_id", BigIntId, primary_key=True),
    *(
        Column(f"{prefix}{month}", Integer, nullable=False, server_default="0")
        for prefix in ACTIVITY
        for month in range(1, 13)
    ),
    sqlite_with_rowid=False,
)

# Follow-up answers of the participants of chats introduced on `day`, by their latest
# answer (`outcome`, "none" when not answered), with the distinct people of the row.
report_outcomes = Table(
    "report_rollup_outcomes",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("participants", Integer, nullable=False),
    Column("people", Integer, nullable=False),
)

# Additive counts by local day, each with the distinct people of its row (the smallest group
# behind a count is bounded from those: bot.services.reports.rolled).

# Chat requests sent on `day` by outcome (accepted, declined, expired, other).
report_requests = Table(
    "report_rollup_requests",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("requests", Integer, nullable=False),
    Column("learners", Integer, nullable=False),
    Column("experts", Integer, nullable=False),
)

# Participants asked how a chat introduced on `day` went, and of them who answered.
report_answers = Table(
    "report_rollup_answers",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("asked", Integer, nullable=False),
    Column("answered", Integer, nullable=False),
    Column("people", Integer, nullable=False),
    Column("answerers", Integer, nullable=False),
)

# Chats from requests held on `day` (`cday` as in report_rollup_held), by whole hours from
# the request to the chat; `hours` -1: all of them, for the distinct learners and experts
# of the day (its `chats` are not in the histogram).
report_waits = Table(
    "report_rollup_waits",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("cday", Date, primary_key=True),
    Column("hours", Integer, primary_key=True),
    Column("chats", Integer, nullable=False),
    Column("learners", Integer, nullable=False),
    Column("experts", Integer, nullable=False),
)

# Takeaways written on `day` by usefulness (0: not rated).
report_notes = Table(
    "report_rollup_notes",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("usefulness", Integer, primary_key=True),
    Column("notes", Integer, nullable=False),
    Column("authors", Integer, nullable=False),
)

# Searches of a whole local month of `zone` that has ended, by group (`tid` the matched topic,
# 0 for none; `q` the normalised query text when none, as the report groups them) and what
# they found (`results`, capped at RESULTS_CAP: a search finding that many is never "few").
# `people`: of those searches, the ones made by someone (not erased). Distinct people come
# from the searches' chains (searches.prev_at): bot.services.reports.rollup_searches.
RESULTS_CAP = 1000  # settings.min_group_size is at most this
report_search_months = Table(
    "report_rollup_search_months",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("tid", BigIntId, primary_key=True),
    Column("q", String(100), primary_key=True),
    Column("results", Integer, primary_key=True),
    Column("searches", Integer, nullable=False),
    Column("people", Integer, nullable=False),
)

# The months of `zone` whose report_rollup_search_months rows are built and current.
report_months = Table(
    "report_rollup_months",
    Base.metadata,
    Column("zone", String(ZONE), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("built_at", UTCDateTime(), nullable=False),
)

# One row per topic of each *shared* takeaway (never a private one's), with the instant of
# the same author's previous shared takeaway on that topic (`prev_at`): the distinct authors
# of a period per topic are its rows minus those whose previous one is in it too
# (bot.services.reports.rollup_takeaways, kept in the transaction that writes the takeaway).
report_takeaway_topics = Table(
    "report_rollup_takeaway_topics",
    Base.metadata,
    Column("takeaway_id", BigIntId, ForeignKey("takeaways.id", ondelete="CASCADE"), primary_key=True),
    Column("pos", Integer, primary_key=True),
    Column("topic", Text, nullable=False),
    Column("author_id", BigIntId, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("prev_at", UTCDateTime()),
    Index("ix_report_rollup_takeaway_topics_created_at", "created_at", "topic", "prev_at"),
    Index("ix_report_rollup_takeaway_topics_author_id", "author_id", "topic"),
)
