"""Every button and modal checks who is clicking against the database.

Each test sets up the legitimate state through the app, takes the button value or
modal (with its private_metadata) exactly as the app sent it to the legitimate
user (as the Slack stand-in recorded it), and sends the same payload signed as
somebody else: an outsider, and where it means something the other person in
the exchange. What a user would notice is asserted: the database is unchanged
(every table, row by row), nobody else is sent, shown or updated anything, and
the one who forged the click gets at most a polite note of their own.

Actions that act only on whoever clicks (pausing from one's Home, paging one's
search, one's own profile) are shown to affect the clicking user alone, never
the user whose message or value was copied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.blocks import LEAVE_CANCEL_ACTION, LEAVE_CONFIRM_ACTION
from bot.blocks.find import FIND_OWN_FUNCTION_ACTION, FIND_PAGE_ACTION
from bot.blocks.followups import (
    COULDNT_ACTION,
    COULDNT_CALLBACK,
    LEARNED_CALLBACK,
    MET_ACTION,
    NOT_YET_ACTION,
    PAUSE_ME_ACTION,
    STAY_ACTIVE_ACTION,
)
from bot.blocks.home import EDIT_PROFILE_ACTION, PAUSE_ACTION, RESUME_ACTION
from bot.blocks.pairing import CANT_MAKE_IT_ACTION, NO_REPEAT_ACTION
from bot.blocks.profile import PROFILE_CALLBACK
from bot.blocks.reports import REFUSAL, REPORT_DOWNLOAD_CSV_ACTION, REPORT_SHOW_ACTION
from bot.blocks.requests import (
    ACCEPT_ACTION,
    ASK_ACTION,
    DECLINE_ACTION,
    DECLINE_CALLBACK,
    MARK_DONE_ACTION,
    REDIRECT_ACTION,
    REDIRECT_CALLBACK,
    REQUEST_CALLBACK,
)
from bot.blocks.scheduling import (
    CANCEL_ACTION,
    CANCEL_CALLBACK,
    FIND_ACTION,
    GOOGLE_ACTION,
    OUTLOOK_ACTION,
    PICK_CALLBACK,
    RESCHEDULE_ACTION,
    SUGGEST_ACTION,
    SUGGEST_CALLBACK,
)
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.flows import outbox as delivery
from bot.flows.followups import queue_ghost_pause, run_followups
from bot.models import (
    Base,
    Chat,
    ChatKind,
    ChatParticipant,
    ChatRequest,
    PairingBlock,
    Person,
    Referral,
    RequestStatus,
    Takeaway,
)
from bot.services import followups
from bot.settings import Settings
from tests.conftest import make_settings
from tests.factories import (
    REQUEST,
    ask,
    checkins_to,
    daytime_zone,
    group_dms,
    make_chat,
    make_person,
    make_round,
    request_dm,
)

OUTSIDER = "UBY"

# Web API methods that only read: calling them shows nothing to anybody.
READS = frozenset(
    {"auth.test", "users.info", "users.list", "usergroups.users.list", "conversations.info", "team.info"}
)

# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def settings(db: Database, standin: SlackStandIn) -> Settings:
    # Check-ins are due as soon as a chat is introduced, so follow-up buttons exist at once.
    url = make_url(str(db.url)).render_as_string(hide_password=False)
    return make_settings(url, standin, followup_after="0s")


@pytest.fixture
def people(db: Database, standin: SlackStandIn) -> dict[str, int]:
    tz = daytime_zone(utcnow())
    return {
        "ULENA": make_person(
            db,
            standin,
            "ULENA",
            "Lena Park",
            "Sales",
            learns=["Kubernetes"],
            title="Account Executive",
            tz=tz,
        ),
        "UEXP": make_person(db, standin, "UEXP", "Omar Haddad", "Engineering", speaks=["Kubernetes"], tz=tz),
        "UOTH1": make_person(db, standin, "UOTH1", "Kemi Ng", "Engineering", speaks=["Kubernetes"], tz=tz),
        OUTSIDER: make_person(db, standin, OUTSIDER, "Bo Novak", "Finance", speaks=["Budgeting"], tz=tz),
        "UADMIN": make_person(db, standin, "UADMIN", "Ada Admin", "Finance", tz=tz),
    }


# -- what the app did after a forged request ------------------------------------------------------------


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after; not the report roll-ups'
    bookkeeping (marks, built days), which follows any answer and holds nothing of its own,
    nor the fingerprint of the forger's own App Home (its refresh is the forger's to see)."""
    with db.engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(table.select())), key=repr)
            for table in Base.metadata.sorted_tables
            if not table.name.startswith("report_rollup_") and table.name != "home_views"
        }


class Watch:
    """Records the database, Web API calls and response_url posts from here on."""

    def __init__(self, db: Database, standin: SlackStandIn, server: AppServer, forger: str) -> None:
        self.db, self.standin, self.server, self.forger = db, standin, server, forger
        self.before = dump(db)
        self._calls = len(standin.calls)
        self._responses = len(standin.responses)

    def settle(self) -> Watch:
        self.server.settle()
        return self

    @property
    def calls(self) -> list[Any]:
        return self.standin.calls[self._calls :]

    @property
    def responses(self) -> list[Any]:
        return self.standin.responses[self._responses :]

    def changes(self) -> dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """table -> (rows gone, rows new) since the watch began."""
        after = dump(self.db)
        changed = {}
        for table, rows in after.items():
            old = self.before[table]
            gone = [r for r in old if r not in rows]
            new = [r for r in rows if r not in old]
            if gone or new:
                changed[table] = (gone, new)
        return changed

    def _is_forgers(self, call: Any) -> bool:
        method, params = call.method, call.params
        own_dm = {self.forger, self.standin.dm_channel(self.forger)}
        if method in READS:
            return True
        if method == "views.publish":
            return params.get("user_id") == self.forger
        if method in ("views.open", "views.push", "views.update"):
            view_id = str((call.response.get("view") or {}).get("id", ""))
            return bool(view_id) and self.standin.view_user(view_id) == self.forger
        if method == "conversations.open":
            return str(params.get("users", "")) == self.forger
        if method in ("chat.postMessage", "chat.update"):
            return str(params.get("channel", "")) in own_dm
        if method == "chat.postEphemeral":
            return params.get("user") == self.forger
        return False  # files, group DMs, other channels, anything unforeseen

    def shown_to_others(self) -> list[str]:
        """Web API calls and response_url posts that someone other than the forger would notice."""
        seen = [
            f"{c.method} {c.params.get('channel') or c.params.get('user_id') or c.params.get('users') or ''}"
            for c in self.calls
            if not self._is_forgers(c)
        ]
        for r in self.responses:
            if r.user_id != self.forger:
                seen.append(f"response_url of {r.user_id}: {r.payload}")
            elif r.payload.get("response_type") == "in_channel" or r.payload.get("replace_original"):
                seen.append(f"a reply everyone in the conversation sees: {r.payload}")
        return seen

    def told_forger(self) -> str:
        """Everything the forger was told: ephemeral replies and DMs."""
        texts = [json.dumps(r.payload) for r in self.responses if r.user_id == self.forger]
        texts += [
            json.dumps(c.params.get("text")) + json.dumps(c.params.get("blocks"))
            for c in self.calls
            if c.method == "chat.postMessage" and self._is_forgers(c)
        ]
        return "\n".join(texts)

    def views_opened(self) -> list[dict[str, Any]]:
        return [c.response["view"] for c in self.calls if c.ok and c.method in ("views.open", "views.push")]

    def assert_untouched(self, reply: str | None = None) -> None:
        """Nothing stored, nobody else told; the forger got `reply` (if given) and no modal."""
        self.settle()
        assert self.changes() == {}
        assert self.shown_to_others() == []
        assert self.views_opened() == []
        if reply is not None:
            assert reply in self.told_forger()


def wait_for_reply(standin: SlackStandIn, user_id: str, text: str) -> None:
    standin.wait_for(lambda: any(r.user_id == user_id and text in str(r.payload) for r in standin.responses))


def person_row(db: Database, slack_user_id: str) -> dict[str, Any]:
    with db.engine.connect() as connection:
        row = connection.execute(Person.__table__.select().where(Person.slack_user_id == slack_user_id)).one()
        return dict(row._mapping)


# Where each table keeps the person a row belongs to: their own row, their profile's topics, and
# what search keeps precomputed from them (services/expert_ranks.py).
PERSON_COLUMN = {"people": 0, "person_topics": 0, "person_ranks": 0, "expert_ranks": 1}


def only_rows_of(changes: dict[str, Any], person_id: int) -> bool:
    """True when every changed row is the person's own row, a profile row or a row derived from them."""
    for table, (gone, new) in changes.items():
        for row in gone + new:
            if table in PERSON_COLUMN and row[PERSON_COLUMN[table]] == person_id:
                continue
            return False
    return True


def message_with(standin: SlackStandIn, channel: str, action_id: str) -> dict[str, Any]:
    """The latest message in `channel` (a user's DM or a group DM) carrying `action_id`."""
    return next(m for m in reversed(standin.messages_in(channel)) if action_id in json.dumps(m.get("blocks")))


def intro_message(standin: SlackStandIn, text: str) -> dict[str, Any]:
    """A group DM intro as the stand-in holds it (with its ts, so clicks come from its channel)."""
    call = next(c for c in group_dms(standin) if text in str(c.params.get("text")))
    found = standin.find_message(str(call.response["ts"]))
    assert found is not None
    return found[1]


def request_status(db: Database) -> list[tuple[str, Any]]:
    with db.session() as session:
        return [(str(r.status), r.responded_at) for r in session.scalars(select(ChatRequest))]


# -- requests: Accept / Decline / Suggest someone else ---------------------------------------------------


@pytest.mark.parametrize("action_id", [ACCEPT_ACTION, DECLINE_ACTION, REDIRECT_ACTION])
def test_only_the_addressed_expert_answers_a_request(
    action_id: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    dm = request_dm(standin, "UEXP")
    server.settle()

    for forger in (OUTSIDER, "ULENA"):  # someone else, and the requester herself
        watch = Watch(db, standin, server, forger)
        slack.block_action(forger, action_id, message=dm)
        wait_for_reply(standin, forger, "Only Omar Haddad can answer this request")
        watch.assert_untouched("Only Omar Haddad can answer this request")
        assert "request_accept" in json.dumps(standin.messages_in("UEXP")[-1]["blocks"])  # buttons intact

    # The very same payload works for the expert.
    slack.block_action("UEXP", action_id, message=dm)
    if action_id == ACCEPT_ACTION:
        standin.wait_for(lambda: request_status(db)[0][0] == RequestStatus.ACCEPTED)
    else:
        wanted = DECLINE_CALLBACK if action_id == DECLINE_ACTION else REDIRECT_CALLBACK
        standin.wait_for(lambda: last_view_opened(standin, "UEXP").get("callback_id") == wanted)


def test_request_buttons_copied_from_the_experts_home_change_nothing(
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    ask(slack, standin, "ULENA", "UEXP")
    request_dm(standin, "UEXP")
    slack.event({"type": "app_home_opened", "user": "UEXP", "tab": "home"})
    standin.wait_for(lambda: ACCEPT_ACTION in json.dumps(standin.home_view("UEXP")))
    server.settle()
    home = standin.home_view("UEXP")
    assert home is not None

    for action_id in (ACCEPT_ACTION, DECLINE_ACTION, REDIRECT_ACTION):
        watch = Watch(db, standin, server, OUTSIDER)
        slack.block_action(OUTSIDER, action_id, view=home)
        watch.assert_untouched()


def open_answer_modal(
    slack: SlackAppClient, standin: SlackStandIn, action_id: str, callback_id: str
) -> dict[str, Any]:
    slack.block_action("UEXP", action_id, message=request_dm(standin, "UEXP"))
    standin.wait_for(lambda: last_view_opened(standin, "UEXP").get("callback_id") == callback_id)
    return last_view_opened(standin, "UEXP")


def decline_values(reason: str) -> dict[str, Any]:
    return {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}


def redirect_values(colleague: str) -> dict[str, Any]:
    return {
        "colleague": {"colleague_select": {"type": "users_select", "selected_user": colleague}},
        "note": {"note_input": {"type": "plain_text_input", "value": "They know this better"}},
    }


@pytest.mark.parametrize(
    ("action_id", "callback_id", "values"),
    [
        (DECLINE_ACTION, DECLINE_CALLBACK, decline_values("Busy month, sorry")),
        (REDIRECT_ACTION, REDIRECT_CALLBACK, redirect_values("UOTH1")),
        # A colleague infochat has never seen: not even a placeholder row may appear.
        (REDIRECT_ACTION, REDIRECT_CALLBACK, redirect_values("UNEWCOMER")),
    ],
    ids=["decline", "redirect", "redirect-to-a-stranger"],
)
def test_a_forged_answer_modal_is_refused_and_changes_nothing(
    action_id: str,
    callback_id: str,
    values: dict[str, Any],
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    standin.add_user("UNEWCOMER", name="newcomer", real_name="Nia Newcomer")
    ask(slack, standin, "ULENA", "UEXP")
    modal = open_answer_modal(slack, standin, action_id, callback_id)
    assert modal["private_metadata"]  # the request id, as the expert's modal carries it
    server.settle()

    for forger in (OUTSIDER, "ULENA"):  # someone else, and the requester herself
        watch = Watch(db, standin, server, forger)
        answer = slack.view_submission(forger, modal, values).json()
        assert answer["response_action"] == "errors"
        assert "Only Omar Haddad can answer this request" in json.dumps(answer["errors"])
        watch.assert_untouched()
        assert "request_accept" in json.dumps(standin.messages_in("UEXP")[-1]["blocks"])  # still answerable

    # The expert's own submission of that modal goes through.
    assert slack.view_submission("UEXP", modal, values).status_code == 200
    wanted = RequestStatus.DECLINED if callback_id == DECLINE_CALLBACK else RequestStatus.REDIRECTED
    assert request_status(db)[0][0] == wanted


# -- Mark as done, Can't make it, Don't pair us again ---------------------------------------------------


def accepted_intro(slack: SlackAppClient, standin: SlackStandIn) -> dict[str, Any]:
    ask(slack, standin, "ULENA", "UEXP")
    slack.block_action("UEXP", ACCEPT_ACTION, message=request_dm(standin, "UEXP"))
    standin.wait_for(lambda: len(group_dms(standin)) == 1)
    return intro_message(standin, "Introducing")


def test_only_people_in_the_chat_mark_a_requested_chat_done(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    intro = accepted_intro(slack, standin)
    server.settle()
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, MARK_DONE_ACTION, message=intro)
    wait_for_reply(standin, OUTSIDER, "Only the people in this chat")
    watch.assert_untouched("Only the people in this chat can mark it as done")

    slack.block_action("ULENA", MARK_DONE_ACTION, message=intro)
    standin.wait_for(lambda: any("marked this chat as done" in str(r.payload) for r in standin.responses))
    with db.session() as session:
        assert session.scalar(select(Chat.done_at)) is not None


@pytest.fixture
def pairing_intro(
    db: Database, standin: SlackStandIn, server: AppServer, people: dict[str, int]
) -> dict[str, Any]:
    zone = daytime_zone(utcnow())
    for user, name, function, speaks, learns in (
        ("UA", "Ana Silva", "Sales", "Negotiation", "Python"),
        ("UC", "Cy Okafor", "Engineering", "Python", "Negotiation"),
    ):
        make_person(db, standin, user, name, function, speaks=[speaks], learns=[learns], tz=zone, weekly=True)
    report = make_round(server.app.ctx)
    assert report.pairs == 1
    call = next(
        c for c in standin.calls_to("chat.postMessage") if "This week's infochat pairing" in str(c.params)
    )
    found = standin.find_message(str(call.response["ts"]))
    assert found is not None
    server.settle()
    return found[1]


@pytest.mark.parametrize(
    ("action_id", "reply"),
    [
        (CANT_MAKE_IT_ACTION, "Only the people in this pairing"),
        (NO_REPEAT_ACTION, "Only the people in this pairing"),
        (MARK_DONE_ACTION, "Only the people in this chat"),
    ],
    ids=["cant-make-it", "dont-pair-again", "mark-done"],
)
def test_only_the_pair_uses_the_pairing_buttons(
    action_id: str,
    reply: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    pairing_intro: dict[str, Any],
) -> None:
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, action_id, message=pairing_intro)
    wait_for_reply(standin, OUTSIDER, reply)
    watch.assert_untouched(reply)

    # The same button works for Ana.
    slack.block_action("UA", action_id, message=pairing_intro)

    def took_effect() -> bool:
        with db.session() as session:
            chat = session.scalars(select(Chat).where(Chat.kind == ChatKind.PAIRING)).one()
            if action_id == CANT_MAKE_IT_ACTION:
                return chat.cancelled_at is not None
            if action_id == MARK_DONE_ACTION:
                return chat.done_at is not None
            return session.scalar(select(func.count()).select_from(PairingBlock)) == 1

    standin.wait_for(took_effect)


# -- follow-ups: We met / Not yet / We couldn't meet and their modals ---------------------------------------


@pytest.fixture
def checkin(db: Database, server: AppServer, standin: SlackStandIn, people: dict[str, int]) -> dict[str, Any]:
    """Lena's check-in DM about her chat with Omar (Omar got his own)."""
    chat_id = make_chat(db, people["ULENA"], people["UEXP"])
    assert run_followups(server.app.ctx, utcnow()) == "sent 2 check-ins, 0 re-asks, 0 no-answers"
    (message,) = checkins_to(standin, "ULENA", chat_id)
    return message


def participant_row(db: Database, person_id: int) -> dict[str, Any]:
    with db.engine.connect() as connection:
        row = connection.execute(
            ChatParticipant.__table__.select().where(ChatParticipant.person_id == person_id)
        ).one()
        return dict(row._mapping)


@pytest.mark.parametrize("action_id", [MET_ACTION, NOT_YET_ACTION, COULDNT_ACTION])
def test_an_outsider_cannot_answer_a_checkin(
    action_id: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    checkin: dict[str, Any],
) -> None:
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, action_id, message=checkin)
    wait_for_reply(standin, OUTSIDER, "Only the people in this chat can answer for it")
    watch.assert_untouched("Only the people in this chat can answer for it")


@pytest.mark.parametrize("action_id", [MET_ACTION, NOT_YET_ACTION, COULDNT_ACTION])
def test_the_partner_clicking_someone_elses_checkin_answers_only_for_himself(
    action_id: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
    checkin: dict[str, Any],
) -> None:
    lena = participant_row(db, people["ULENA"])
    watch = Watch(db, standin, server, "UEXP")
    slack.block_action("UEXP", action_id, message=checkin)
    watch.settle()
    assert participant_row(db, people["ULENA"]) == lena
    assert watch.shown_to_others() == []  # Lena sees nothing; Omar's own DM and modal may change
    changed = watch.changes()
    assert set(changed) <= {"chat_participants", "chats"}
    if action_id == MET_ACTION:  # his own answer: he met her
        assert participant_row(db, people["UEXP"])["outcome"] == "met"


def open_followup_modal(
    slack: SlackAppClient, standin: SlackStandIn, action_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    before = len(standin.calls_to("views.open"))
    slack.block_action("ULENA", action_id, message=message)
    standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
    return last_view_opened(standin, "ULENA")


LEARNED_ANSWERS = {
    "learned": "Deployments roll out gradually; health checks decide when to stop.",
    "useful": 5,
    "share": "everyone",
    "thank": "Thanks so much for your time!",
    "who else": "UOTH1",
}


@pytest.mark.parametrize(
    ("action_id", "callback_id", "answers"),
    [
        (MET_ACTION, LEARNED_CALLBACK, LEARNED_ANSWERS),
        (COULDNT_ACTION, COULDNT_CALLBACK, {"reason": "no reply"}),
    ],
    ids=["learned", "couldnt"],
)
def test_an_outsider_cannot_submit_someone_elses_followup_modal(
    action_id: str,
    callback_id: str,
    answers: dict[str, Any],
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    checkin: dict[str, Any],
) -> None:
    modal = open_followup_modal(slack, standin, action_id, checkin)
    assert modal["callback_id"] == callback_id and json.loads(modal["private_metadata"])["chat"]
    server.settle()

    watch = Watch(db, standin, server, OUTSIDER)
    answer = slack.submit(OUTSIDER, modal, answers).json()
    assert answer["response_action"] == "update"
    shown = render_blocks(answer["view"]["blocks"])
    assert "Only the people in this chat can answer for it" in shown
    watch.assert_untouched()

    # Lena's own submission of the same modal is saved.
    assert slack.submit("ULENA", modal, answers).json()["response_action"] == "update"
    with db.session() as session:
        if callback_id == LEARNED_CALLBACK:
            assert session.scalar(select(func.count()).select_from(Takeaway)) == 1
        else:
            outcomes = session.scalars(select(ChatParticipant.outcome_reason)).all()
            assert "no_reply" in outcomes


@pytest.mark.parametrize(
    ("action_id", "answers"),
    [(MET_ACTION, LEARNED_ANSWERS), (COULDNT_ACTION, {"reason": "scheduling"})],
    ids=["learned", "couldnt"],
)
def test_the_partner_submitting_someone_elses_followup_modal_answers_only_for_himself(
    action_id: str,
    answers: dict[str, Any],
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
    checkin: dict[str, Any],
) -> None:
    modal = open_followup_modal(slack, standin, action_id, checkin)
    server.settle()
    lena = participant_row(db, people["ULENA"])

    slack.submit("UEXP", modal, answers)
    server.settle()
    assert participant_row(db, people["ULENA"]) == lena
    with db.session() as session:
        # Omar's answer is Omar's: the expert's short form, never a referral in Lena's name.
        assert all(t.author_id == people["UEXP"] for t in session.scalars(select(Takeaway)))
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
        assert session.scalar(select(Person.no_show_streak).where(Person.id == people["ULENA"])) == 0


# -- the ghost rule's Stay active / Pause me ---------------------------------------------------------------


@pytest.mark.parametrize("action_id", [STAY_ACTIVE_ACTION, PAUSE_ME_ACTION])
def test_ghost_rule_buttons_act_only_on_whoever_clicks(
    action_id: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    chat_id = make_chat(db, people["ULENA"], people["UEXP"])
    now = utcnow()
    with db.session() as session:
        omar = session.get(Person, people["UEXP"])
        chat = session.get(Chat, chat_id)
        assert omar is not None and chat is not None
        followups.pause_me(omar, now)
        queue_ghost_pause(session, chat, omar, now)
    delivery.deliver(server.app.ctx)
    dm = message_with(standin, "UEXP", action_id)
    omar_before = person_row(db, "UEXP")

    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, action_id, message=dm)
    watch.settle()
    assert person_row(db, "UEXP") == omar_before  # Omar stays paused (or not) as he was
    assert only_rows_of(watch.changes(), people[OUTSIDER])
    assert not [c for c in watch.calls if c.method == "views.publish" and c.params.get("user_id") == "UEXP"]
    assert all(r.user_id == OUTSIDER for r in watch.responses)
    assert [c for c in watch.calls if c.method.startswith("chat.")] == []
    if action_id == PAUSE_ME_ACTION:  # it paused the one who clicked
        assert person_row(db, OUTSIDER)["paused_until"] is not None


# -- reports: View and Download CSV on the admin's App Home ------------------------------------------------


def test_report_buttons_copied_from_an_admin_refuse_everyone_else(
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    slack.event({"type": "app_home_opened", "user": "UADMIN", "tab": "home"})
    standin.wait_for(lambda: REPORT_DOWNLOAD_CSV_ACTION in json.dumps(standin.home_view("UADMIN")))
    server.settle()
    home = standin.home_view("UADMIN")
    assert home is not None and REPORT_SHOW_ACTION in json.dumps(home)

    for action_id in (REPORT_SHOW_ACTION, REPORT_DOWNLOAD_CSV_ACTION):
        # From the App Home (no response_url), and as if it reached them in a message.
        for container in ({"view": home}, {"message": {"blocks": home["blocks"]}}):
            watch = Watch(db, standin, server, OUTSIDER)
            slack.block_action(OUTSIDER, action_id, **container)
            standin.wait_for(lambda w=watch: REFUSAL in w.told_forger())
            watch.assert_untouched(REFUSAL)
    assert standin.uploaded_files == {}


# -- App Home and confirmation buttons: they act on whoever clicks -------------------------------------------


def home_of(slack: SlackAppClient, standin: SlackStandIn, server: AppServer, user_id: str) -> dict[str, Any]:
    slack.event({"type": "app_home_opened", "user": user_id, "tab": "home"})
    standin.wait_for(lambda: standin.home_view(user_id) is not None)
    server.settle()
    home = standin.home_view(user_id)
    assert home is not None
    return home


def test_edit_profile_from_someone_elses_home_opens_the_clickers_own_profile(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    home = home_of(slack, standin, server, "ULENA")
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, EDIT_PROFILE_ACTION, view=home)
    watch.settle()
    assert watch.changes() == {} and watch.shown_to_others() == []
    (modal,) = watch.views_opened()
    assert modal["callback_id"] == PROFILE_CALLBACK
    shown = render_blocks(modal["blocks"])
    assert "Finance" in shown and "Budgeting" in shown  # Bo's profile
    assert "Sales" not in shown and "Kubernetes" not in shown  # not Lena's


@pytest.mark.parametrize("choice", ["1w", "ULENA"], ids=["a-pause-choice", "a-value-naming-lena"])
def test_pause_from_someone_elses_home_pauses_only_the_clicker(
    choice: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    home = home_of(slack, standin, server, "ULENA")
    lena = person_row(db, "ULENA")
    watch = Watch(db, standin, server, OUTSIDER)
    option = {"text": {"type": "plain_text", "text": "1 week"}, "value": choice}
    slack.block_action(OUTSIDER, PAUSE_ACTION, view=home, selected_option=option)
    watch.settle()
    assert person_row(db, "ULENA") == lena
    assert watch.shown_to_others() == []
    if choice == "1w":
        assert only_rows_of(watch.changes(), people[OUTSIDER])
        assert person_row(db, OUTSIDER)["paused_until"] is not None
    else:  # not a pause choice: nothing happens to anybody
        assert watch.changes() == {}


def test_resume_from_someone_elses_home_leaves_them_paused(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    assert "paused until" in slack.command("ULENA", "pause 2w").json()["text"]
    home = home_of(slack, standin, server, "ULENA")
    assert RESUME_ACTION in json.dumps(home)
    lena = person_row(db, "ULENA")
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, RESUME_ACTION, view=home)
    watch.settle()
    assert person_row(db, "ULENA") == lena and lena["paused_until"] is not None
    assert watch.shown_to_others() == []
    assert only_rows_of(watch.changes(), people[OUTSIDER])


@pytest.mark.parametrize("action_id", [LEAVE_CONFIRM_ACTION, LEAVE_CANCEL_ACTION])
def test_leave_buttons_copied_from_someone_else_never_touch_them(
    action_id: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    question = slack.command("ULENA", "leave").json()
    assert action_id in json.dumps(question["blocks"])
    server.settle()
    lena = person_row(db, "ULENA")
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, action_id, message={"blocks": question["blocks"]})
    watch.settle()
    assert person_row(db, "ULENA") == lena and lena["left_at"] is None
    assert [c for c in watch.calls if not watch._is_forgers(c)] == []
    assert all(r.user_id == OUTSIDER for r in watch.responses)
    if action_id == LEAVE_CANCEL_ACTION:
        assert watch.changes() == {}
    else:  # "Yes, leave" is the clicker's own answer
        assert only_rows_of(watch.changes(), people[OUTSIDER])


def test_find_paging_reruns_the_search_for_whoever_clicks(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    for i, function in enumerate(["Product", "Design", "Finance", "Product", "Sales"]):
        make_person(db, standin, f"UK{i}", f"Kay Expert{i}", function, speaks=["Kubernetes"])
    found = slack.command("ULENA", "find kubernetes").json()
    assert "Kemi Ng" in render_blocks(found["blocks"])
    page_buttons = json.dumps(found["blocks"])
    assert FIND_PAGE_ACTION in page_buttons and FIND_OWN_FUNCTION_ACTION in page_buttons
    server.settle()

    for action_id in (FIND_PAGE_ACTION, FIND_OWN_FUNCTION_ACTION):
        watch = Watch(db, standin, server, "UOTH1")  # Kemi, an Engineering expert on Kubernetes herself
        slack.block_action("UOTH1", action_id, message={"blocks": found["blocks"]})
        standin.wait_for(lambda w=watch: len(w.responses) == 1)
        watch.settle()
        assert watch.changes() == {}  # paging is not recorded as a search, for anybody
        assert [c for c in watch.calls if not watch._is_forgers(c)] == []
        (reply,) = watch.responses
        assert reply.user_id == "UOTH1"  # replaces Kemi's own copy, nobody else's
        assert "Kemi Ng" not in render_blocks(reply.payload.get("blocks"))  # results for Kemi, not Lena


# -- modals that act on whoever submits ------------------------------------------------------------------


def test_a_profile_modal_submitted_by_someone_else_saves_only_their_own_profile(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    slack.command("ULENA", "profile")
    standin.wait_for(lambda: last_view_opened(standin, "ULENA").get("callback_id") == PROFILE_CALLBACK)
    modal = last_view_opened(standin, "ULENA")
    server.settle()
    lena = person_row(db, "ULENA")
    watch = Watch(db, standin, server, OUTSIDER)
    answer = slack.submit(
        OUTSIDER,
        modal,
        {"function": "Product", "speak about": ["Budgeting"], "learn": ["Kubernetes"], "per month": "2"},
    ).json()
    assert answer["response_action"] == "update"
    watch.settle()
    assert person_row(db, "ULENA") == lena
    assert only_rows_of(watch.changes(), people[OUTSIDER])
    assert person_row(db, OUTSIDER)["function"] == "Product"
    assert watch.shown_to_others() == []


def test_asking_from_someone_elses_results_asks_as_the_clicker(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    found = slack.command("ULENA", "find kubernetes").json()
    server.settle()
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, ASK_ACTION, message={"blocks": found["blocks"]})
    watch.settle()
    assert watch.changes() == {} and watch.shown_to_others() == []
    (modal,) = watch.views_opened()
    assert modal["callback_id"] == REQUEST_CALLBACK
    assert "I'm Bo Novak" in json.dumps(modal) and "Lena" not in json.dumps(modal)


def test_a_request_modal_submitted_by_someone_else_is_their_own_request(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    slack.block_action("ULENA", ASK_ACTION, value=json.dumps({"expert": "UEXP", "topic": "Kubernetes"}))
    standin.wait_for(lambda: last_view_opened(standin, "ULENA").get("callback_id") == REQUEST_CALLBACK)
    modal = last_view_opened(standin, "ULENA")
    server.settle()

    slack.submit(OUTSIDER, modal, REQUEST)
    server.settle()
    with db.session() as session:
        (request,) = session.scalars(select(ChatRequest)).all()
        assert request.learner_id == people[OUTSIDER]  # never in Lena's name
    told = render_blocks(request_dm(standin, "UEXP")["blocks"])
    assert "Bo Novak" in told
    assert standin.messages_in("ULENA") == []


# -- nothing registered is left out ---------------------------------------------------------------------

COVERED_ACTIONS = {
    ASK_ACTION,
    ACCEPT_ACTION,
    DECLINE_ACTION,
    REDIRECT_ACTION,
    MARK_DONE_ACTION,
    CANT_MAKE_IT_ACTION,
    NO_REPEAT_ACTION,
    MET_ACTION,
    NOT_YET_ACTION,
    COULDNT_ACTION,
    STAY_ACTIVE_ACTION,
    PAUSE_ME_ACTION,
    REPORT_SHOW_ACTION,
    REPORT_DOWNLOAD_CSV_ACTION,
    EDIT_PROFILE_ACTION,
    PAUSE_ACTION,
    RESUME_ACTION,
    LEAVE_CONFIRM_ACTION,
    LEAVE_CANCEL_ACTION,
    FIND_PAGE_ACTION,
    FIND_OWN_FUNCTION_ACTION,
    FIND_ACTION,
    SUGGEST_ACTION,
    RESCHEDULE_ACTION,
    CANCEL_ACTION,
    GOOGLE_ACTION,
    OUTLOOK_ACTION,
}
COVERED_VIEWS = {
    REQUEST_CALLBACK,
    DECLINE_CALLBACK,
    REDIRECT_CALLBACK,
    LEARNED_CALLBACK,
    COULDNT_CALLBACK,
    PROFILE_CALLBACK,
    PICK_CALLBACK,
    SUGGEST_CALLBACK,
    CANCEL_CALLBACK,
}


# -- Find a time, Suggest your own time, Reschedule, Cancel and their modals ----------------------------


def _opened_by(
    slack: SlackAppClient,
    standin: SlackStandIn,
    server: AppServer,
    user: str,
    action: str,
    message: dict[str, Any],
) -> dict[str, Any]:
    before = len(standin.calls_to("views.open"))
    slack.block_action(user, action, message=message)
    standin.wait_for(lambda: len(standin.calls_to("views.open")) > before)
    server.settle()
    return last_view_opened(standin, user)


def _first_time(modal: dict[str, Any]) -> str:
    block = next(b for b in modal["blocks"] if b.get("block_id") == "slots")
    return str(block["element"]["options"][0]["text"]["text"])


@pytest.mark.parametrize("action_id", [FIND_ACTION, SUGGEST_ACTION], ids=["find-a-time", "suggest"])
def test_only_people_in_the_chat_find_a_time(
    action_id: str,
    slack: SlackAppClient,
    standin: SlackStandIn,
    db: Database,
    server: AppServer,
    people: dict[str, int],
) -> None:
    intro = accepted_intro(slack, standin)
    _opened_by(slack, standin, server, "ULENA", FIND_ACTION, intro)  # the list of times, with both buttons
    located = standin.find_message(str(intro["ts"]))
    assert located is not None
    listed = next(m for m in standin.messages_in(located[0]) if SUGGEST_ACTION in str(m))
    watch = Watch(db, standin, server, OUTSIDER)
    slack.block_action(OUTSIDER, action_id, message=listed)
    wait_for_reply(standin, OUTSIDER, "Only the people in this chat")
    watch.assert_untouched("Only the people in this chat can choose its time")
    # The same button opens Lena's modal.
    assert _opened_by(slack, standin, server, "ULENA", action_id, listed)["callback_id"] in (
        PICK_CALLBACK,
        SUGGEST_CALLBACK,
    )


def test_only_people_in_the_chat_pick_reschedule_or_cancel(
    slack: SlackAppClient, standin: SlackStandIn, db: Database, server: AppServer, people: dict[str, int]
) -> None:
    intro = accepted_intro(slack, standin)
    server.settle()
    lena = _opened_by(slack, standin, server, "ULENA", FIND_ACTION, intro)
    located = standin.find_message(str(intro["ts"]))
    assert located is not None
    listed = next(m for m in standin.messages_in(located[0]) if SUGGEST_ACTION in str(m))
    suggest = _opened_by(slack, standin, server, "ULENA", SUGGEST_ACTION, listed)

    # Lena's modals, submitted as someone else: refused, nothing changes.
    watch = Watch(db, standin, server, OUTSIDER)
    answer = slack.submit(OUTSIDER, lena, {"times that work": _first_time(lena)}).json()
    assert answer["response_action"] == "errors" and "Only the people" in answer["errors"]["slots"]
    values = slack.fill(suggest, {})
    values["when"] = {
        "when_picker": {"type": "datetimepicker", "selected_date_time": int(utcnow().timestamp()) + 86400}
    }
    answer = slack.view_submission(OUTSIDER, suggest, values).json()
    assert answer["response_action"] == "errors" and "Only the people" in answer["errors"]["when"]
    watch.assert_untouched()

    slack.submit("ULENA", lena, {"times that work": _first_time(lena)})
    expert = _opened_by(slack, standin, server, "UEXP", FIND_ACTION, intro)
    slack.submit("UEXP", expert, {"times that work": _first_time(expert)})
    server.settle()
    confirmation = next(m for m in standin.messages_in(located[0]) if RESCHEDULE_ACTION in str(m))

    watch = Watch(db, standin, server, OUTSIDER)
    for action_id in (RESCHEDULE_ACTION, CANCEL_ACTION):
        slack.block_action(OUTSIDER, action_id, message=confirmation)
        wait_for_reply(standin, OUTSIDER, "Only the people in this chat")
    # The calendar links open in the browser: the app only acknowledges them.
    for action_id in (GOOGLE_ACTION, OUTLOOK_ACTION):
        slack.block_action(OUTSIDER, action_id, message=confirmation)
    watch.assert_untouched("Only the people in this chat can choose its time")

    cancel = _opened_by(slack, standin, server, "ULENA", CANCEL_ACTION, confirmation)
    watch = Watch(db, standin, server, OUTSIDER)
    answer = slack.submit(OUTSIDER, cancel, {"why": "Not my chat, but let's cancel it"}).json()
    assert answer["response_action"] == "errors" and "Only the people" in answer["errors"]["reason"]
    watch.assert_untouched()


def test_every_registered_action_and_modal_is_covered_here(server: AppServer) -> None:
    registry = server.app.registry
    assert registry.actions == COVERED_ACTIONS
    assert registry.views == COVERED_VIEWS
