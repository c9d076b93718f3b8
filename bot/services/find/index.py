"""What a search keeps in memory, per process and per database: the topic catalogue and
a word index of everyone's "ask me about" line, and the fuzzy matching over them.

Both are refreshed when a one-row stamp query (the first statement of every
search) says that topics or people changed; the stamp row also carries the
searcher's id and function. rapidfuzz matches the query's words against the
indexed words (OSA distance: none for words of <= 4 letters, 1 up to 7, 2
beyond) and the space-free spelling of the whole query against every key.

Roughly how many experts each topic has (`Cache.sizes`, recounted every few
minutes) is kept too: it only picks the topic a search reads from the
precomputed ranking.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from sqlalchemy import String, bindparam, cast, func, null, select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.models import Person, Topic
from bot.models_ranks import expert_ranks
from bot.services import expert_ranks as ranks_service
from bot.services.find.query import allowed_edits, ask_words, content_words

# Fuzzy topics searched for experts: a broad word ("data") can match hundreds.
MAX_FUZZY_TOPICS = 200
# People matched through "ask me about" considered at most.
MAX_ASK_PEOPLE = 2000
# A whole-query spelling (spaces removed) this similar is a match: "machinelearning".
PHRASE_CUTOFF = 90
# Nearby topics offered when nothing matched (rapidfuzz WRatio, 0–100).
SUGGESTION_CUTOFF = 60
# Whole-query similarity scans remembered per catalogue.
NEAR_MEMO = 1024
# More people than this whose precomputed ranking rows do not hold at a search's
# instant (the first minutes of a month, before the hourly job): that search ranks
# everyone live, as before the rows existed (bot/services/find/ranking.py).
MAX_STALE = 2000


class WordIndex:
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
        limit = allowed_edits(len(word))
        if limit == 0:
            return [word] if word in self.postings else []
        if self._vocab is None:
            self._vocab = list(self.postings)
        found = process.extract(word, self._vocab, scorer=OSA.distance, score_cutoff=limit, limit=None)
        return [w for w, dist, _ in found if dist <= allowed_edits(min(len(word), len(w)))]

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
class Catalogue:
    """The topic catalogue as fuzzy matching needs it; replaced whole when topics change."""

    stamp: tuple[Any, ...]
    names: dict[int, str]
    keys: dict[int, str]
    compact: dict[int, str]  # key without spaces
    words: WordIndex
    # query key -> [(topic id, WRatio)] of `_suggestions`' whole-query scan, which
    # costs ~2 ms at 2,000 topics. A search nobody can answer tends to be
    # repeated (HR's "wanted, nobody offers"), and the answer depends on the
    # catalogue alone, so it is kept with it; bounded, cleared when full.
    near: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


class AskIndex:
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
        self.index = WordIndex()
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
            self.index = WordIndex()
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


class Cache:
    def __init__(self) -> None:
        # Searches run on several threads; the lock covers refresh and matching
        # (both in memory and short) so no one reads a half-updated index.
        self.lock = threading.Lock()
        self.catalogue: Catalogue | None = None
        self.ask = AskIndex()
        # Topic id -> its rows in expert_ranks, as of `sizes_at` (time.monotonic()).
        self.sizes: dict[int, int] = {}
        self.sizes_at: float | None = None


# How often the topics' sizes are recounted. They only choose which matched topic
# a search reads from the precomputed ranking (the largest); results do not depend
# on them, so a few minutes' drift costs at most speed. ~15 ms at 50,000 people.
SIZES_SECONDS = 300.0


def _refresh_sizes(session: Session, cache: Cache) -> None:
    now = time.monotonic()
    if cache.sizes_at is not None and now - cache.sizes_at < SIZES_SECONDS:
        return
    r = expert_ranks.c
    stmt = select(r.topic_id, func.count()).group_by(r.topic_id)
    cache.sizes = {topic_id: n for topic_id, n in session.connection().execute(stmt)}
    cache.sizes_at = now


_caches: dict[str, Cache] = {}
_caches_lock = threading.Lock()


def cache_for(session: Session) -> Cache:
    # One cache per database: tests and the benchmark use several in one process.
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    with _caches_lock:
        return _caches.setdefault(url, Cache())


def clear_caches() -> None:
    """Forget every cached catalogue and index (tests, benchmarks)."""
    with _caches_lock:
        _caches.clear()


def read_stamps(
    session: Session, cache: Cache, searcher_slack_id: str = "", now: datetime | None = None
) -> Any:
    """One round trip telling whether topics or people changed since the caches were filled.

    Topics are only created or deleted (merged), never renamed, and ids and
    `created_at` grow, so count + max id + newest creation pins the catalogue
    even where SQLite reuses a deleted row's id. On PostgreSQL the count and the
    newest creation (a scan of `topics`) are read only with the people count;
    in between, the max id (see `_stamps_statement`). People are counted only when
    the ask index needs it (`AskIndex.needs_count`; otherwise the count is
    None). The same row carries the searcher's id and function (None, None for
    someone without a profile): one round trip fewer for every search. So do the
    people whose precomputed ranking rows do not hold at `now` (a string of ids,
    at most MAX_STALE + 1 of them; see bot/services/find/ranking.py).
    """
    connection = session.connection()
    stmt = _STAMPS[cache.ask.needs_count(), connection.dialect.name == "postgresql"]
    params = {"slack_user_id": searcher_slack_id, "now": now or utcnow()}
    return connection.execute(stmt, params).one()


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
    where running it costs ~10. It also sets `random_page_cost` to 1.1 for
    the transaction: what a search reads is in memory, and at the default
    4.0 PostgreSQL scanned all of person_ranks (45,000 rows at 50,000
    people) to hash-join a few hundred candidates instead of probing them.
    (At 1.1 it still did for some candidate counts, ~7 ms a search: the
    ranking no longer joins person_ranks there, see ranking.py's `_held`.)
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
    stale = ranks_service.stale_statement().limit(MAX_STALE + 1).subquery("stale")
    ids = cast(stale.c.person_id, String)
    stale_ids = select(func.string_agg(ids, ",") if postgres else func.group_concat(ids)).scalar_subquery()
    return select(
        topics.c.topics,
        topics.c.max_id,
        topics.c.newest,
        people,
        select(func.max(p.updated_at)).scalar_subquery(),
        me.c.id,
        me.c.function,
        stale_ids,
        *(
            [func.set_config("jit", "off", True), func.set_config("random_page_cost", "1.1", True)]
            if postgres
            else []
        ),
    ).select_from(topics.outerjoin(me, me.c.slack_user_id == bindparam("slack_user_id")))


# Statements every search runs, built once: constructing them costs about as
# much as running them. (Core on the tables: no ORM row objects to build.)
_STAMPS = {
    (counting, postgres): _stamps_statement(counting, postgres)
    for counting in (False, True)
    for postgres in (False, True)
}


def load_catalogue(session: Session) -> Catalogue:
    """The catalogue, stamped with (count, max id, newest creation) of the rows it was read from."""
    names: dict[int, str] = {}
    keys: dict[int, str] = {}
    compact: dict[int, str] = {}
    words = WordIndex()
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
    return Catalogue(stamp, names, keys, compact, words)


def refresh(session: Session, cache: Cache, stamps: Any) -> Catalogue:
    """Bring the caches up to date with `stamps`; call with `cache.lock` held."""
    topics, max_id, newest, people, max_updated = stamps[:5]
    current = cache.catalogue
    if topics is None:  # PostgreSQL between re-checks: the newest id only (`_stamps_statement`)
        fresh = current is not None and current.stamp[1] == max_id
    else:
        fresh = current is not None and current.stamp == (topics, max_id, newest)
    if not fresh:
        cache.catalogue = load_catalogue(session)
    cache.ask.refresh(session, people, max_updated)
    _refresh_sizes(session, cache)
    return cache.catalogue


def warm_caches(session: Session) -> None:
    """Fill this process's caches now, so the first search does not pay for it (~50–80 ms)."""
    cache = cache_for(session)
    stamps = read_stamps(session, cache)
    with cache.lock:
        refresh(session, cache, stamps)


# -- matching ------------------------------------------------------------------------


@dataclass(frozen=True)
class Matches:
    exact_id: int | None
    fuzzy: dict[int, float]  # topic id -> similarity, for ordering a person's topics
    ask_people: set[int]
    sizes: dict[int, int] = field(default_factory=dict)  # topic id -> experts, roughly (Cache.sizes)


def match_query(cache: Cache, catalogue: Catalogue, keys: list[str], exact_id: int | None) -> Matches:
    fuzzy: set[int] = set()
    ask_people: set[int] = set()
    for key in keys:
        words = content_words(key)
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
    return Matches(exact_id, scored, ask_people, cache.sizes)


def near_topics(catalogue: Catalogue, key: str) -> list[tuple[int, float]]:
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
