"""`/infochat find`: matching, ranking, exclusions, recording, the message, and the signed round trip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.blocks import MAX_BUTTON_VALUE, MAX_MESSAGE_BLOCKS
from bot.blocks.find import (
    ASK_FOR_CHAT_ACTION,
    FIND_OWN_FUNCTION_ACTION,
    FIND_PAGE_ACTION,
    PAGE_SIZE,
    page_value,
    parse_page_value,
    search_message,
)
from bot.db import Database
from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from bot.models import ChatRole, Person, PersonTopic, Search, TopicKind
from bot.services import find as find_service
from bot.services.find import MAX_QUERY_LENGTH, QueryError, SearchResult, ask_words, find_experts
from bot.services.topics import resolve_topics
from tests.factories import NOW, SEARCHER, chat, ids, person, searcher


@pytest.fixture(autouse=True, params=["largest topic by index", "all matched together"])
def fresh_caches(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Each test empties the database; start every test from cold caches too,
    # so one test's catalogue can never answer another's query. Every test runs
    # both ways a search reads the precomputed ranking (tests/test_search_ranks.py).
    small = request.param == "largest topic by index"
    monkeypatch.setattr(find_service.ranking, "PRECOMPUTED_MIN", 0 if small else 10**9)
    find_service.clear_caches()
    yield
    find_service.clear_caches()


def find(db: Database, query: str, **kwargs: Any) -> SearchResult:
    with db.session() as session:
        return find_experts(session, query, SEARCHER, NOW, **kwargs)


def message(result: SearchResult, page: int = 0, own: bool = False) -> dict[str, Any]:
    return search_message(result, page=page, include_own_function=own, now=NOW)


def buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in msg["blocks"]:
        if block["type"] == "actions":
            found += block["elements"]
        elif block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
    return found


# -- matching -------------------------------------------------------------------------


def test_exact_and_alias_matches_come_before_fuzzy_and_ask_me_about(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        person(s, "UASK", "Ann Ask", ask="Happy to explain our k8s setup")
        person(s, "UFUZZY", "Fred Fuzzy", speaks=["Kubernetes security"])
        person(s, "UEXACT", "Eve Exact", speaks=["Kubernetes"])
        person(s, "UOTHER", "Otto Other", speaks=["Pricing"])
    for query in ("kubernetes", "K8s", "  KUBERNETES "):
        result = find(db, query)
        assert result.topic == "Kubernetes"
        assert ids(result) == ["UEXACT", "UFUZZY", "UASK"], query
        assert [h.match for h in result.hits] == ["exact", "fuzzy", "ask"]
    hit = find(db, "k8s").hits[2]
    assert hit.ask_me_about == "Happy to explain our k8s setup" and hit.matching_topics == []


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        pytest.param("kubernets", "Kubernetes", id="typo"),
        pytest.param("kuberentes", "Kubernetes", id="transposition"),
        pytest.param("learning machine", "Machine learning", id="word-order"),
        pytest.param("machne lerning", "Machine learning", id="two-typos"),
        pytest.param("machinelearning", "Machine learning", id="no-space"),
        pytest.param("pricing", "B2B pricing strategy", id="word-of-a-longer-topic"),
    ],
)
def test_fuzzy_matches(db: Database, query: str, topic: str) -> None:
    with db.session() as s:
        searcher(s)
        person(s, "UEXP", "Ed Expert", speaks=[topic])
    result = find(db, query)
    assert ids(result) == ["UEXP"]
    assert result.hits[0].match == "fuzzy" and result.hits[0].matching_topics == [topic]
    assert result.topic is None


def test_hyphen_and_case_are_the_exact_topic(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        person(s, "UEXP", "Ed Expert", speaks=["Machine learning"])
    result = find(db, "Machine-Learning")
    assert result.topic == "Machine learning" and result.hits[0].match == "exact"
    assert find(db, "ML").topic == "Machine learning"  # built-in alias


@pytest.mark.parametrize("query", ["python", "java", "sale", "go"])
def test_no_false_friends(db: Database, query: str) -> None:
    with db.session() as s:
        searcher(s)
        person(s, "UTS", "Tess Script", speaks=["TypeScript", "JavaScript", "Scale", "Google Ads"])
    assert find(db, query).hits == []


def test_ask_me_about_line_matches_words_with_typos(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        person(s, "UASK", "Ann Ask", ask="Moving from sales into product management, pricing experiments")
    assert ids(find(db, "pricing experiment")) == ["UASK"]
    assert ids(find(db, "experiments in pricng")) == ["UASK"]  # stop word dropped, one typo
    assert find(db, "pricing psychology").hits == []  # every content word must be there
    assert find(db, "pricing").hits[0].match == "ask"


def test_ask_me_about_index_follows_profile_changes(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        ann = person(s, "UASK", "Ann Ask", ask="negotiation")
        ann_id = ann.id
    assert ids(find(db, "negotiation")) == ["UASK"]
    with db.session() as s:
        s.get(Person, ann_id).ask_me_about = "hiring"  # type: ignore[union-attr]
    assert find(db, "negotiation").hits == []
    assert ids(find(db, "hiring")) == ["UASK"]


def test_ask_words_fast_path_matches_topic_keys() -> None:
    from bot.services.topics import topic_key

    for line in ["Women's careers, APIs & C++/C#: classes, technologies", "Ünïcode café's cookies"]:
        assert ask_words(line) == frozenset(topic_key(line).split()) - find_service.STOP_WORDS


# -- ranking -----------------------------------------------------------------------------


def test_other_functions_first_and_own_function_on_request(db: Database) -> None:
    with db.session() as s:
        searcher(s, "Engineering")
        person(s, "USAME", "Sam Same", "Engineering", speaks=["Kubernetes"])
        person(s, "UPROD", "Pat Product", "Product", speaks=["Kubernetes security"])
    result = find(db, "kubernetes")
    assert ids(result) == ["UPROD"] and result.own_function_count == 1
    msg = message(result)
    own = [b for b in buttons(msg) if b["action_id"] == FIND_OWN_FUNCTION_ACTION]
    assert own and own[0]["text"]["text"] == "Show my function too"
    assert parse_page_value(own[0]["value"]) == ("kubernetes", 0, True)
    assert "1 person in your own function also match" in str(msg)

    both = find(db, "kubernetes", include_own_function=True)
    # Other functions rank first even over a better (exact) match from my own.
    assert ids(both) == ["UPROD", "USAME"] and both.own_function_count == 0
    assert both.hits[1].same_function and not both.hits[0].same_function
    assert FIND_OWN_FUNCTION_ACTION not in str(message(both, own=True))


def test_spare_capacity_then_fewer_recent_chats_rank_higher(db: Database) -> None:
    with db.session() as s:
        me = searcher(s)
        busy = person(s, "UBUSY", "Bea Busy", speaks=["Pricing"], chats_per_month=2)
        roomy = person(s, "UROOMY", "Rob Roomy", speaks=["Pricing"], chats_per_month=4)
        fresh = person(s, "UFRESH", "Fay Fresh", speaks=["Pricing"], chats_per_month=2)
        popular = person(s, "UPOP", "Paul Popular", speaks=["Pricing"], chats_per_month=2)
        helper = person(s, "UHELPER", "Hal Helper", speaks=["Sailing"])
        chat(s, NOW - timedelta(days=3), (roomy, ChatRole.EXPERT), (me, ChatRole.LEARNER))  # spare 3
        chat(s, NOW - timedelta(days=4), (busy, ChatRole.PEER), (me, ChatRole.PEER))  # spare 1
        # Last month and earlier: not this month's capacity, but recent (90 days) for Paul.
        for days in (30, 45, 60):
            chat(s, NOW - timedelta(days=days), (popular, ChatRole.EXPERT), (me, ChatRole.LEARNER))
        chat(s, NOW - timedelta(days=120), (fresh, ChatRole.EXPERT), (me, ChatRole.LEARNER))  # too old
        # Being the learner uses no capacity, but is a recent chat.
        chat(s, NOW - timedelta(days=1), (fresh, ChatRole.LEARNER), (helper, ChatRole.EXPERT))
    result = find(db, "pricing")
    assert ids(result) == ["UROOMY", "UFRESH", "UPOP", "UBUSY"]
    by_id = {h.slack_user_id: h for h in result.hits}
    assert (by_id["UROOMY"].spare, by_id["UROOMY"].recent_chats) == (3, 1)
    assert (by_id["UFRESH"].spare, by_id["UFRESH"].recent_chats) == (2, 1)
    assert (by_id["UPOP"].spare, by_id["UPOP"].recent_chats) == (2, 3)
    assert (by_id["UBUSY"].spare, by_id["UBUSY"].recent_chats) == (1, 1)


def test_capacity_counts_the_current_utc_month_only(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        one = person(s, "UONE", "Olive One", speaks=["Pricing"], chats_per_month=1)
        chat(s, datetime(2026, 10, 31, 23, 59, tzinfo=UTC), (one, ChatRole.EXPERT))
    assert ids(find(db, "pricing")) == ["UONE"]  # October's chat does not count in November
    with db.session() as s:
        chat(s, datetime(2026, 11, 1, 0, 0, tzinfo=UTC), (s.get(Person, one.id), ChatRole.EXPERT))  # type: ignore[arg-type]
    result = find(db, "pricing")
    assert result.hits == [] and result.hidden_at_capacity == 1


# -- exclusions -------------------------------------------------------------------------


def test_exclusions_are_counted_and_explained(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        person(s, SEARCHER + "X", "Visible Vic", speaks=["Pricing"])
        person(s, "UPAUSED", "Paula Paused", speaks=["Pricing"], paused_until=NOW + timedelta(days=3))
        person(s, "UBACK", "Bo Back", speaks=["Pricing"], paused_until=NOW - timedelta(days=1))
        person(s, "ULEFT", "Lee Left", speaks=["Pricing"], left_at=NOW - timedelta(days=1))
        full = person(s, "UFULL", "Fil Full", speaks=["Pricing"], chats_per_month=1)
        chat(s, NOW - timedelta(days=1), (full, ChatRole.EXPERT))
        # Never listed, never counted:
        person(s, "UGONE", "Dee Deactivated", speaks=["Pricing"], is_deleted=True)
        person(s, "UGUEST", "Gus Guest", speaks=["Pricing"], is_restricted=True)
        person(s, "UBOT", "Bot Bot", speaks=["Pricing"], is_bot=True)
        person(s, "UNEW", "Ned New", speaks=["Pricing"], joined=False)
        person(s, "ULEARNS", "Lou Learner-only", speaks=["Pricing"], chats_per_month=0)
        person(s, "UDECLINED", "Dan Declined", speaks=["Pricing"])
        me = s.scalar(select(Person).where(Person.slack_user_id == SEARCHER))
        s.add(
            PersonTopic(person_id=me.id, topic_id=resolve_topics(s, ["Pricing"])[0].id, kind=TopicKind.SPEAK)
        )  # type: ignore[union-attr]
        me.chats_per_month = 3  # type: ignore[union-attr]
    result = find(db, "pricing", exclude_slack_ids=("UDECLINED",))
    assert sorted(ids(result)) == ["UBACK", SEARCHER + "X"]
    assert (result.hidden_paused, result.hidden_departed, result.hidden_at_capacity) == (1, 1, 1)
    text = str(message(result))
    assert "Not shown: 1 paused, 1 at their monthly limit, 1 who left infochat." in text


def test_unmet_search_is_recorded_with_nearby_topics(db: Database) -> None:
    with db.session() as s:
        me_id = searcher(s).id
        person(s, "UEXP", "Ed Expert", speaks=["Pricing strategy", "Negotiation"])
        person(s, "UPAUSED", "Paula Paused", speaks=["Pricing models"], paused_until=NOW + timedelta(days=3))
    result = find(db, "pricing psychology")
    assert result.hits == [] and result.total == 0
    assert result.suggestions == ["Pricing strategy"]  # "Pricing models" has nobody available
    msg = message(result)
    assert "No one lists “pricing psychology” yet" in msg["text"]
    assert "Nearby topics: `Pricing strategy`" in str(msg)
    with db.session() as s:
        rows = s.scalars(select(Search)).all()
    assert [(r.person_id, r.query, r.topic_id, r.results) for r in rows] == [
        (me_id, "pricing psychology", None, 0)
    ]


def test_found_search_records_topic_and_count_and_paging_records_nothing(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        person(s, "UA", "Al A", speaks=["Negotiation"])
        person(s, "UB", "Bo B", speaks=["Negotiation tactics"])
        topic_id = resolve_topics(s, ["Negotiation"])[0].id
    find(db, "negotiation")
    find(db, "negotiation", record=False)
    with db.session() as s:
        rows = s.scalars(select(Search)).all()
    assert [(r.query, r.topic_id, r.results) for r in rows] == [("negotiation", topic_id, 2)]


@pytest.mark.parametrize("query", ["", "   ", "?!", "x" * (MAX_QUERY_LENGTH + 1)])
def test_empty_and_too_long_queries_are_refused_before_searching(db: Database, query: str) -> None:
    with pytest.raises(QueryError):
        find(db, query)
    with db.session() as s:
        assert s.scalars(select(Search)).all() == []


def test_a_query_of_exactly_the_limit_is_fine(db: Database) -> None:
    assert find(db, "y" * MAX_QUERY_LENGTH).hits == []


# -- the message ---------------------------------------------------------------------------


def test_message_escapes_user_text_and_pings_nobody(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        person(
            s,
            "UEVIL",
            "<!channel> Mallory & co",
            "Sales <@U123>",
            title="<!here> boss",
            speaks=["Ops <!everyone> tricks"],
            tz="Asia/Tokyo",
        )
    result = find(db, "ops everyone tricks")
    msg = message(result)

    def shown(obj: Any) -> Any:  # what Slack renders: button values are never displayed
        if isinstance(obj, dict):
            return {k: shown(v) for k, v in obj.items() if k != "value"}
        return [shown(v) for v in obj] if isinstance(obj, list) else obj

    text = json.dumps(shown(msg))
    for raw in ("<!channel>", "<@U123>", "<!here>", "<!everyone>"):
        assert raw not in text
    assert "&lt;!channel&gt; Mallory &amp; co" in text
    assert "21:00 their time" in text  # 12:00 UTC in Tokyo
    ask = next(b for b in buttons(msg) if b["action_id"] == ASK_FOR_CHAT_ACTION)
    assert json.loads(ask["value"]) == {"expert": "UEVIL", "topic": "Ops <!everyone> tricks"}
    assert ask["text"]["text"] == "Ask for a chat"


def test_paging_five_at_a_time_within_block_kit_limits(db: Database) -> None:
    with db.session() as s:
        searcher(s)
        for i in range(12):
            person(s, f"UE{i:02d}", f"Expert {i:02d}", speaks=["Negotiation"], tz="Bad/Zone")
    result = find(db, "negotiation")
    assert result.total == 12
    first, middle, last = message(result, 0), message(result, 1), message(result, 2)
    for msg, expected in ((first, 5), (middle, 5), (last, 2)):
        assert len(msg["blocks"]) <= MAX_MESSAGE_BLOCKS
        asks = [b for b in buttons(msg) if b["action_id"] == ASK_FOR_CHAT_ACTION]
        assert len(asks) == expected
        assert all(len(b.get("value", "")) <= MAX_BUTTON_VALUE for b in buttons(msg))
        # Slack wants action_ids unique inside each actions block.
        for block in msg["blocks"]:
            if block["type"] == "actions":
                ids_in_block = [e["action_id"] for e in block["elements"]]
                assert len(ids_in_block) == len(set(ids_in_block))
    labels = [
        [b["text"]["text"] for b in buttons(m) if b["action_id"] == FIND_PAGE_ACTION]
        for m in (first, middle, last)
    ]
    assert labels == [["Next 5"], ["Previous 5", "Next 5"], ["Previous 5"]]
    assert "6–10 of 12" in str(middle)
    assert "12:00 their time" in str(first)  # an unknown zone falls back to the default
    assert message(result, 99)["blocks"] == last["blocks"]  # out-of-range pages clamp


def test_page_values_round_trip_and_reject_junk() -> None:
    assert parse_page_value(page_value("k8s “x”", 2, True)) == ("k8s “x”", 2, True)
    for junk in (None, "", "nope", "[]", '{"q": 1}', '{"q": "x", "p": true}'):
        assert parse_page_value(junk) is None


# -- end to end: signed requests to the running app ------------------------------------------


def seed_kubernetes(db: Database, count: int = 7) -> None:
    with db.session() as s:
        person(s, SEARCHER, "Lena Learner", "Engineering", chats_per_month=0)
        for i in range(count):
            person(s, f"UK{i}", f"Kube Expert {i}", "Product", speaks=["Kubernetes"])
        person(s, "UENG", "Eng Colleague", "Engineering", speaks=["Kubernetes"])
        person(
            s,
            "UPAUSED",
            "Paula Paused",
            "Product",
            speaks=["Kubernetes"],
            paused_until=NOW + timedelta(days=999),
        )


def test_find_command_answers_ephemerally_in_the_ack(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    seed_kubernetes(db)
    response = slack.command(SEARCHER, "find kubernetes")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "Experts on Kubernetes" in body["text"]
    assert len([b for b in buttons(body) if b["action_id"] == ASK_FOR_CHAT_ACTION]) == PAGE_SIZE
    assert "Not shown: 1 paused." in str(body["blocks"])
    assert "1 person in your own function also match" in str(body["blocks"])
    assert standin.calls_to("chat.postMessage") == [] and standin.calls_to("chat.postEphemeral") == []
    with db.session() as s:
        assert [(r.query, r.results) for r in s.scalars(select(Search))] == [("kubernetes", 7)]


def test_next_page_and_own_function_buttons_replace_the_message(
    slack: SlackAppClient, standin: SlackStandIn, db: Database
) -> None:
    seed_kubernetes(db)
    first = slack.command(SEARCHER, "find k8s").json()
    slack.block_action(SEARCHER, FIND_PAGE_ACTION, message={"blocks": first["blocks"]})
    standin.wait_for(lambda: len(standin.responses) == 1)
    second = standin.responses[0].payload
    assert second["replace_original"] is True
    assert "6–7 of 7" in str(second["blocks"])
    assert [b["text"]["text"] for b in buttons(second) if b["action_id"] == FIND_PAGE_ACTION] == [
        "Previous 5"
    ]

    slack.block_action(SEARCHER, FIND_OWN_FUNCTION_ACTION, message={"blocks": first["blocks"]})
    standin.wait_for(lambda: len(standin.responses) == 2)
    both = standin.responses[1].payload
    assert "1–5 of 8" in str(both["blocks"]) and FIND_OWN_FUNCTION_ACTION not in str(both["blocks"])
    with db.session() as s:  # only the command was recorded, not the clicks
        assert len(s.scalars(select(Search)).all()) == 1


@pytest.mark.parametrize("text", ["find", "find    ", "find " + "z" * (MAX_QUERY_LENGTH + 1)])
def test_find_without_a_usable_topic_gets_a_usage_hint(
    slack: SlackAppClient, db: Database, text: str
) -> None:
    body = slack.command(SEARCHER, text).json()
    assert body["response_type"] == "ephemeral"
    assert "/infochat find kubernetes" in body["text"]
    with db.session() as s:
        assert s.scalars(select(Search)).all() == []


def test_find_with_nothing_offered_suggests_and_records(slack: SlackAppClient, db: Database) -> None:
    with db.session() as s:
        person(s, "UEXP", "Ed Expert", "Sales", speaks=["Kubernetes operators"])
    body = slack.command("UNOBODY", "find quantum kubernetes").json()
    assert "No one lists “quantum kubernetes” yet" in body["text"]
    assert "Kubernetes operators" in str(body["blocks"])
    with db.session() as s:
        assert [(r.person_id, r.results) for r in s.scalars(select(Search))] == [(None, 0)]


def test_catalogue_between_rechecks_sees_new_topics_and_ignores_merged_ones(db: Database) -> None:
    """Between re-checks PostgreSQL's stamp reads only the newest topic id; results stay right."""
    with db.session() as s:
        searcher(s)
        person(s, "UPRICE", "Pia Pricing", speaks=["Pricing strategy"])
        person(s, "UPRICE2", "Pete Pricing", speaks=["Pricing strategies deep dive"])
    assert set(ids(find(db, "pricing strategy"))) == {"UPRICE", "UPRICE2"}
    with db.session() as s:  # created after the catalogue was read: found at once
        person(s, "UNEW", "Nia New", speaks=["Pricing strategy experiments"])
    assert set(ids(find(db, "pricing strategy"))) == {"UPRICE", "UPRICE2", "UNEW"}
    with db.session() as s:  # merged away: its experts now come through the target
        from bot.services.topics import merge_topics

        merge_topics(s, "Pricing strategies deep dive", "Pricing strategy")
    result = find(db, "pricing strategy")
    assert set(ids(result)) == {"UPRICE", "UPRICE2", "UNEW"}
    assert all("Pricing strategies deep dive" not in h.matching_topics for h in result.hits)
    assert "Pricing strategies deep dive" not in find(db, "pricing strategie deep").suggestions
