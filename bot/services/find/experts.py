"""`find_experts`: the search itself, from the query text to a SearchResult (see the package docstring)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from rapidfuzz import fuzz
from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.models import Search
from bot.services.find import index, ranking
from bot.services.find.query import MAX_QUERY_LENGTH, content_words, normalise_query, query_key
from bot.services.find.ranking import AT_CAPACITY, DEPARTED, OWN_FUNCTION, PAUSED, SHOWN
from bot.services.topics import NamedTopic, lookup_topic

MAX_SUGGESTIONS = 5

Match = Literal["exact", "fuzzy", "ask"]
_MATCH_OF_TIER: dict[int, Match] = {ranking.EXACT: "exact", ranking.FUZZY: "fuzzy", ranking.ASK: "ask"}


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


def _hits(top: list[ranking.Candidate], matches: index.Matches, names: dict[int, str]) -> list[ExpertHit]:
    """The page-worthy few, with the details and matching topics shown for each."""

    def topic_order(topic_id: int) -> tuple[int, float, str]:
        # The exact topic first, then the closest spellings.
        if topic_id == matches.exact_id:
            return (0, 0.0, "")
        return (1, -matches.fuzzy.get(topic_id, 0.0), names.get(topic_id, "").casefold())

    hits: list[ExpertHit] = []
    for cand in top:
        match = _MATCH_OF_TIER[cand.tier]
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


def _suggestions(
    session: Session,
    catalogue: index.Catalogue,
    keys: list[str],
    skip: Collection[int],
    now: datetime,
    excluded: Collection[str],
) -> list[str]:
    """Nearby topics (sharing a word, or similar as a whole) that have an available expert."""
    scores: dict[int, float] = {}
    for key in keys:
        for topic_id in catalogue.words.any_of(content_words(key)):
            score = fuzz.token_set_ratio(key, catalogue.keys[topic_id])
            scores[topic_id] = max(scores.get(topic_id, 0), score)
        for topic_id, score in index.near_topics(catalogue, key):
            scores[topic_id] = max(scores.get(topic_id, 0), score)
    for topic_id in skip:
        scores.pop(topic_id, None)
    if not scores:
        return []
    ranked = sorted(scores, key=lambda t: (-scores[t], catalogue.names[t].casefold()))[:50]
    connection = session.connection()
    stmt = ranking.offered_statement(connection.dialect.name == "postgresql")
    params = {"topic_ids": ranked, "now": now, "excluded": sorted(excluded)}
    offered = set(connection.execute(stmt, params).scalars())
    return [catalogue.names[t] for t in ranked if t in offered][:MAX_SUGGESTIONS]


def _spellings(text: str, exact: NamedTopic | None) -> list[str]:
    """The keys a search matches by: the query's own, then every spelling of the topic it names.

    "k8s" also finds "Kubernetes at scale", and "kubernetes" an ask line saying "k8s".
    """
    keys = [query_key(text)]
    if exact is not None:
        keys += [k for k in (exact.key, *exact.aliases) if k not in keys]
    return keys


_RECORD = insert(Search.__table__)


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
    """Experts on `query` for `searcher_slack_id`, ranked (see the package docstring).

    Never lists the searcher or `exclude_slack_ids` (the decline flow's "two
    other experts"); paused, departed and at-capacity experts are counted, not
    listed. With `record`, stores a `Search` row (what HR's "wanted, nobody
    offers" report reads); paging re-runs pass record=False. Raises QueryError
    for an empty or over-long query, before touching the database.
    """
    text = normalise_query(query)
    cache = index.cache_for(session)
    # The stamp query runs outside the lock: concurrent searches only queue for
    # the in-memory matching (well under a millisecond) and for rare reloads.
    stamps = index.read_stamps(session, cache, searcher_slack_id, now)
    searcher_id, my_function = stamps[5], stamps[6]
    stale = [int(person_id) for person_id in stamps[7].split(",")] if stamps[7] else []
    excluded = {searcher_slack_id, *exclude_slack_ids}

    exact = lookup_topic(session, text)
    keys = _spellings(text, exact)
    with cache.lock:
        catalogue = index.refresh(session, cache, stamps)
        matches = index.match_query(cache, catalogue, keys, exact.id if exact is not None else None)
    names = catalogue.names  # read only; copied (2,000 entries and more) only when patched
    if exact is not None and names.get(exact.id) != exact.name:
        names = {**names, exact.id: exact.name}  # created after the catalogue was read

    ranked = ranking.rank(session, matches, excluded, now, my_function, include_own_function, stale)
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
