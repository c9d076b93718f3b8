"""The topic catalogue: normalisation, find-or-create, type-ahead, aliases, merges, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.blocks.topics import MAX_OPTION_TEXT, MAX_OPTION_VALUE, new_topic_option, topic_options
from bot.db import Database
from bot.devtools.slack_client import SlackAppClient
from bot.models import Person, PersonTopic, Topic, TopicAlias, TopicKind
from bot.services.topics import (
    BUILTIN_ALIASES,
    MAX_TOPIC_LENGTH,
    TopicError,
    add_alias,
    find_topic,
    merge_topics,
    resolve_option_value,
    resolve_option_values,
    resolve_topics,
    suggest_topics,
    tidy_name,
    topic_key,
    validate_topic_list,
)

ROOT = Path(__file__).resolve().parent.parent

# -- topic_key: properties -----------------------------------------------------------

words = st.from_regex(r"[A-Za-z][A-Za-z0-9+#]{0,11}", fullmatch=True)
separators = st.text(alphabet=' \t\n-_/.,:;"()!?', min_size=1, max_size=4)


@given(st.text())
def test_topic_key_is_idempotent(text: str) -> None:
    assert topic_key(topic_key(text)) == topic_key(text)


@given(st.lists(words, min_size=1, max_size=5))
def test_topic_key_ignores_case(parts: list[str]) -> None:
    text = " ".join(parts)
    assert topic_key(text.upper()) == topic_key(text.lower()) == topic_key(text)


@given(st.lists(words, min_size=1, max_size=5), st.data())
def test_spacing_and_punctuation_between_words_do_not_matter(parts: list[str], data: st.DataObject) -> None:
    lead = data.draw(st.text(alphabet=" \t-_.(", max_size=3))
    trail = data.draw(st.text(alphabet=" \t-_.)", max_size=3))
    joined = parts[0]
    for part in parts[1:]:
        joined += data.draw(separators) + part
    assert topic_key(lead + joined + trail) == topic_key(" ".join(parts))


@given(st.lists(words, min_size=2, max_size=4, unique_by=topic_key))
def test_word_order_is_kept(parts: list[str]) -> None:
    assert topic_key(" ".join(parts)) != topic_key(" ".join(reversed(parts)))


@given(st.text())
def test_keys_hold_no_separators(text: str) -> None:
    key = topic_key(text)
    assert key == key.strip() and "  " not in key
    assert not set(key) & set("-_/.,:;'\"()")


@pytest.mark.parametrize(
    ("variants"),
    [
        ["Kubernetes", "kubernetes ", "KUBERNETES", "  Kubernetes\t"],
        ["machine-learning", "Machine Learning", "machine_learning", "Machine  learning."],
        ["Technology", "technologies"],
        ["Class", "classes"],
        ["Box", "boxes"],
        ["Approach", "approaches"],
        ["Cache", "caches"],
        ["Cookie", "cookies"],
        ["API", "APIs"],
        ["Women's health", "womens health", "Women’s Health"],
        ["Ｃｌｏｕｄ", "cloud"],
    ],
)
def test_spellings_of_one_topic_share_a_key(variants: list[str]) -> None:
    assert len({topic_key(v) for v in variants}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [("C++", "C#"), ("C++", "C"), ("C#", "C"), ("Business", "Busines"), ("Analysis", "Analytics")],
)
def test_different_topics_keep_different_keys(a: str, b: str) -> None:
    assert topic_key(a) != topic_key(b)


def test_short_words_and_words_with_digits_are_not_singularised() -> None:
    assert topic_key("ops") == "ops"
    assert topic_key("k8s") == "k8s"
    assert topic_key("1990s") == "1990s"
    assert topic_key("Status") == "status"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("kubernetes", "Kubernetes"),
        ("  iOS   development ", "iOS development"),
        ("gRPC", "gRPC"),
        ("a\nb", "A b"),
    ],
)
def test_tidy_name_keeps_casing_but_tidies_spacing(typed: str, shown: str) -> None:
    assert tidy_name(typed) == shown


# -- validation ------------------------------------------------------------------------


def test_validate_topic_list_messages() -> None:
    assert validate_topic_list(["Kubernetes", "Pricing", "", "  "]) is None
    too_many = [f"Topic number {i}" for i in range(21)]
    assert validate_topic_list(too_many) == "At most 20 topics — you entered 21."
    # One topic in three spellings counts once.
    assert validate_topic_list(["Kubernetes", "k8s", "K8s", *too_many[:19]]) is None
    short = validate_topic_list(["x"])
    assert short is not None and "“x” is too short" in short
    long = validate_topic_list(["y" * 200])
    assert long is not None and "too long (200 characters; at most 60)" in long
    assert validate_topic_list(["y" * MAX_TOPIC_LENGTH]) is None
    symbols = validate_topic_list(["--"])
    assert symbols is not None and "letter or digit" in symbols


def test_validate_topic_list_accepts_option_values() -> None:
    assert validate_topic_list(["topic:12", "new:Pricing", "Plain name"]) is None
    message = validate_topic_list(["topic:12", "new:x"])
    assert message is not None and "“x” is too short" in message


# -- resolving against the database -------------------------------------------------------


def _topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.id)))


def test_k8s_and_kubernetes_resolve_to_one_topic(db: Database) -> None:
    with db.session() as session:
        found = resolve_topics(session, ["K8s", "k8s", "Kubernetes", "kubernetes "])
        assert [t.name for t in found] == ["Kubernetes"]
    with db.session() as session:
        again = resolve_topics(session, ["kubernetes", "K8S"])
        assert [t.id for t in again] == [found[0].id]
        assert [t.name for t in _topics(session)] == ["Kubernetes"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.sampled_from(["K8s", "k8s", "Kubernetes", "kubernetes "]).flatmap(
            lambda v: st.tuples(st.just(v), st.booleans(), st.text(alphabet=" \t", max_size=2))
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_spelling_of_kubernetes_resolves_to_one_topic(
    db: Database, spellings: list[tuple[str, bool, str]]
) -> None:
    names = [pad + (v.upper() if upper else v) + pad for v, upper, pad in spellings]
    with db.session() as session:
        found = resolve_topics(session, names)
        assert len(found) == 1 and found[0].name == "Kubernetes"
        assert session.scalar(select(func.count()).select_from(Topic)) == 1


def test_resolve_keeps_order_and_first_spelling(db: Database) -> None:
    with db.session() as session:
        found = resolve_topics(session, ["pricing strategy", "iOS", "Pricing-Strategy", "", "ML"])
        assert [t.name for t in found] == ["Pricing strategy", "iOS", "Machine learning"]


def test_resolve_rejects_invalid_names(db: Database) -> None:
    with db.session() as session, pytest.raises(TopicError, match="too long"):
        resolve_topics(session, ["z" * 61])


def test_find_topic_uses_keys_then_aliases(db: Database) -> None:
    with db.session() as session:
        (kube,) = resolve_topics(session, ["Kubernetes"])
        assert find_topic(session, "KUBERNETES") is kube
        assert find_topic(session, "k8s") is kube  # built-in alias
        assert find_topic(session, "kube") is None
        add_alias(session, "Kube", "kubernetes")
        assert find_topic(session, "kube") is kube  # database alias
        assert find_topic(session, "Docker") is None


def test_database_alias_overrides_builtin(db: Database) -> None:
    with db.session() as session:
        (markup,) = resolve_topics(session, ["Markup languages"])
        add_alias(session, "ML", "Markup languages")
        assert resolve_topics(session, ["ml"]) == [markup]


def test_builtin_alias_follows_its_topic_through_a_merge(db: Database) -> None:
    with db.session() as session:
        resolve_topics(session, ["Kubernetes", "Container orchestration"])
        target = merge_topics(session, "Kubernetes", "Container orchestration")
        assert find_topic(session, "k8s") is target
        assert resolve_topics(session, ["K8s", "kubernetes"]) == [target]


def _create_concurrently(database_url: str, name: str, workers: int) -> list[int]:
    barrier = threading.Barrier(workers)
    ids: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        database = Database(database_url)
        try:
            barrier.wait()
            with database.session() as session:
                ids.append(resolve_topics(session, [name])[0].id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return ids


def test_two_requests_creating_the_same_new_topic_get_one_row(db: Database) -> None:
    url = db.url.render_as_string(hide_password=False)
    for round_ in range(3):
        ids = _create_concurrently(url, f"Brand new topic {round_}", workers=6)
        assert len(ids) == 6 and len(set(ids)) == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Topic)) == 3


def test_creating_a_topic_another_request_is_creating_waits_and_reuses_it(db: Database) -> None:
    """The race itself: B looks the name up while A has inserted it but not yet committed."""
    url = db.url.render_as_string(hide_password=False)
    first, second = Database(url), Database(url)
    result: list[int] = []
    errors: list[BaseException] = []
    try:
        with first.session() as session_a:
            (mine,) = resolve_topics(session_a, ["Race condition"])

            def other_request() -> None:
                try:
                    with second.session() as session_b:
                        result.append(resolve_topics(session_b, ["race-conditions"])[0].id)
                except BaseException as exc:
                    errors.append(exc)

            thread = threading.Thread(target=other_request)
            thread.start()
            thread.join(timeout=0.5)  # B is now blocked on A's uncommitted row (or lock)
            assert thread.is_alive(), (result, errors)
        thread.join(timeout=20)
        assert not errors, errors
        assert result == [mine.id]
    finally:
        first.dispose()
        second.dispose()


def test_option_values(db: Database) -> None:
    with db.session() as session:
        (kube,) = resolve_topics(session, ["Kubernetes"])
        assert resolve_option_value(session, f"topic:{kube.id}") is kube
        assert resolve_option_value(session, "new:kubernetes") is kube
        created = resolve_option_value(session, "new:Pricing")
        assert created is not None and created.name == "Pricing"
        assert resolve_option_value(session, "k8s") is kube  # a plain name, as acceptance runs submit
        assert resolve_option_value(session, "topic:999999") is None
        values = [f"topic:{kube.id}", "new:K8s", "pricing", "topic:999999"]
        assert resolve_option_values(session, values) == [kube, created]


# -- type-ahead ----------------------------------------------------------------------------


def _person(session: Session, user_id: str) -> Person:
    person = Person(slack_user_id=user_id, name=user_id.lower())
    session.add(person)
    session.flush()
    return person


def _link(session: Session, topic: Topic, people: int, kind: TopicKind = TopicKind.SPEAK) -> None:
    for i in range(people):
        person = _person(session, f"U{topic.id}X{i}{kind.value}")
        session.add(PersonTopic(person_id=person.id, topic_id=topic.id, kind=kind))
    session.flush()


@pytest.fixture
def catalogue(db: Database) -> Database:
    with db.session() as session:
        topics = resolve_topics(
            session,
            [
                "Data engineering",
                "Data science",
                "Databases",
                "Big data",
                "Metadata management",
                "Kubernetes",
                "Pricing",
                "C++",
                "C#",
            ],
        )
        by_name = {t.name: t for t in topics}
        _link(session, by_name["Data science"], 3)
        _link(session, by_name["Databases"], 1, TopicKind.LEARN)
        _link(session, by_name["Metadata management"], 2)
    return db


def _names(topics: list[Topic]) -> list[str]:
    return [t.name for t in topics]


def test_suggest_prefix_then_word_start_then_substring_most_used_first(catalogue: Database) -> None:
    with catalogue.session() as session:
        assert _names(suggest_topics(session, "dat")) == [
            "Data science",  # prefix, 3 people
            "Databases",  # prefix, 1 person
            "Data engineering",  # prefix, nobody yet
            "Big data",  # a later word starts with it
            "Metadata management",  # inside a word, although more used
        ]


def test_suggest_normalises_the_query(catalogue: Database) -> None:
    with catalogue.session() as session:
        assert _names(suggest_topics(session, "  DATA-SCI")) == ["Data science"]
        assert _names(suggest_topics(session, "databases")) == ["Databases"]
        assert _names(suggest_topics(session, "databa")) == ["Databases"]
        assert _names(suggest_topics(session, "c+")) == ["C++"]
        assert _names(suggest_topics(session, "c#")) == ["C#"]


def test_suggest_finds_aliases_and_puts_exact_first(catalogue: Database) -> None:
    with catalogue.session() as session:
        assert _names(suggest_topics(session, "k8")) == ["Kubernetes"]  # built-in alias "k8s"
        add_alias(session, "Cost models", "Pricing")
        assert _names(suggest_topics(session, "cost")) == ["Pricing"]
        # "pricing" names a topic exactly; it leads even when others match too.
        (pricing_ops,) = resolve_topics(session, ["Pricing ops"])
        _link(session, pricing_ops, 5)
        assert _names(suggest_topics(session, "pricing")) == ["Pricing", "Pricing ops"]


def test_suggest_limits_and_empty_query(catalogue: Database) -> None:
    with catalogue.session() as session:
        assert len(suggest_topics(session, "a", limit=3)) == 3
        assert suggest_topics(session, "zzz") == []
        assert _names(suggest_topics(session, "", limit=2)) == ["Data science", "Metadata management"]
        # Punctuation alone is no query (and LIKE wildcards never reach the pattern).
        assert _names(suggest_topics(session, "%", limit=1)) == ["Data science"]
        assert _names(suggest_topics(session, "_data")) == _names(suggest_topics(session, "data"))


# -- aliases and merges ------------------------------------------------------------------------


def test_add_alias_errors(catalogue: Database) -> None:
    with catalogue.session() as session:
        with pytest.raises(TopicError, match="No topic “Docker”"):
            add_alias(session, "Containers", "Docker")
        with pytest.raises(TopicError, match="topic of its own"):
            add_alias(session, "Pricing", "Kubernetes")
        add_alias(session, "Kube", "Kubernetes")
        add_alias(session, "kube", "Kubernetes")  # again: harmless
        with pytest.raises(TopicError, match="already means “Kubernetes”"):
            add_alias(session, "Kube", "Pricing")
        with pytest.raises(TopicError, match="letter or digit"):
            add_alias(session, "--", "Pricing")


def test_merge_moves_people_without_duplicates(catalogue: Database) -> None:
    with catalogue.session() as session:
        (dup,) = resolve_topics(session, ["Data-science & ML"])
        science = find_topic(session, "data science")
        assert science is not None
        people = list(
            session.scalars(select(PersonTopic.person_id).where(PersonTopic.topic_id == science.id))
        )
        # One person listed both; another only the duplicate (and as a learner).
        session.add(PersonTopic(person_id=people[0], topic_id=dup.id, kind=TopicKind.SPEAK))
        newcomer = _person(session, "UNEW")
        session.add(PersonTopic(person_id=newcomer.id, topic_id=dup.id, kind=TopicKind.LEARN))
        add_alias(session, "DS and ML", dup.name)
        dup_id, dup_key = dup.id, dup.key

    with catalogue.session() as session:
        target = merge_topics(session, "data science & ml", "Data Science")
        assert target.name == "Data science"
    with catalogue.session() as session:
        assert session.get(Topic, dup_id) is None
        links = session.execute(
            select(PersonTopic.person_id, PersonTopic.kind).where(PersonTopic.topic_id == target.id)
        ).all()
        assert len(links) == len(set(links)) == 4  # 3 speakers + the newcomer as a learner
        assert (newcomer.id, TopicKind.LEARN) in links
        assert session.get(TopicAlias, dup_key).topic_id == target.id  # old spelling still finds it
        assert find_topic(session, "DS and ML") is not None
        assert find_topic(session, "ds and ml").id == target.id  # type: ignore[union-attr]


def test_merge_errors(catalogue: Database) -> None:
    with catalogue.session() as session:
        with pytest.raises(TopicError, match="already one topic"):
            merge_topics(session, "K8s", "Kubernetes")
        with pytest.raises(TopicError, match="No topic “Docker”"):
            merge_topics(session, "Docker", "Kubernetes")
        with pytest.raises(TopicError, match="No topic “Docker”"):
            merge_topics(session, "Kubernetes", "Docker")


# -- Block Kit options ------------------------------------------------------------------------------


def test_topic_options_offer_a_new_topic_unless_it_exists(catalogue: Database) -> None:
    with catalogue.session() as session:
        found = suggest_topics(session, "data")
        options = topic_options(found, "data")
        assert options[0]["value"] == f"topic:{found[0].id}"
        assert options[-1] == new_topic_option("data")
        assert options[-1]["text"]["text"] == "Add “Data”" and options[-1]["value"] == "new:Data"
        exact = topic_options(suggest_topics(session, "pricing"), "pricing")
        assert all(not o["value"].startswith("new:") for o in exact)
    assert topic_options([], "x") == []  # too short to be a topic
    assert topic_options([], "y" * 61) == []  # too long
    longest = new_topic_option("W" * MAX_TOPIC_LENGTH)
    assert len(longest["text"]["text"]) <= MAX_OPTION_TEXT and len(longest["value"]) <= MAX_OPTION_VALUE


# -- the type-ahead over signed HTTP -------------------------------------------------------------------


def _values(response: object) -> list[str]:
    return [o["value"] for o in response.json()["options"]]  # type: ignore[attr-defined]


def _texts(response: object) -> list[str]:
    return [o["text"]["text"] for o in response.json()["options"]]  # type: ignore[attr-defined]


def test_block_suggestion_returns_existing_topics_and_a_new_option(
    catalogue: Database, slack: SlackAppClient
) -> None:
    response = slack.block_suggestion("U1", "speak_topics", "dat")
    assert response.status_code == 200
    assert _texts(response) == [
        "Data science",
        "Databases",
        "Data engineering",
        "Big data",
        "Metadata management",
        "Add “Dat”",
    ]
    assert _values(response)[-1] == "new:Dat"
    assert all(v.startswith("topic:") for v in _values(response)[:-1])


def test_block_suggestion_for_learning_and_aliases(catalogue: Database, slack: SlackAppClient) -> None:
    response = slack.block_suggestion("U1", "learn_topics", "K8s")
    assert _texts(response) == ["Kubernetes"]  # an alias names it exactly: no "Add “K8s”"
    fresh = slack.block_suggestion("U1", "learn_topics", "Quantum chemistry")
    assert _texts(fresh) == ["Add “Quantum chemistry”"]
    assert (
        _texts(slack.block_suggestion("U1", "learn_topics", "q")) == []
    )  # one letter: no match, too short to add


def test_new_topic_chosen_in_the_type_ahead_is_created_once(
    catalogue: Database, slack: SlackAppClient
) -> None:
    (value,) = [v for v in _values(slack.block_suggestion("U1", "speak_topics", "quantum  chemistry")) if v]
    with catalogue.session() as session:
        created = resolve_option_value(session, value)
        assert created is not None and created.name == "Quantum chemistry"
    after = slack.block_suggestion("U2", "speak_topics", "quantum chem")
    assert _values(after) == [f"topic:{created.id}", "new:Quantum chem"]


def test_block_suggestion_survives_odd_input(catalogue: Database, slack: SlackAppClient) -> None:
    for value in ["", "   ", "%", "<!channel>", "x" * 5000, "💡 ideas"]:
        response = slack.block_suggestion("U1", "speak_topics", value)
        assert response.status_code == 200
        assert len(response.json()["options"]) <= 100


# -- CLI --------------------------------------------------------------------------------------------------


def _cli(db: Database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "INFOCHAT_DATABASE_URL": db.url.render_as_string(hide_password=False),
        "INFOCHAT_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "topics", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_cli_alias_merge_and_list(catalogue: Database) -> None:
    done = _cli(catalogue, "alias", "Kube", "Kubernetes")
    assert done.returncode == 0, done.stderr
    assert "Kubernetes" in done.stdout
    with catalogue.session() as session:
        assert find_topic(session, "kube") is not None

    clash = _cli(catalogue, "alias", "Kube", "Pricing")
    assert clash.returncode == 1
    assert clash.stderr.strip().count("\n") == 0 and "already means “Kubernetes”" in clash.stderr
    unknown = _cli(catalogue, "merge", "Docker", "Kubernetes")
    assert unknown.returncode == 1 and "No topic “Docker”" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    merged = _cli(catalogue, "merge", "Databases", "Data engineering")
    assert merged.returncode == 0, merged.stderr
    with catalogue.session() as session:
        target = find_topic(session, "databases")
        assert target is not None and target.name == "Data engineering"

    listing = _cli(catalogue, "list", "--limit", "2")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["topic", "key", "speak", "learn"]
    assert lines[1].split() == ["Data", "science", "data", "science", "3", "0"]
    assert lines[2].split() == ["Metadata", "management", "metadata", "management", "2", "0"]
    assert "2 of 8 topics" in lines[-1]


def test_builtin_aliases_are_small_and_resolve_to_distinct_keys() -> None:
    assert len(BUILTIN_ALIASES) <= 20
    for alias, name in BUILTIN_ALIASES.items():
        assert topic_key(alias) != topic_key(name)
        assert name not in BUILTIN_ALIASES  # no chains
