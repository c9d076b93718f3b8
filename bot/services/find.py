"""Expert search for `/infochat find <topic>`: who can talk about it, best first.

Plain data in, plain data out; nothing here knows a Slack payload.

An *expert* is an available person (`profiles.available_clause`) who takes
chats (`chats_per_month > 0`) and speaks about (TopicKind.SPEAK) a matching
topic, or whose "ask me about" line matches the query. Matches, best first:

* exact: the topic the query names by key or alias (as `topics.find_topic` finds it);
* fuzzy: topics whose every query word is in the topic's words, allowing a
  typo or two in longer words ("kubernets", "learning machine", "machne
  lerning"), or whose spelling without spaces is almost the query's
  ("machinelearning", "postgre sql");
* ask: the same word rule applied to the free "ask me about" line.

Ranking: other functions before the searcher's own (which is hidden unless
asked for), then exact > fuzzy > ask, then more spare capacity this month,
then fewer chats in the last 90 days, so one popular expert is not flooded.
Capacity counts chats in the current *UTC* calendar month in which the
person was the expert or a peer.

Speed (p95 under 50 ms on SQLite with 10,000 experts; docs/performance.md):
the topic catalogue and a word index of "ask me about" lines are cached per
process and per database, refreshed when a one-row stamp query says they
changed; fuzzy matching runs in memory with rapidfuzz; then one SQL statement
(built once per shape) classifies, counts and ranks everyone who matches,
chat counts included (read from person_usage, bot/services/usage.py), and
returns the best MAX_HITS with their names and matching topics.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    all_,
    and_,
    any_,
    bindparam,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bot.models import (
    Chat,
    ChatParticipant,
    ChatRole,
    Person,
    PersonTopic,
    PersonUsage,
    Search,
    Topic,
    TopicAlias,
    TopicKind,
)
from bot.services import usage as _usage_service
from bot.services.profiles import available_clause
from bot.services.topics import BUILTIN_ALIASES, lookup_keys, pick_topic, topic_key

MAX_QUERY_LENGTH = 100
# Ranked hits kept (ten pages of five). Nobody pages further; keeping the list
# short bounds the detail query however popular a topic is. `total` has the rest.
MAX_HITS = 50
# Fuzzy topics searched for experts: a broad word ("data") can match hundreds.
MAX_FUZZY_TOPICS = 200
# People matched through "ask me about" considered at most.
MAX_ASK_PEOPLE = 2000
MAX_SUGGESTIONS = 5
RECENT = _usage_service.RECENT  # "recent chats": the last 90 days
# A whole-query spelling (spaces removed) this similar is a match: "machinelearning".
PHRASE_CUTOFF = 90
# Nearby topics offered when nothing matched (rapidfuzz WRatio, 0–100).
SUGGESTION_CUTOFF = 60

Match = Literal["exact", "fuzzy", "ask"]
_TIER: dict[str, int] = {"exact": 0, "fuzzy": 1, "ask": 2}

# Words that say nothing about a topic; dropped from the query's words when
# others remain, so "sales and marketing" does not need "and" in an ask line.
STOP_WORDS = frozenset(
    {"a", "an", "and", "or", "the", "of", "for", "in", "on", "to", "with", "at", "by", "about", "from"}
    | {"into", "my", "your", "how", "what"}
)


# canonical key -> the keys of its built-in aliases ("kubernete" -> ["k8s"]).
_BUILTIN_ALIAS_KEYS: dict[str, list[str]] = {}
for _alias, _name in BUILTIN_ALIASES.items():
    _BUILTIN_ALIAS_KEYS.setdefault(topic_key(_name), []).append(topic_key(_alias))


# A query's key and lookup keys, memoised: `topic_key` walks the text in Python
# and a search needs them three times; queries repeat (popular topics).
_query_key = lru_cache(maxsize=4096)(topic_key)


@lru_cache(maxsize=4096)
def _lookup_keys(text: str) -> tuple[str, ...]:
    return tuple(lookup_keys(text))


class QueryError(ValueError):
    """The query is empty or too long; `reason` is "empty" or "too_long"."""

    def __init__(self, reason: Literal["empty", "too_long"], message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ExpertHit:
    person_id: int
    slack_user_id: str
    name: str
    function: str | None
    title: str
    tz: str | None
    matching_topics: list[str]
    match: Match
    same_function: bool
    spare: int  # chats left this month
    recent_chats: int  # chats in the last 90 days, any role
    ask_me_about: str = ""  # shown when the match came from it


@dataclass(frozen=True)
class SearchResult:
    query: str
    topic: str | None  # the topic the query names exactly (key or alias)
    hits: list[ExpertHit]  # ranked, at most MAX_HITS
    hidden_paused: int = 0
    hidden_departed: int = 0
    hidden_at_capacity: int = 0
    # Matching people of the searcher's function left out (include_own_function=False).
    own_function_count: int = 0
    # Nearby topics with available experts, offered when there are no hits.
    suggestions: list[str] = field(default_factory=list)
    total: int = 0  # all hits before the MAX_HITS cut

    @property
    def hidden(self) -> int:
        return self.hidden_paused + self.hidden_departed + self.hidden_at_capacity


# -- query ------------------------------------------------------------------------


def normalise_query(query: str) -> str:
    """The query single-spaced; QueryError when it is empty or over MAX_QUERY_LENGTH."""
    text = " ".join(query.split())
    if not _query_key(text):
        raise QueryError("empty", "Tell me what to look for, e.g. `/infochat find kubernetes`.")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            "too_long",
            f"That's {len(text)} characters; a topic is a few words (at most {MAX_QUERY_LENGTH}).",
        )
    return text


def _content_words(key: str) -> list[str]:
    words = key.split()
    kept = [w for w in words if w not in STOP_WORDS]
    return kept or words


def _allowed_edits(length: int) -> int:
    # Short words are too alike to guess typos in ("sale"/"scale", "java"/"lava");
    # longer ones tolerate one edit, very long ones two (a transposition is one).
    if length <= 4:
        return 0
    if length <= 7:
        return 1
    return 2


class _WordIndex:
    """word -> ids of the things (topics, people) whose text has that word."""

    def __init__(self) -> None:
        self.postings: dict[str, set[int]] = {}
        self._vocab: list[str] | None = None

    def add(self, item: int, words: Iterable[str]) -> None:
        for word in words:
            self.postings.setdefault(word, set()).add(item)
        self._vocab = None

    def remove(self, item: int, words: Iterable[str]) -> None:
        for word in words:
            ids = self.postings.get(word)
            if ids is not None:
                ids.discard(item)
                if not ids:
                    del self.postings[word]
        self._vocab = None

    def similar(self, word: str) -> list[str]:
        """Indexed words equal to `word` or within its allowed typos."""
        limit = _allowed_edits(len(word))
        if limit == 0:
            return [word] if word in self.postings else []
        if self._vocab is None:
            self._vocab = list(self.postings)
        found = process.extract(word, self._vocab, scorer=OSA.distance, score_cutoff=limit, limit=None)
        return [w for w, dist, _ in found if dist <= _allowed_edits(min(len(word), len(w)))]

    def all_of(self, words: Sequence[str], cap: int | None = None) -> set[int]:
        """Ids having every word (each up to its typos); the rarest word goes first."""
        sets = []
        for word in words:
            ids: set[int] = set()
            for similar in self.similar(word):
                ids |= self.postings[similar]
            if not ids:
                return set()
            sets.append(ids)
        sets.sort(key=len)
        result = set(sets[0])
        for ids in sets[1:]:
            result &= ids
        if cap is not None and len(result) > cap:
            result = set(sorted(result)[:cap])
        return result

    def any_of(self, words: Sequence[str]) -> set[int]:
        ids: set[int] = set()
        for word in words:
            for similar in self.similar(word):
                ids |= self.postings[similar]
        return ids


# -- per-process caches ---------------------------------------------------------------


@dataclass(frozen=True)
class _Catalogue:
    """The topic catalogue as fuzzy matching needs it; replaced whole when topics change."""

    stamp: tuple[Any, ...]
    names: dict[int, str]
    keys: dict[int, str]
    compact: dict[int, str]  # key without spaces
    words: _WordIndex
    # query key -> [(topic id, WRatio)] of `_suggestions`' whole-query scan, which
    # costs ~2 ms at 2,000 topics. A search nobody can answer tends to be
    # repeated (HR's "wanted, nobody offers"), and the answer depends on the
    # catalogue alone, so it is kept with it; bounded, cleared when full.
    near: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


_ASCII_WORD = re.compile(r"[a-z0-9+#]+")


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    return topic_key(word)


def ask_words(text: str) -> frozenset[str]:
    """The words of an "ask me about" line, normalised exactly as topic keys are.

    `topic_key` walks every character in Python (~30 µs a line); ASCII lines, the
    usual case, take a regex path with the same result, so indexing 10,000 lines
    stays well under a second.
    """
    if text.isascii():
        lowered = text.lower().replace("'", "").replace("`", "")
        words = {_fold(w) for w in _ASCII_WORD.findall(lowered)}
    else:
        words = set(topic_key(text).split())
    return frozenset(w for w in words if w and w not in STOP_WORDS)


class _AskIndex:
    """Word index of everyone's "ask me about" line, updated incrementally.

    Reloading 10,000 lines after every profile save would cost a search tens of
    milliseconds, so only rows whose `updated_at` is at or after the last seen
    maximum (minus a margin for transactions that committed late) are re-read.
    A stale entry can only add a candidate, never show one: the SQL step checks
    every candidate's row, and a re-read replaces the entry.
    """

    MARGIN = timedelta(seconds=60)
    # Even when the stamp is unchanged, re-read the margin window this often: a
    # save whose transaction committed after a newer one would otherwise wait
    # for the next change to be seen.
    RECHECK_SECONDS = 30.0

    def __init__(self) -> None:
        self.index = _WordIndex()
        self.texts: dict[int, str] = {}
        self.stamp: tuple[Any, ...] | None = None
        self.max_updated: datetime | None = None
        self.checked_at = 0.0

    def needs_count(self) -> bool:
        """Whether the next stamp query should count the people.

        Counting them is a scan of `people` (the costliest part of a search's
        stamp, ~1 ms in PostgreSQL at 10,000 rows) and only tells of deleted
        rows, whose stale entries can only add a candidate that the SQL step
        drops. So it is counted when the index is first filled and then at each
        re-check; the newest `updated_at` (an index lookup) is read every time.
        """
        return self.stamp is None or time.monotonic() - self.checked_at > self.RECHECK_SECONDS

    def refresh(self, session: Session, count: int | None, max_updated: datetime | None) -> None:
        """Bring the index up to date; `count` None means the people were not counted this time."""
        if count is None:
            count = self.stamp[0] if self.stamp is not None else -1
        stamp = (count, max_updated)
        stale = time.monotonic() - self.checked_at > self.RECHECK_SECONDS
        if stamp == self.stamp and not stale:
            return
        full = (
            self.stamp is None
            or self.max_updated is None
            or max_updated is None
            or count < self.stamp[0]
            or max_updated < self.max_updated
        )
        stmt = select(Person.id, Person.ask_me_about)
        if full:
            self.index = _WordIndex()
            self.texts = {}
            stmt = stmt.where(Person.ask_me_about != "")
        else:
            assert self.max_updated is not None
            stmt = stmt.where(Person.updated_at >= self.max_updated - self.MARGIN)
        for person_id, text in session.execute(stmt):
            text = text or ""
            old = self.texts.get(person_id)
            if old == text:
                continue
            if old is not None:
                self.index.remove(person_id, ask_words(old))
            if text:
                self.texts[person_id] = text
                self.index.add(person_id, ask_words(text))
            else:
                self.texts.pop(person_id, None)
        self.stamp = stamp
        self.max_updated = max_updated
        self.checked_at = time.monotonic()


class _Cache:
    def __init__(self) -> None:
        # Searches run on several threads; the lock covers refresh and matching
        # (both in memory and short) so no one reads a half-updated index.
        self.lock = threading.Lock()
        self.catalogue: _Catalogue | None = None
        self.ask = _AskIndex()


_caches: dict[str, _Cache] = {}
_caches_lock = threading.Lock()


def _cache_for(session: Session) -> _Cache:
    # One cache per database: tests and the benchmark use several in one process.
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    with _caches_lock:
        return _caches.setdefault(url, _Cache())


def clear_caches() -> None:
    """Forget every cached catalogue and index (tests, benchmarks)."""
    with _caches_lock:
        _caches.clear()


def _stamps(session: Session, cache: _Cache, searcher_slack_id: str = "") -> Any:
    """One round trip telling whether topics or people changed since the caches were filled.

    Topics are only created or deleted (merged), never renamed, and ids and
    `created_at` grow, so count + max id + newest creation pins the catalogue
    even where SQLite reuses a deleted row's id. On PostgreSQL the count and the
    newest creation (a scan of `topics`) are read only with the people count;
    in between, the max id (see `_stamps_statement`). People are counted only when
    the ask index needs it (`_AskIndex.needs_count`; otherwise the count is
    None). The same row carries the searcher's id and function (None, None for
    someone without a profile): one round trip fewer for every search.
    """
    connection = session.connection()
    stmt = _STAMPS[cache.ask.needs_count(), connection.dialect.name == "postgresql"]
    return connection.execute(stmt, {"slack_user_id": searcher_slack_id}).one()


def _stamps_statement(count_people: bool, postgres: bool) -> Any:
    """(topics, max topic id, newest topic, people or None, newest person update, searcher id, function).

    One scan of `topics` for its three figures; the newest `updated_at` is an
    index lookup; the searcher, a unique-key lookup, is outer-joined so the row
    is there whoever searches.

    On PostgreSQL the row also turns JIT compilation off for the rest of the
    search's transaction (`set_config(..., true)` is `SET LOCAL`), without a
    round trip of its own. The ranking statement's per-person fallback counts
    (reached for almost nobody) inflate its estimated cost past
    `jit_above_cost` for a popular topic, and compiling it then costs ~60 ms
    where running it costs ~10.
    """
    t, p = Topic.__table__.c, Person.__table__.c
    if count_people or not postgres:
        topics = select(
            func.count().label("topics"),
            func.max(t.id).label("max_id"),
            func.max(t.created_at).label("newest"),
        ).subquery("topic_stamp")
    else:
        # Between re-checks on PostgreSQL, the newest id alone (an index lookup,
        # where counting scans every topic): ids come from a sequence and are
        # never reused, so it shows every topic created. A topic deleted (merged
        # away) is seen at the next re-check; until then its stale catalogue
        # entry can only add a fuzzy candidate topic that has no experts (its
        # links moved) and that suggestions never offer (they check the row).
        topics = select(
            null().label("topics"), func.max(t.id).label("max_id"), null().label("newest")
        ).subquery("topic_stamp")
    people = select(func.count()).select_from(Person.__table__).scalar_subquery() if count_people else null()
    me = Person.__table__.alias("searcher")
    return select(
        topics.c.topics,
        topics.c.max_id,
        topics.c.newest,
        people,
        select(func.max(p.updated_at)).scalar_subquery(),
        me.c.id,
        me.c.function,
        *([func.set_config("jit", "off", True)] if postgres else []),
    ).select_from(topics.outerjoin(me, me.c.slack_user_id == bindparam("slack_user_id")))


# Statements every search runs, built once: constructing them costs about as
# much as running them. (Core on the tables: no ORM row objects to build.)
_STAMPS = {
    (counting, postgres): _stamps_statement(counting, postgres)
    for counting in (False, True)
    for postgres in (False, True)
}


class _Topic(NamedTuple):
    id: int
    name: str
    key: str


_BY_KEY, _BY_ALIAS, _ALIAS_OF = range(3)


@lru_cache(maxsize=2)
def _exact_statement(postgres: bool) -> Any:
    """Topics named by `keys` directly or through a database alias, and every alias of those topics.

    What `topics.find_topic` reads in up to two queries, plus the aliases a search
    adds to its spellings, in one round trip. Rows: (via, alias or key, id, name, key).
    On PostgreSQL `keys` is one array parameter (see `_one_of`), so the text is constant.
    """
    t, a = Topic.__table__.c, TopicAlias.__table__.c
    alias = TopicAlias.__table__.alias("spelling")

    def named_by(column: Any) -> Any:
        return _one_of(column, "keys", String, postgres)

    named = union_all(
        select(t.id).where(named_by(t.key)), select(a.topic_id).where(named_by(a.key))
    ).scalar_subquery()
    return union_all(
        select(_n(_BY_KEY).label("via"), t.key.label("spelling"), t.id, t.name, t.key).where(named_by(t.key)),
        select(_n(_BY_ALIAS), a.key, t.id, t.name, t.key)
        .join_from(TopicAlias.__table__, Topic.__table__, a.topic_id == t.id)
        .where(named_by(a.key)),
        select(_n(_ALIAS_OF), alias.c.key, alias.c.topic_id, literal(""), literal("")).where(
            alias.c.topic_id.in_(named)
        ),
    )


def _find_exact(session: Session, text: str) -> tuple[_Topic | None, list[str]]:
    """The topic `text` names, with `topics.find_topic`'s precedence, and that topic's database aliases."""
    keys = _lookup_keys(text)
    if not keys:
        return None, []
    connection = session.connection()
    by_key: dict[str, _Topic] = {}
    by_alias: dict[str, _Topic] = {}
    aliases_of: dict[int, list[str]] = {}
    for via, spelling, topic_id, name, key in connection.execute(
        _exact_statement(connection.dialect.name == "postgresql"), {"keys": list(keys)}
    ):
        if via == _ALIAS_OF:
            aliases_of.setdefault(topic_id, []).append(spelling)
        else:
            (by_key if via == _BY_KEY else by_alias)[spelling] = _Topic(topic_id, name, key)
    exact = pick_topic(list(keys), by_key, by_alias)
    return exact, (aliases_of.get(exact.id, []) if exact is not None else [])


def _load_catalogue(session: Session) -> _Catalogue:
    """The catalogue, stamped with (count, max id, newest creation) of the rows it was read from."""
    names: dict[int, str] = {}
    keys: dict[int, str] = {}
    compact: dict[int, str] = {}
    words = _WordIndex()
    newest: datetime | None = None
    for topic_id, name, key, created in session.execute(
        select(Topic.id, Topic.name, Topic.key, Topic.created_at)
    ):
        names[topic_id] = name
        keys[topic_id] = key
        compact[topic_id] = key.replace(" ", "")
        words.add(topic_id, key.split())
        if newest is None or (created is not None and created > newest):
            newest = created
    stamp = (len(names), max(names, default=None), newest)
    return _Catalogue(stamp, names, keys, compact, words)


def _refresh(session: Session, cache: _Cache, stamps: Any) -> _Catalogue:
    """Bring the caches up to date with `stamps`; call with `cache.lock` held."""
    topics, max_id, newest, people, max_updated = stamps[:5]
    current = cache.catalogue
    if topics is None:  # PostgreSQL between re-checks: the newest id only (`_stamps_statement`)
        fresh = current is not None and current.stamp[1] == max_id
    else:
        fresh = current is not None and current.stamp == (topics, max_id, newest)
    if not fresh:
        cache.catalogue = _load_catalogue(session)
    cache.ask.refresh(session, people, max_updated)
    return cache.catalogue


def warm_caches(session: Session) -> None:
    """Fill this process's caches now, so the first search does not pay for it (~50–80 ms)."""
    cache = _cache_for(session)
    stamps = _stamps(session, cache)
    with cache.lock:
        _refresh(session, cache, stamps)


# -- matching ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Matches:
    exact_id: int | None
    fuzzy: dict[int, float]  # topic id -> similarity, for ordering a person's topics
    ask_people: set[int]


def _match(cache: _Cache, catalogue: _Catalogue, keys: list[str], exact_id: int | None) -> _Matches:
    fuzzy: set[int] = set()
    ask_people: set[int] = set()
    for key in keys:
        words = _content_words(key)
        fuzzy |= catalogue.words.all_of(words)
        spaced = key.replace(" ", "")
        for _, _, topic_id in process.extract(
            spaced, catalogue.compact, scorer=fuzz.ratio, score_cutoff=PHRASE_CUTOFF, limit=None
        ):
            fuzzy.add(topic_id)
        ask_people |= cache.ask.index.all_of(words, cap=MAX_ASK_PEOPLE)
    if exact_id is not None:
        fuzzy.discard(exact_id)
    scored: dict[int, float] = {}
    if fuzzy:
        # Closest spellings first; only the best MAX_FUZZY_TOPICS are searched.
        choices = {topic_id: catalogue.keys[topic_id] for topic_id in fuzzy}
        for _, score, topic_id in process.extract(
            keys[0], choices, scorer=fuzz.token_sort_ratio, limit=MAX_FUZZY_TOPICS
        ):
            scored[topic_id] = score
    return _Matches(exact_id, scored, ask_people)


# -- the search ------------------------------------------------------------------------


_people = Person.__table__
_links = PersonTopic.__table__
_chats = Chat.__table__
_participants = ChatParticipant.__table__
_usage = PersonUsage.__table__


def _one_of(column: Any, name: str, item: Any, postgres: bool) -> Any:
    """`column IN (:name…)`; on PostgreSQL `column = ANY(:name)`, one array parameter.

    An expanding IN is rendered into the SQL at every execution with one
    parameter per item (up to MAX_ASK_PEOPLE of them), so the statement's text
    changes with the list's length: SQLAlchemy renders it, PostgreSQL parses
    it and psycopg can never prepare it. With an array the text is constant.
    Same rows: the lists hold no NULLs, and an empty list matches nothing.
    """
    if postgres:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(item)))
    return column.in_(bindparam(name, expanding=True))


def _none_of(column: Any, name: str, item: Any, postgres: bool) -> Any:
    """`column NOT IN (:name…)`; on PostgreSQL `column <> ALL(:name)` (see `_one_of`)."""
    if postgres:
        return column != all_(bindparam(name, type_=postgresql.ARRAY(item)))
    return column.not_in(bindparam(name, expanding=True))


def _n(value: int) -> Any:
    """An integer written into the SQL rather than bound: the ranking statement's
    constants would otherwise be ~30 parameters to convert on every run, and
    its text would pass psycopg's 4,096-character limit for caching the
    conversion of its placeholders (~0.6 ms of Python per search when it did)."""
    return literal_column(str(int(value)), Integer)


def _listed(postgres: bool) -> Any:
    """Who may appear in results or in the hidden counts.

    `available_clause` without its pause and leave conditions: paused and
    departed experts are fetched so they can be counted as hidden. The
    deactivated, bots, guests and those who never joined are not experts at all.
    The searcher and the `excluded` ids are left out entirely.
    """
    p = _people.c
    return and_(
        p.is_deleted == false(),
        p.is_bot == false(),
        p.is_restricted == false(),
        p.is_ultra_restricted == false(),
        p.joined_at.is_not(None),
        p.chats_per_month > _n(0),
        _none_of(p.slack_user_id, "excluded", String, postgres),
    )


def _next_month(start: datetime) -> datetime:
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


# Why a matching person is not listed; SHOWN sorts first.
SHOWN, DEPARTED, PAUSED, AT_CAPACITY, OWN_FUNCTION = range(5)


@dataclass(frozen=True)
class _Candidate:
    person_id: int
    function: str | None
    tier: int
    same_function: bool
    spare: int  # chats left this UTC month
    recent: int  # chats in any role in the last 90 days
    # What a hit shows, read by the same statement.
    slack_user_id: str = ""
    name: str = ""
    title: str = ""
    tz: str | None = None
    ask_me_about: str = ""
    topic_ids: tuple[int, ...] = ()  # the matched topics they speak about


@dataclass(frozen=True)
class _Ranked:
    top: list[_Candidate]  # the best MAX_HITS shown ones
    counts: dict[int, int]  # SHOWN/DEPARTED/… -> how many


@lru_cache(maxsize=32)
def _rank_statement(has_exact: bool, has_topics: bool, has_ask: bool, hide_own: bool, postgres: bool) -> Any:
    """The ranking statement for one shape of search, built once.

    Building this statement costs more than running it for a small topic
    (~3 ms of SQLAlchemy construction), so each of its few shapes is built once
    and run with bound parameters: exact_id, topic_ids, ask_ids, excluded,
    my_function and the instants now, month_first, month_next and since.

    A popular topic can have thousands of experts. Fetching them all to rank in
    Python cost more than the query itself, so the database does it: the
    matched people are a CTE, their chat counts are read from person_usage
    (counted from chats only where a row does not answer), each is given a
    status (shown, departed, paused, at capacity, own function), window sums
    count every status, and only the first MAX_HITS rows come back, joined to
    what a hit shows of each person (so no second query is needed for the
    details, and the window keeps narrow rows).
    """
    t, p, cp, c = _links.c, _people.c, _participants.c, _chats.c
    parts: list[Any] = []
    if has_topics:
        tier = (
            case((t.topic_id == bindparam("exact_id"), _n(_TIER["exact"])), else_=_n(_TIER["fuzzy"]))
            if has_exact
            else _n(_TIER["fuzzy"])
        )
        parts.append(
            select(t.person_id.label("person_id"), tier.label("tier")).where(
                t.kind == TopicKind.SPEAK, _one_of(t.topic_id, "topic_ids", BigInteger, postgres)
            )
        )
    if has_ask:
        parts.append(
            select(p.id.label("person_id"), _n(_TIER["ask"]).label("tier")).where(
                _one_of(p.id, "ask_ids", BigInteger, postgres)
            )
        )
    matched = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("matched")
    cand = (
        select(matched.c.person_id, func.min(matched.c.tier).label("tier"))
        .group_by(matched.c.person_id)
        .cte("cand")
    )
    # Chat counts come from person_usage by primary key (bot/services/usage.py
    # says when a row answers); only where it does not are the person's chats
    # counted here, in a correlated subquery that CASE reaches for them alone.
    u = _usage.c
    month_first, month_next, since = bindparam("month_first"), bindparam("month_next"), bindparam("since")
    counted_used = (
        select(func.count())
        .select_from(_participants.join(_chats, c.id == cp.chat_id))
        .where(
            cp.person_id == p.id,
            cp.role.in_([literal_column(f"'{role.value}'") for role in (ChatRole.EXPERT, ChatRole.PEER)]),
            c.created_at >= month_first,
            c.created_at < month_next,
        )
        .scalar_subquery()
    )
    counted_recent = (
        select(func.count())
        .select_from(_participants.join(_chats, c.id == cp.chat_id))
        .where(cp.person_id == p.id, c.created_at >= since)
        .scalar_subquery()
    )
    used = case(
        (or_(u.month.is_(None), u.month < month_first), _n(0)),
        (u.month == month_first, u.month_chats),
        else_=counted_used,
    )
    recent = case(
        (u.person_id.is_(None), _n(0)),
        (
            and_(
                or_(u.recent_before.is_(None), u.recent_before < since),
                or_(u.recent_oldest.is_(None), u.recent_oldest >= since),
            ),
            u.recent,
        ),
        else_=counted_recent,
    )
    # Narrow rows for all candidates (the window sums keep every row in
    # memory); what a hit shows is joined for the best MAX_HITS only.
    base = (
        select(
            p.id.label("id"),
            p.function.label("function"),
            p.left_at.label("left_at"),
            p.paused_until.label("paused_until"),
            p.chats_per_month.label("chats_per_month"),
            cand.c.tier.label("tier"),
            used.label("used"),
            recent.label("recent"),
        )
        .select_from(cand.join(_people, p.id == cand.c.person_id))
        .outerjoin(_usage, u.person_id == p.id)
        .where(_listed(postgres))
        # OFFSET 0 keeps PostgreSQL from pulling this subquery up into the
        # next one, which would copy `used` (and its subquery) into each
        # expression that reads it: each figure is computed once per person.
        .offset(_n(0))
        .subquery("base")
    )
    b = base.c
    spare = b.chats_per_month - b.used
    same = case((b.function == bindparam("my_function"), _n(1)), else_=_n(0))
    whens: list[Any] = [
        (b.left_at.is_not(None), _n(DEPARTED)),
        (b.paused_until > bindparam("now"), _n(PAUSED)),
        (spare <= _n(0), _n(AT_CAPACITY)),
    ]
    if hide_own:
        whens.append((b.function == bindparam("my_function"), _n(OWN_FUNCTION)))
    rows = select(
        b.id.label("id"),
        b.function.label("function"),
        b.tier.label("tier"),
        same.label("same"),
        spare.label("spare"),
        b.recent.label("recent"),
        case(*whens, else_=_n(SHOWN)).label("status"),
    ).subquery("rows")
    r = rows.c
    per_status = [
        func.sum(case((r.status == _n(code), _n(1)), else_=_n(0))).over().label(f"n{code}")
        for code in range(5)
    ]
    top = (
        select(r.id, r.function, r.tier, r.same, r.spare, r.recent, r.status, *per_status)
        .order_by(r.status, r.same, r.tier, r.spare.desc(), r.recent, r.id)
        .limit(_n(MAX_HITS))
        .subquery("top")
    )
    t2 = top.c
    # The matched topics each of these people speaks about, as "id,id,…"
    # (read here rather than in a query of its own: one round trip fewer).
    if has_topics:
        spoken = _links.alias("spoken")
        ids = spoken.c.topic_id
        topics = (
            select(func.string_agg(cast(ids, String), ",") if postgres else func.group_concat(ids))
            .where(
                spoken.c.person_id == t2.id,
                spoken.c.kind == TopicKind.SPEAK,
                _one_of(ids, "topic_ids", BigInteger, postgres),
            )
            .scalar_subquery()
        )
    else:
        topics = null()
    return (
        select(
            t2.id,
            t2.function,
            t2.tier,
            t2.same,
            t2.spare,
            t2.recent,
            t2.status,
            *(t2[f"n{code}"] for code in range(5)),
            p.slack_user_id,
            p.real_name,
            p.name,
            p.title,
            p.tz,
            p.ask_me_about,
            topics.label("topics"),
        )
        .join_from(top, _people, p.id == t2.id)
        .order_by(t2.status, t2.same, t2.tier, t2.spare.desc(), t2.recent, t2.id)
    )


def _rank(
    session: Session,
    matches: _Matches,
    excluded: Collection[str],
    now: datetime,
    my_function: str | None,
    include_own_function: bool,
) -> _Ranked:
    """Everyone matching, classified, counted and ranked in one statement; the best MAX_HITS."""
    topic_ids = list(matches.fuzzy)
    if matches.exact_id is not None:
        topic_ids.append(matches.exact_id)
    if not topic_ids and not matches.ask_people:
        return _Ranked([], {})
    stmt = _rank_statement(
        matches.exact_id is not None,
        bool(topic_ids),
        bool(matches.ask_people),
        my_function is not None and not include_own_function,
        session.get_bind().dialect.name == "postgresql",
    )
    first = _usage_service.month_start(now)
    params: dict[str, Any] = {
        "exact_id": matches.exact_id,
        "topic_ids": topic_ids,
        "ask_ids": sorted(matches.ask_people),
        "excluded": sorted(excluded),
        # NULL never equals a function: without one, nobody is "same function".
        "my_function": my_function,
        "now": now,
        "month_first": first,
        "month_next": _next_month(first),
        "since": now - RECENT,
    }
    top: list[_Candidate] = []
    counts: dict[int, int] = {}
    # Plain tuples, unpacked by position: named access on 50 rows is measurable.
    for row in session.connection().execute(stmt, params):
        (id_, function, tier, same, spare, recent, status, *per_status) = row[:12]
        if not counts:  # the window sums are the same on every row
            counts = {code: int(n or 0) for code, n in enumerate(per_status)}
        if status != SHOWN:
            continue
        slack_user_id, real_name, name, title, tz, ask_me_about, topics = row[12:]
        top.append(
            _Candidate(
                id_,
                function,
                tier,
                bool(same),
                int(spare),
                int(recent),
                slack_user_id,
                real_name or name or slack_user_id,
                title or "",
                tz,
                ask_me_about or "",
                tuple(int(t) for t in str(topics).split(",")) if topics else (),
            )
        )
    return _Ranked(top, counts)


def _suggestions(
    session: Session,
    catalogue: _Catalogue,
    keys: list[str],
    skip: Collection[int],
    now: datetime,
    excluded: Collection[str],
) -> list[str]:
    """Nearby topics (sharing a word, or similar as a whole) that have an available expert."""
    scores: dict[int, float] = {}
    for key in keys:
        for topic_id in catalogue.words.any_of(_content_words(key)):
            score = fuzz.token_set_ratio(key, catalogue.keys[topic_id])
            scores[topic_id] = max(scores.get(topic_id, 0), score)
        for topic_id, score in _near(catalogue, key):
            scores[topic_id] = max(scores.get(topic_id, 0), score)
    for topic_id in skip:
        scores.pop(topic_id, None)
    if not scores:
        return []
    ranked = sorted(scores, key=lambda t: (-scores[t], catalogue.names[t].casefold()))[:50]
    connection = session.connection()
    stmt = _offered_statement(connection.dialect.name == "postgresql")
    params = {"topic_ids": ranked, "now": now, "excluded": sorted(excluded)}
    offered = set(connection.execute(stmt, params).scalars())
    return [catalogue.names[t] for t in ranked if t in offered][:MAX_SUGGESTIONS]


NEAR_MEMO = 1024


def _near(catalogue: _Catalogue, key: str) -> list[tuple[int, float]]:
    """Topics whose key is similar to `key` as a whole (WRatio >= SUGGESTION_CUTOFF), the best 30."""
    found = catalogue.near.get(key)
    if found is None:
        found = [
            (topic_id, score)
            for _, score, topic_id in process.extract(
                key, catalogue.keys, scorer=fuzz.WRatio, score_cutoff=SUGGESTION_CUTOFF, limit=30
            )
        ]
        if len(catalogue.near) >= NEAR_MEMO:
            catalogue.near.clear()
        catalogue.near[key] = found
    return found


@lru_cache(maxsize=2)
def _offered_statement(postgres: bool) -> Any:
    """Which of `topic_ids` an available expert (not `excluded`) speaks about.

    One EXISTS per topic, which stops at the first such expert, rather than
    joining every link of the (often popular) nearby topics; built once, run
    with bound topic_ids, now and excluded.
    """
    t, links, p = Topic.__table__.c, _links.c, _people.c
    now = bindparam("now", type_=Person.__table__.c.paused_until.type)
    expert = (
        select(literal(1))
        .select_from(_links.join(_people, p.id == links.person_id))
        .where(
            links.topic_id == t.id,
            links.kind == TopicKind.SPEAK,
            available_clause(now),  # type: ignore[arg-type]  # a bound instant, not a datetime
            p.chats_per_month > 0,
            _none_of(p.slack_user_id, "excluded", String, postgres),
        )
        .exists()
    )
    return select(t.id).where(_one_of(t.id, "topic_ids", BigInteger, postgres), expert)


_RECORD = insert(Search.__table__)


def _hits(top: list[_Candidate], matches: _Matches, names: dict[int, str]) -> list[ExpertHit]:
    """The page-worthy few, with the details and matching topics shown for each."""

    def topic_order(topic_id: int) -> tuple[int, float, str]:
        # The exact topic first, then the closest spellings.
        if topic_id == matches.exact_id:
            return (0, 0.0, "")
        return (1, -matches.fuzzy.get(topic_id, 0.0), names.get(topic_id, "").casefold())

    hits: list[ExpertHit] = []
    for cand in top:
        match: Match = (
            "exact" if cand.tier == _TIER["exact"] else "fuzzy" if cand.tier == _TIER["fuzzy"] else "ask"
        )
        topic_list = sorted(cand.topic_ids, key=topic_order)
        hits.append(
            ExpertHit(
                person_id=cand.person_id,
                slack_user_id=cand.slack_user_id,
                name=cand.name,
                function=cand.function,
                title=cand.title,
                tz=cand.tz,
                matching_topics=[names[topic_id] for topic_id in topic_list if topic_id in names],
                match=match,
                same_function=cand.same_function,
                spare=cand.spare,
                recent_chats=cand.recent,
                ask_me_about=cand.ask_me_about if match == "ask" else "",
            )
        )
    return hits


def find_experts(
    session: Session,
    query: str,
    searcher_slack_id: str,
    now: datetime,
    *,
    include_own_function: bool = False,
    exclude_slack_ids: Iterable[str] = (),
    record: bool = True,
) -> SearchResult:
    """Experts on `query` for `searcher_slack_id`, ranked (see the module docstring).

    Never lists the searcher or `exclude_slack_ids` (the decline flow's "two
    other experts"); paused, departed and at-capacity experts are counted, not
    listed. With `record`, stores a `Search` row (what HR's "wanted, nobody
    offers" report reads); paging re-runs pass record=False. Raises QueryError
    for an empty or over-long query, before touching the database.
    """
    text = normalise_query(query)
    cache = _cache_for(session)
    # The stamp query runs outside the lock: concurrent searches only queue for
    # the in-memory matching (well under a millisecond) and for rare reloads.
    stamps = _stamps(session, cache, searcher_slack_id)
    searcher_id, my_function = stamps[5], stamps[6]
    excluded = {searcher_slack_id, *exclude_slack_ids}

    exact, aliases = _find_exact(session, text)
    keys = [_query_key(text)]
    if exact is not None:
        # Every spelling of the exact topic counts: "k8s" also finds "Kubernetes
        # at scale", and "kubernetes" an ask line saying "k8s".
        spellings = [exact.key, *_BUILTIN_ALIAS_KEYS.get(exact.key, []), *aliases]
        keys += [k for k in dict.fromkeys(spellings) if k not in keys]
    with cache.lock:
        catalogue = _refresh(session, cache, stamps)
        matches = _match(cache, catalogue, keys, exact.id if exact is not None else None)
    names = catalogue.names  # read only; copied (2,000 entries and more) only when patched
    if exact is not None and names.get(exact.id) != exact.name:
        names = {**names, exact.id: exact.name}  # created after the catalogue was read

    ranked = _rank(session, matches, excluded, now, my_function, include_own_function)
    hits = _hits(ranked.top, matches, names)
    total = ranked.counts.get(SHOWN, 0)
    suggestions: list[str] = []
    if not hits:
        skip = [*matches.fuzzy, *([matches.exact_id] if matches.exact_id is not None else [])]
        suggestions = _suggestions(session, catalogue, keys, skip, now, excluded)

    if record:
        # Core, not an ORM object: nothing reads the row back, and the unit of
        # work's flush machinery costs more than the INSERT itself.
        session.connection().execute(
            _RECORD,
            {
                "person_id": searcher_id,
                "query": text[:MAX_QUERY_LENGTH],
                "topic_id": exact.id if exact is not None else None,
                "results": total,
                "created_at": now,
            },
        )
    return SearchResult(
        query=text,
        topic=exact.name if exact is not None else None,
        hits=hits,
        hidden_paused=ranked.counts.get(PAUSED, 0),
        hidden_departed=ranked.counts.get(DEPARTED, 0),
        hidden_at_capacity=ranked.counts.get(AT_CAPACITY, 0),
        own_function_count=ranked.counts.get(OWN_FUNCTION, 0),
        suggestions=suggestions,
        total=total,
    )
