"""report roll-ups: each search's chain (the previous search of its person and group), searches per month,
shared takeaways' topics, who took part per person and year

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

Backfill: every existing search is chained here (one UPDATE over a window function), and the
topics of every shared takeaway written and chained (bot.services.reports.rollup_takeaways); the
search months are per time zone, which migrations do not know: the first report builds the ended
months it reads (bot.services.reports.rollup_searches), or `infochat report --build-rollups`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime
from bot.services.reports import rollup_takeaways

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GROUP = "coalesce(topic_id, 0), CASE WHEN topic_id IS NULL THEN lower(trim(query)) ELSE '' END"


def upgrade() -> None:
    op.add_column("searches", sa.Column("prev_at", UTCDateTime(), nullable=True))
    op.add_column("searches", sa.Column("prev2_at", UTCDateTime(), nullable=True))
    op.add_column("searches", sa.Column("prev_results", sa.Integer(), nullable=True))
    op.add_column(
        "searches", sa.Column("chained", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.execute(
        "UPDATE searches SET prev_at = c.prev_at, prev2_at = c.prev2_at, prev_results = c.prev_results, "
        "chained = true FROM (SELECT id, lag(created_at) OVER w AS prev_at, "
        "lag(created_at, 2) OVER w AS prev2_at, lag(results) OVER w AS prev_results "
        f"FROM searches WINDOW w AS (PARTITION BY {GROUP}, person_id ORDER BY created_at, id)) AS c "
        "WHERE searches.id = c.id"
    )
    op.create_index(
        "ix_searches_prev_at",
        "searches",
        ["prev_at", "created_at", "person_id", "topic_id", "results", "prev_results", "prev2_at", "query"],
        postgresql_where=sa.text("prev_at IS NOT NULL"),
        sqlite_where=sa.text("prev_at IS NOT NULL"),
    )
    op.create_index(
        "ix_searches_unchained",
        "searches",
        ["person_id"],
        postgresql_where=sa.text("NOT chained"),
        sqlite_where=sa.text("NOT chained"),
    )
    op.create_table(
        "report_rollup_search_months",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("tid", BigIntId, nullable=False),
        sa.Column("q", sa.String(100), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "zone", "month", "tid", "q", "results", name=op.f("pk_report_rollup_search_months")
        ),
    )
    op.create_table(
        "report_rollup_months",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "month", name=op.f("pk_report_rollup_months")),
    )

    op.create_table(
        "report_rollup_takeaway_topics",
        sa.Column("takeaway_id", BigIntId, nullable=False),
        sa.Column("pos", sa.Integer(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("author_id", BigIntId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("prev_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["takeaway_id"],
            ["takeaways.id"],
            name=op.f("fk_report_rollup_takeaway_topics_takeaway_id_takeaways"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("takeaway_id", "pos", name=op.f("pk_report_rollup_takeaway_topics")),
    )
    op.create_index(
        "ix_report_rollup_takeaway_topics_created_at",
        "report_rollup_takeaway_topics",
        ["created_at", "topic", "prev_at"],
    )
    op.create_index(
        "ix_report_rollup_takeaway_topics_author_id", "report_rollup_takeaway_topics", ["author_id", "topic"]
    )
    # Backfill: the topics of every shared takeaway, chained per author and topic.
    rollup_takeaways.build_all(op.get_bind())
    # Who took part, the four kinds side by side per person and year: from the year rows.
    activity = {"l": 2, "h": 1, "i": 3, "a": 5}  # LEARNED, HELD, INTRO, ASKED
    names = [f"{prefix}{m}" for prefix in activity for m in range(1, 13)]
    op.create_table(
        "report_rollup_person_years",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("person_id", BigIntId, nullable=False),
        *(sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in names),
        sa.PrimaryKeyConstraint("zone", "year", "person_id", name=op.f("pk_report_rollup_person_years")),
        sqlite_with_rowid=False,
    )
    summed = ", ".join(
        f"SUM(CASE WHEN kind = {kind} THEN m{m} ELSE 0 END)"
        for kind in activity.values()
        for m in range(1, 13)
    )
    op.execute(
        f"INSERT INTO report_rollup_person_years (zone, year, person_id, {', '.join(names)}) "
        f"SELECT zone, year, person_id, {summed} FROM report_rollup_years "
        "WHERE kind IN (1, 2, 3, 5) AND lf = '' AND ef = '' GROUP BY zone, year, person_id"
    )


def downgrade() -> None:
    op.drop_table("report_rollup_person_years")
    op.drop_table("report_rollup_takeaway_topics")
    op.drop_table("report_rollup_months")
    op.drop_table("report_rollup_search_months")
    op.drop_index("ix_searches_unchained", table_name="searches")
    op.drop_index("ix_searches_prev_at", table_name="searches")
    with op.batch_alter_table("searches") as batch:
        batch.drop_column("chained")
        batch.drop_column("prev_results")
        batch.drop_column("prev2_at")
        batch.drop_column("prev_at")
