"""The shared topic catalogue: normalisation, find-or-create, type-ahead, aliases and merges.

Pure functions (`topic_key`, `tidy_name`, `validate_topic_list`) know nothing of
the database; the others take a SQLAlchemy `Session` and leave committing to the
caller's unit of work. Nothing here knows about Slack payloads.

A topic is identified by its *key*, a normalised spelling: "Kubernetes",
"kubernetes " and "KUBERNETES" share the key "kubernete"; "K8s" reaches the same
topic through an alias (the built-in table below, or `topic_aliases`, which
admins extend with `infochat topics alias` and which `merge` fills).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    delete,
    func,
    literal,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from bot.db import insert_ignoring_duplicates, one_of
from bot.models import Base, Person, PersonTopic, Topic, TopicAlias
from bot.models_ranks import expert_ranks
from bot.services import expert_ranks as ranks

MAX_TOPICS_PER_LIST = 20
MIN_TOPIC_LENGTH = 2
MAX_TOPIC_LENGTH = 60
# topics.key and topic_aliases.key are String(80): NFKC and casefolding can
# lengthen a 60-character name ("ß" -> "ss", "㍿" -> "株式会社").
MAX_KEY_LENGTH = 80
# Type-ahead queries longer than any topic cannot match one; cutting them keeps
# a pasted paragraph from turning into an expensive LIKE.
MAX_QUERY_LENGTH = 100

OPTION_TOPIC_PREFIX = "topic:"
OPTION_NEW_PREFIX = "new:"


class TopicError(Exception):
    """An operator- or user-facing problem, worded as one line that can be shown as is."""


# -- normalisation (pure) ----------------------------------------------------------

# Characters kept inside words besides letters, digits and marks: they tell
# "C++" and "C#" apart from "C".
_WORD_SYMBOLS = frozenset("+#")
# Apostrophes join rather than split ("Women's" -> "womens" -> "women"), so a
# possessive does not leave a stray "s" word behind.
_APOSTROPHES = frozenset("'’ʼ`´")


def _is_word_char(ch: str) -> bool:
    return ch in _WORD_SYMBOLS or unicodedata.category(ch)[0] in "LNM"


def _fold_plural(word: str) -> str:
    """A deliberately small English singulariser whose every output is a fixed point.

    Keys are never shown, so "kubernetes" -> "kubernete" is fine; what matters is
    that singular and plural spellings meet and that folding twice changes nothing.
    Every branch returns a word ending in y, ss, ch, sh, x, zz or a non-s letter,
    and none of those is touched again.
    """
    if len(word) <= 3 or not word.isalpha():
        return word  # "ops", "bus", "k8s", "1990s", "c++"
    if word.endswith("ies") and len(word) >= 5:
        return word[:-3] + "y"  # technologies -> technology
    if word.endswith("sses"):
        return word[:-2]  # classes -> class
    if word.endswith(("ches", "shes", "xes", "zzes")):
        word = word[:-2]  # approaches -> approach, boxes -> box
    elif word.endswith("ss") or (len(word) >= 5 and word.endswith(("us", "is"))):
        return word  # business, status, analysis (but "apis", "cpus" fold)
    elif word.endswith("s"):
        word = word[:-1]
    # Singulars the rules above would otherwise miss: "cookie"/"cookies" both end
    # in "y", "cache"/"caches" both end in "ch".
    if len(word) >= 4 and word.endswith("ie"):
        return word[:-2] + "y"
    if word.endswith("che"):
        return word[:-1]
    return word


def topic_key(text: str) -> str:
    """The normalised spelling that identifies a topic.

    NFKC + casefold, punctuation and spacing collapsed to single spaces (but
    "+" and "#" kept), a simple English plural folded on every word. Word order
    is kept: "learning machine" is not "machine learning".
    Idempotent: topic_key(topic_key(x)) == topic_key(x).
    """
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    chars = []
    for ch in text:
        if ch in _APOSTROPHES:
            continue
        chars.append(ch if _is_word_char(ch) else " ")
    # Dropping separators can bring a base letter next to a combining mark;
    # normalising again composes them, so a second pass finds nothing to do.
    words = unicodedata.normalize("NFKC", "".join(chars)).split()
    return " ".join(_fold_plural(word) for word in words)


def tidy_name(text: str) -> str:
    """The display name of a new topic: trimmed, single-spaced, the user's casing kept.

    An all-lower-case entry gets a capital first letter ("kubernetes" -> "Kubernetes")
    so the catalogue reads consistently; "iOS" or "gRPC" stay as typed.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    name = " ".join(text.split())
    if name and name == name.lower():
        first = name[0].upper()
        if len(first) == 1:  # "ß".upper() is "SS": keep such letters as typed
            name = first + name[1:]
    return name


# alias -> canonical display name. Small and uncontroversial on purpose: only
# abbreviations that mean one thing in almost every company ("PM" is left out,
# product or project management?). Admins add their own with `topics alias`,
# and an alias in the database overrides one of these.
BUILTIN_ALIASES: dict[str, str] = {
    "K8s": "Kubernetes",
    "ML": "Machine learning",
    "AI": "Artificial intelligence",
    "JS": "JavaScript",
    "TS": "TypeScript",
    "UX": "User experience",
    "SRE": "Site reliability engineering",
    "Postgres": "PostgreSQL",
    "Golang": "Go",
    "OKR": "Objectives and key results",
    "SEO": "Search engine optimisation",
    "Search engine optimization": "Search engine optimisation",
}

# alias key -> canonical key, computed once.
_BUILTIN_KEYS: dict[str, str] = {topic_key(alias): topic_key(name) for alias, name in BUILTIN_ALIASES.items()}
# canonical key -> the keys of its built-in aliases ("kubernete" -> ("k8s",)).
_BUILTIN_ALIAS_KEYS: dict[str, tuple[str, ...]] = {}
for _alias, _canonical in _BUILTIN_KEYS.items():
    _BUILTIN_ALIAS_KEYS[_canonical] = (*_BUILTIN_ALIAS_KEYS.get(_canonical, ()), _alias)
# canonical key -> canonical display name, for creating the topic an alias names.
_BUILTIN_NAMES: dict[str, str] = {topic_key(name): name for name in BUILTIN_ALIASES.values()}

T = TypeVar("T")


def _canonical_key(key: str) -> str:
    return _BUILTIN_KEYS.get(key, key)


def _display(name: str, limit: int = 40) -> str:
    """A user's entry quoted in an error message, shortened if it is long."""
    name = " ".join(name.split())
    return f"“{name if len(name) <= limit else name[: limit - 1] + '…'}”"


def option_value_text(value: str) -> str | None:
    """The typed text behind an option value, or None for an existing topic (`topic:<id>`)."""
    if value.startswith(OPTION_TOPIC_PREFIX) and value[len(OPTION_TOPIC_PREFIX) :].isdigit():
        return None
    return value.removeprefix(OPTION_NEW_PREFIX)


def validate_topic_list(names: list[str]) -> str | None:
    """A user-facing error for a list of topics, or None when it is fine.

    Accepts typed names and the option values of the type-ahead (`topic:<id>`,
    `new:<text>`) alike, so a modal can pass its selection straight in. Blank
    entries are ignored; spellings of one topic count once.
    """
    seen: set[str] = set()
    for raw in names:
        text = option_value_text(raw)
        if text is None:
            seen.add(raw)
            continue
        name = tidy_name(text)
        if not name:
            continue
        if len(name) < MIN_TOPIC_LENGTH:
            return f"{_display(text)} is too short: a topic has at least {MIN_TOPIC_LENGTH} characters."
        if len(name) > MAX_TOPIC_LENGTH:
            return f"{_display(text)} is too long ({len(name)} characters; at most {MAX_TOPIC_LENGTH})."
        key = topic_key(name)
        if not key:
            return f"{_display(text)} needs at least one letter or digit."
        if len(key) > MAX_KEY_LENGTH:
            return f"{_display(text)} is too long once normalised; please shorten it."
        seen.add(_canonical_key(key))
    if len(seen) > MAX_TOPICS_PER_LIST:
        return f"At most {MAX_TOPICS_PER_LIST} topics — you entered {len(seen)}."
    return None


# -- lookups -----------------------------------------------------------------------


def lookup_keys(text: str) -> list[str]:
    """The keys `find_topic` looks `text` up by: its own, then its built-in alias's topic; [] if none."""
    key = topic_key(text)
    if not key:
        return []
    keys = [key]
    if key in _BUILTIN_KEYS:
        keys.append(_BUILTIN_KEYS[key])
    return keys


# `topic_key` walks the text in Python; searches repeat (popular topics).
@lru_cache(maxsize=4096)
def _memoised_lookup_keys(text: str) -> tuple[str, ...]:
    return tuple(lookup_keys(text))


def pick_topic(keys: list[str], by_key: Mapping[str, T], by_alias: Mapping[str, T]) -> T | None:
    """`find_topic`'s precedence over what `lookup_keys` found as topic keys and as database aliases.

    The text's own key first, then a database alias (so admins can redefine
    "ML"), then the built-in alias's topic, or the alias a merge left behind
    when that topic was merged into another.
    """
    key = keys[0]
    if key in by_key:
        return by_key[key]
    for candidate in keys:
        topic = by_key.get(candidate) if candidate != key else None
        topic = topic or by_alias.get(candidate)
        if topic is not None:
            return topic
    return None


class NamedTopic(NamedTuple):
    """An existing topic as `lookup_topic` finds it."""

    id: int
    name: str
    key: str
    # Keys of every alias that names it: built-in ones, then the database's.
    aliases: tuple[str, ...]


_BY_KEY, _BY_ALIAS, _ALIAS_OF = range(3)


@lru_cache(maxsize=2)
def _lookup_statement(postgres: bool) -> Any:
    """Topics named by `keys` directly or through a database alias, and every alias of those topics.

    One round trip; rows are (via, alias or key, id, name, key). On PostgreSQL
    `keys` is one array parameter (`db.one_of`), so the text is constant.
    """
    t, a = Topic.__table__.c, TopicAlias.__table__.c
    alias = TopicAlias.__table__.alias("spelling")

    def named_by(column: Any) -> Any:
        return one_of(column, "keys", String, postgres)

    def via(kind: int) -> Any:
        return literal_column(str(kind), Integer)  # a constant in the text, not a parameter

    named = union_all(
        select(t.id).where(named_by(t.key)), select(a.topic_id).where(named_by(a.key))
    ).scalar_subquery()
    return union_all(
        select(via(_BY_KEY).label("via"), t.key.label("spelling"), t.id, t.name, t.key).where(
            named_by(t.key)
        ),
        select(via(_BY_ALIAS), a.key, t.id, t.name, t.key)
        .join_from(TopicAlias.__table__, Topic.__table__, a.topic_id == t.id)
        .where(named_by(a.key)),
        select(via(_ALIAS_OF), alias.c.key, alias.c.topic_id, literal(""), literal("")).where(
            alias.c.topic_id.in_(named)
        ),
    )


def lookup_topic(session: Session, text: str) -> NamedTopic | None:
    """The existing topic `text` names, with its aliases: by key, then a database alias, then a built-in one.

    A database alias outranks a built-in one, so admins can redefine "ML". The
    built-in alias's canonical topic may itself have been merged into another;
    the alias that merge left behind is followed. One round trip, Core rows
    (search runs this for every query).
    """
    keys = list(_memoised_lookup_keys(text))
    if not keys:
        return None
    connection = session.connection()
    by_key: dict[str, tuple[int, str, str]] = {}
    by_alias: dict[str, tuple[int, str, str]] = {}
    aliases_of: dict[int, list[str]] = {}
    statement = _lookup_statement(connection.dialect.name == "postgresql")
    for via, spelling, topic_id, name, key in connection.execute(statement, {"keys": keys}):
        if via == _ALIAS_OF:
            aliases_of.setdefault(topic_id, []).append(spelling)
        else:
            (by_key if via == _BY_KEY else by_alias)[spelling] = (topic_id, name, key)
    found = pick_topic(keys, by_key, by_alias)
    if found is None:
        return None
    topic_id, name, key = found
    spellings = [*_BUILTIN_ALIAS_KEYS.get(key, ()), *sorted(aliases_of.get(topic_id, ()))]
    return NamedTopic(topic_id, name, key, tuple(dict.fromkeys(k for k in spellings if k != key)))


def find_topic(session: Session, text: str) -> Topic | None:
    """The existing topic `text` names (`lookup_topic`'s precedence), as an ORM object."""
    named = lookup_topic(session, text)
    return session.get(Topic, named.id) if named is not None else None


def _create(session: Session, text: str) -> Topic:
    key = topic_key(text)
    name = tidy_name(text)
    if key in _BUILTIN_KEYS:
        # "K8s" typed first creates "Kubernetes", so the alias has something to name.
        key = _BUILTIN_KEYS[key]
        name = _BUILTIN_NAMES[key]
    if not MIN_TOPIC_LENGTH <= len(name) <= MAX_TOPIC_LENGTH or not key or len(key) > MAX_KEY_LENGTH:
        raise TopicError(validate_topic_list([text]) or f"{_display(text)} is not a valid topic.")
    # Two people may add the same new topic at the same moment: the unique key
    # decides, the loser's insert does nothing, and both then read the one row.
    # (PostgreSQL waits for the winner's transaction before deciding the conflict.)
    session.execute(insert_ignoring_duplicates(session, Topic, "key").values(name=name, key=key))
    topic = session.scalars(select(Topic).where(Topic.key == key)).one()
    return topic


def resolve_topics(session: Session, names: Iterable[str]) -> list[Topic]:
    """Find or create the topic for each name; one entry per topic, first-seen order.

    Blank names are skipped. A name that is not a valid topic raises TopicError
    (callers validate first with `validate_topic_list`).
    """
    topics: list[Topic] = []
    seen: set[int] = set()
    for text in names:
        if not topic_key(text):
            if text.strip():
                raise TopicError(f"{_display(text)} needs at least one letter or digit.")
            continue
        topic = find_topic(session, text) or _create(session, text)
        if topic.id not in seen:
            seen.add(topic.id)
            topics.append(topic)
    return topics


def resolve_option_value(session: Session, value: str) -> Topic | None:
    """The topic behind a type-ahead option value.

    `topic:<id>` is an existing topic (None if it has since been merged away),
    `new:<text>` a topic to find or create, and anything else a topic name.
    """
    text = option_value_text(value)
    if text is None:
        return session.get(Topic, int(value[len(OPTION_TOPIC_PREFIX) :]))
    found = resolve_topics(session, [text])
    return found[0] if found else None


def resolve_option_values(session: Session, values: Iterable[str]) -> list[Topic]:
    """`resolve_option_value` over a selection: de-duplicated, order kept, vanished ids dropped."""
    topics: list[Topic] = []
    for value in values:
        topic = resolve_option_value(session, value)
        if topic is not None and all(topic.id != t.id for t in topics):
            topics.append(topic)
    return topics


# -- type-ahead --------------------------------------------------------------------


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _typing_stem(key: str) -> str:
    """The query key with its last word loosened for a word still being typed.

    Keys fold plurals, so the half-typed "technologi", "classe" or "cooki" are not
    prefixes of the keys "technology", "class" or "cooky"; dropping a trailing
    "ie", "e" or "i" makes them so. Short words are left alone so that a
    one-letter query does not become empty.
    """
    head, _, last = key.rpartition(" ")
    if len(last) > 3:
        if last.endswith("ie"):
            last = last[:-2]
        elif last.endswith(("e", "i")):
            last = last[:-1]
    return f"{head} {last}" if head else last


def _popularity() -> Any:
    """How many profile links a topic has: the order among equally good matches.

    Counted live through ix_person_topics_topic_kind (an index-only scan per
    candidate on PostgreSQL). That is why the tiers below are separate queries:
    counts are only taken for the candidates of the tiers actually needed.
    """
    return (
        select(func.count())
        .select_from(PersonTopic)
        .where(PersonTopic.topic_id == Topic.id)
        .correlate(Topic)
        .scalar_subquery()
    )


def _ranked(
    condition: ColumnElement[bool], exclude: list[int], limit: int, *first: ColumnElement[Any]
) -> Select[tuple[Topic]]:
    stmt = select(Topic).where(condition)
    if exclude:
        stmt = stmt.where(Topic.id.not_in(exclude))
    return stmt.order_by(*first, _popularity().desc(), Topic.key, Topic.id).limit(limit)


class Suggestions(NamedTuple):
    topics: list[Topic]
    # The topic the query names exactly (key or alias), if any; it leads `topics`.
    exact: Topic | None


def suggest_topics(session: Session, query: str, limit: int = 20) -> list[Topic]:
    """Topics matching what the user is typing, best first (see `typeahead`)."""
    return typeahead(session, query, limit).topics


def typeahead(session: Session, query: str, limit: int = 20) -> Suggestions:
    """Topics matching what the user is typing, best first.

    Order: the topic the query names exactly (by key or alias); topics whose key
    starts with the query; those with a later word starting with it; any other
    substring match; finally topics reached through an alias starting with the
    query ("k8" -> Kubernetes). Within each tier the most-used topics come first.
    An empty query lists the most-used topics.

    Each tier is one query, run only while the list is short, so a one- or
    two-letter query that has enough prefix matches never ranks the rest.
    """
    text = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if limit <= 0:
        return Suggestions([], None)
    key = topic_key(text)
    found: list[Topic] = []

    def add(topics: Iterable[Topic]) -> None:
        for topic in topics:
            if len(found) < limit and all(topic.id != t.id for t in found):
                found.append(topic)

    def short() -> bool:
        return len(found) < limit

    if not key:
        # Nothing typed yet (a select with min_query_length 0).
        add(session.scalars(_ranked(true(), [], limit)))
        return Suggestions(found, None)

    exact = find_topic(session, text)
    if exact is not None:
        add([exact])

    stem = _like_escape(_typing_stem(key))
    if short():
        add(session.scalars(_ranked(Topic.key.like(f"{stem}%", escape="\\"), [t.id for t in found], limit)))
    if short():
        # Word starts and other substrings in one scan, word starts first.
        word_start = Topic.key.like(f"% {stem}%", escape="\\")
        inside = Topic.key.like(f"%{stem}%", escape="\\")
        add(session.scalars(_ranked(inside, [t.id for t in found], limit, word_start.desc())))
    if short():
        prefix = _like_escape(key)
        builtin = [canonical for alias, canonical in _BUILTIN_KEYS.items() if alias.startswith(key)]
        via_db = Topic.id.in_(
            select(TopicAlias.topic_id).where(TopicAlias.key.like(f"{prefix}%", escape="\\"))
        )
        condition = via_db | Topic.key.in_(builtin) if builtin else via_db
        add(session.scalars(_ranked(condition, [t.id for t in found], limit)))
    return Suggestions(found, exact)


# -- catalogue upkeep (operators) --------------------------------------------------


def _require(session: Session, text: str) -> Topic:
    topic = find_topic(session, text)
    if topic is None:
        raise TopicError(f"No topic {_display(text)}; `infochat topics list` shows the catalogue.")
    return topic


def add_alias(session: Session, alias: str, target: str) -> Topic:
    """Make `alias` another spelling of the existing topic `target`; returns that topic.

    Re-running it is harmless. An alias in the database overrides a built-in one.
    """
    topic = _require(session, target)
    key = topic_key(alias)
    if not key:
        raise TopicError(f"{_display(alias)} needs at least one letter or digit.")
    if len(key) > MAX_KEY_LENGTH:
        raise TopicError(f"{_display(alias)} is too long for an alias.")
    if key == topic.key:
        return topic  # already the topic's own spelling
    own = session.scalars(select(Topic).where(Topic.key == key)).first()
    if own is not None:
        raise TopicError(
            f"{_display(alias)} is a topic of its own; to fold it into {_display(topic.name)} run "
            f"`infochat topics merge {_shell_quote(own.name)} {_shell_quote(topic.name)}`."
        )
    existing = session.get(TopicAlias, key)
    if existing is not None:
        if existing.topic_id == topic.id:
            return topic
        raise TopicError(f"{_display(alias)} already means {_display(existing.topic.name)}.")
    session.add(TopicAlias(key=key, topic_id=topic.id))
    session.flush()
    return topic


def _shell_quote(text: str) -> str:
    return text if re.fullmatch(r"[\w.+#-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def merge_topics(session: Session, source: str, target: str) -> Topic:
    """Fold topic `source` into `target`: people's links move, its spellings become aliases.

    Someone who listed both keeps one link. Returns the target topic.
    """
    src = _require(session, source)
    dst = _require(session, target)
    if src.id == dst.id:
        raise TopicError(
            f"{_display(source)} and {_display(target)} are already one topic, {_display(dst.name)}."
        )

    # Copy links that the target lacks (ON CONFLICT covers a profile saved
    # concurrently), then drop the source's.
    links = select(PersonTopic.person_id, PersonTopic.kind, literal(dst.id, Topic.id.type)).where(
        PersonTopic.topic_id == src.id
    )
    copy = insert_ignoring_duplicates(session, PersonTopic).from_select(
        ["person_id", "kind", "topic_id"], links
    )
    moved = list(session.scalars(select(PersonTopic.person_id).where(PersonTopic.topic_id == src.id)))
    session.execute(copy)
    session.execute(delete(PersonTopic).where(PersonTopic.topic_id == src.id))

    # Tables other features add later (requests, learnings…) that point at a topic
    # follow it too, instead of being cascaded away or blocking the delete.
    for table in Base.metadata.sorted_tables:
        if table.name in (PersonTopic.__tablename__, TopicAlias.__tablename__, expert_ranks.name):
            continue  # expert_ranks: recomputed for the people who moved, below
        for fk in table.foreign_keys:
            if fk.column.table.name == Topic.__tablename__:
                session.execute(update(table).where(fk.parent == src.id).values({fk.parent.name: dst.id}))

    session.execute(update(TopicAlias).where(TopicAlias.topic_id == src.id).values(topic_id=dst.id))
    source_key = src.key
    session.delete(src)
    session.flush()
    session.add(TopicAlias(key=source_key, topic_id=dst.id))
    session.flush()
    ranks.refresh(session, moved)  # the source's rows went with it; the target's are theirs now
    # Profiles loaded in this session still list the source's links.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Person):
            session.expire(obj, ["topics"])
    return dst
