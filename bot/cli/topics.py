"""`infochat topics …` operator commands: list the catalogue, add aliases, merge duplicates."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import case, func, select

from bot.cli.database import operator_database
from bot.models import PersonTopic, Topic, TopicKind
from bot.services.topics import TopicError, add_alias, merge_topics
from bot.settings import Settings


def _alias(args: argparse.Namespace, settings: Settings) -> int:
    with operator_database(settings) as db:
        try:
            with db.session() as session:
                topic = add_alias(session, args.alias, args.topic)
                print(f"“{args.alias}” now finds the topic “{topic.name}”.")
        except TopicError as exc:
            print(f"infochat: {exc}", file=sys.stderr)
            return 1
    return 0


def _merge(args: argparse.Namespace, settings: Settings) -> int:
    with operator_database(settings) as db:
        try:
            with db.session() as session:
                topic = merge_topics(session, args.source, args.target)
                print(
                    f"Merged “{args.source}” into “{topic.name}”; “{args.source}” now finds “{topic.name}”."
                )
        except TopicError as exc:
            print(f"infochat: {exc}", file=sys.stderr)
            return 1
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    speak = func.count(case((PersonTopic.kind == TopicKind.SPEAK, 1)))
    learn = func.count(case((PersonTopic.kind == TopicKind.LEARN, 1)))
    stmt = (
        select(Topic.name, Topic.key, speak, learn)
        .outerjoin(PersonTopic, PersonTopic.topic_id == Topic.id)
        .group_by(Topic.id, Topic.name, Topic.key)
        .order_by((speak + learn).desc(), Topic.key)
    )
    if args.limit > 0:
        stmt = stmt.limit(args.limit)
    with operator_database(settings) as db, db.session() as session:
        rows = session.execute(stmt).all()
        total = session.scalar(select(func.count()).select_from(Topic)) or 0
    width = max([len("topic"), *(len(name) for name, *_ in rows)])
    key_width = max([len("key"), *(len(key) for _, key, *_ in rows)])
    print(f"{'topic':<{width}}  {'key':<{key_width}}  {'speak':>5}  {'learn':>5}")
    for name, key, n_speak, n_learn in rows:
        print(f"{name:<{width}}  {key:<{key_width}}  {n_speak:>5}  {n_learn:>5}")
    if len(rows) < total:
        print(f"({len(rows)} of {total} topics, most used first; --limit 0 lists all)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `topics` command group to the `infochat` parser."""
    topics = sub.add_parser("topics", help="the shared topic catalogue: list, aliases, merges")
    topics_sub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)

    listing = topics_sub.add_parser(
        "list", help="topics with how many people speak about / want to learn each"
    )
    listing.add_argument(
        "--limit", type=int, default=100, help="show at most N topics (default 100; 0 = all)"
    )
    listing.set_defaults(handler=_list)

    alias = topics_sub.add_parser("alias", help="make ALIAS another spelling of TOPIC (e.g. K8s Kubernetes)")
    alias.add_argument("alias", metavar="ALIAS")
    alias.add_argument("topic", metavar="TOPIC", help="an existing topic (its name or any of its spellings)")
    alias.set_defaults(handler=_alias)

    merge = topics_sub.add_parser(
        "merge", help="fold topic SOURCE into TARGET: people move over, SOURCE becomes an alias"
    )
    merge.add_argument("source", metavar="SOURCE")
    merge.add_argument("target", metavar="TARGET")
    merge.set_defaults(handler=_merge)
