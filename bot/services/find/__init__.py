"""Expert search for `/infochat find <topic>`: who can talk about it, best first.

Plain data in, plain data out; nothing here knows a Slack payload.

An *expert* is an available person (`profiles.available_clause`) who takes
chats (`chats_per_month > 0`) and speaks about (TopicKind.SPEAK) a matching
topic, or whose "ask me about" line matches the query. Matches, best first:

* exact: the topic the query names by key or alias (`topics.lookup_topic`);
* fuzzy: topics whose every query word is in the topic's words, allowing a
  typo or two in longer words ("kubernets", "learning machine", "machne
  lerning"), or whose spelling without spaces is almost the query's
  ("machinelearning", "postgre sql");
* ask: the same word rule applied to the free "ask me about" line.

The modules, in the order a search uses them:

* `query`: validation, keys and words of the query text (pure);
* `index`: per-process caches (the topic catalogue, a word index of ask
  lines), the stamp query that keeps them fresh, and fuzzy matching;
* `ranking`: the SQL that classifies, counts and ranks everyone matched;
* `experts`: `find_experts`, tying them together, and its result types.

Speed (docs/performance.md, bench/search.py and bench/load.py): fuzzy
matching runs in memory with rapidfuzz, then one SQL statement (built once per
shape) ranks everyone who matches, chat counts included (read from
person_usage, bot/services/usage.py), and returns the best MAX_HITS with their
names and matching topics.
"""

from bot.services.find.experts import MAX_SUGGESTIONS, ExpertHit, Match, SearchResult, find_experts
from bot.services.find.index import MAX_ASK_PEOPLE, MAX_FUZZY_TOPICS, clear_caches, warm_caches
from bot.services.find.query import MAX_QUERY_LENGTH, STOP_WORDS, QueryError, ask_words, normalise_query
from bot.services.find.ranking import MAX_HITS, RECENT

__all__ = [
    "MAX_ASK_PEOPLE",
    "MAX_FUZZY_TOPICS",
    "MAX_HITS",
    "MAX_QUERY_LENGTH",
    "MAX_SUGGESTIONS",
    "RECENT",
    "STOP_WORDS",
    "ExpertHit",
    "Match",
    "QueryError",
    "SearchResult",
    "ask_words",
    "clear_caches",
    "find_experts",
    "normalise_query",
    "warm_caches",
]
