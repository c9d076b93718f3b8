"""`infochat demo`: the real app, a Slack stand-in and a synthetic company.

Plays the user journeys that exist and prints what each person sees in Slack.
No Slack account, no network, nothing to configure. Each journey is a
function in JOURNEYS; later capabilities add theirs.
"""

from __future__ import annotations

import html
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import migrate
from bot.clock import utcnow
from bot.db import Database
from bot.devtools.company import Employee, make_company
from bot.devtools.demo_followups import journey_followup
from bot.devtools.demo_scheduling import journey_scheduling
from bot.devtools.demo_stage import Demo
from bot.devtools.history import make_history
from bot.devtools.runner import AppServer
from bot.devtools.slack_client import SlackAppClient, last_view_opened
from bot.devtools.standin import SlackStandIn, render_blocks
from bot.flows import outbox as delivery
from bot.flows import pairing as pairing_flow
from bot.flows.reports import write_report
from bot.gateway.slack import TokenBucket
from bot.models import PersonTopic, Topic, TopicKind
from bot.services import reports
from bot.settings import load_settings

DEMO_SECRET = "demo-signing-secret"
DEMO_TOKEN = "xoxb-demo"


Journey = Callable[[Demo], None]


def journey_help(demo: Demo) -> None:
    ada = demo.people[0]
    demo.say(f"{ada.name} ({ada.function}) types `/infochat help`")
    response = demo.slack.command(ada.user_id, "help")
    text = html.unescape(response.json()["text"])
    print("   ephemeral to " + ada.name + ":\n     " + text.replace("\n", "\n     "))


def journey_app_home(demo: Demo) -> None:
    person = demo.people[1]
    demo.say(f"{person.name} opens infochat's App Home")
    demo.slack.event({"type": "app_home_opened", "user": person.user_id, "tab": "home"})
    demo.standin.wait_for(lambda: bool(demo.standin.calls_to("views.publish")))
    demo.show()


# People type the same topic in different ways; the catalogue folds them together.
KUBERNETES_SPELLINGS = ["K8s", "kubernetes ", "Kubernetes", "k8s"]


def profile_answers(person: Employee, spelling: int = 0) -> dict[str, object]:
    speaks = [
        KUBERNETES_SPELLINGS[spelling % len(KUBERNETES_SPELLINGS)] if topic == "Kubernetes" else topic
        for topic in person.speaks
    ]
    return {
        "function": person.function,
        "speak about": speaks,
        "learn": person.learns,
        "per month": "2",
        "weekly": True,
    }


def journey_profiles(demo: Demo) -> None:
    first = demo.people[2]
    demo.say(f"{first.name} runs `/infochat profile`")
    demo.slack.command(first.user_id, "profile")
    demo.standin.wait_for(lambda: bool(demo.standin.calls_to("views.open")))
    view = last_view_opened(demo.standin)
    demo.show()
    inputs = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    print("   fields: " + " · ".join(inputs))
    demo.say(
        f"{first.name} picks {first.function}, can speak about {', '.join(first.speaks)}, "
        f"wants to learn {', '.join(first.learns)}, and saves"
    )
    answer = demo.slack.submit(first.user_id, view, profile_answers(first)).json()
    print("   modal now shows:\n     " + render_blocks(answer["view"]["blocks"]).replace("\n", "\n     "))
    demo.standin.wait_for(lambda: bool(demo.standin.home_view(first.user_id)))
    demo.show()

    demo.say(f"Everyone else ({len(demo.people) - 1} people) saves a profile the same way")
    k8s_speakers = [p for p in demo.people if "Kubernetes" in p.speaks]
    spelling = {p.user_id: k8s_speakers.index(p) if p in k8s_speakers else 0 for p in demo.people}
    for person in demo.people:
        if person is first:
            continue
        demo.slack.command(person.user_id, "join")
        demo.standin.wait_for(lambda p=person: _modal_for(demo, p.user_id) is not None)
        modal = _modal_for(demo, person.user_id)
        assert modal is not None
        demo.slack.submit(person.user_id, modal, profile_answers(person, spelling[person.user_id]))
    demo.standin.wait_for(lambda: all(demo.standin.home_view(p.user_id) for p in demo.people), timeout=30)
    demo._seen = len(demo.standin.transcript())  # don't print 35 more modals and homes
    print(f"   {len(demo.people)} profiles saved. The company's topic catalogue now holds:")
    typed = [KUBERNETES_SPELLINGS[spelling[p.user_id] % len(KUBERNETES_SPELLINGS)] for p in k8s_speakers]
    print("     (today's newcomers typed Kubernetes as " + ", ".join(repr(t) for t in typed) + ")")
    with demo.server.app.ctx.db.session() as session:
        for name, speakers in catalogue(session)[:8]:
            print(f"     {name}: {speakers} can speak about it")

    pauser = demo.people[3]
    demo.say(f"{pauser.name} is off for a fortnight: `/infochat pause 2w`")
    print(
        "   ephemeral to "
        + pauser.name
        + ": "
        + demo.slack.command(pauser.user_id, "pause 2w").json()["text"]
    )
    demo.say(f"{pauser.name} is back early: `/infochat resume`")
    print(
        "   ephemeral to " + pauser.name + ": " + demo.slack.command(pauser.user_id, "resume").json()["text"]
    )
    demo.standin.wait_for(lambda: "Paused until" not in str(demo.standin.home_view(pauser.user_id)))
    demo.server.settle()
    # Only the pauser's Home: an admin's Home, republished because the figures moved, is not this step's.
    demo._seen = len(demo.standin.transcript())
    home = demo.standin.home_view(pauser.user_id)
    assert home is not None
    shown = render_blocks(home["blocks"], demo.names()).replace("\n", "\n   ")
    print(f"   App Home of {pauser.name}: {shown}")


def catalogue(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Topic.name, func.count(PersonTopic.person_id))
        .join(PersonTopic)
        .where(PersonTopic.kind == TopicKind.SPEAK)
        .group_by(Topic.name)
        .order_by(func.count(PersonTopic.person_id).desc(), Topic.name)
    )
    return [(str(name), int(count)) for name, count in rows]


def _modal_for(demo: Demo, user_id: str) -> dict[str, object] | None:
    for call in reversed(demo.standin.calls_to("views.open")):
        if demo.standin.view_user(str(call.response.get("view", {}).get("id", ""))) == user_id:
            return demo.standin.view(str(call.response["view"]["id"]))
    return None


def journey_find_and_ask(demo: Demo) -> None:
    learner = next(p for p in demo.people if "Negotiation" in p.learns and p.function != "Sales")
    demo.say(f"{learner.name} ({learner.function}) wants to learn negotiation: `/infochat find negotiation`")
    found = demo.slack.command(learner.user_id, "find negotiation").json()
    demo.print_message(f"ephemeral to {learner.name}", found)
    ask = next(
        element
        for block in found["blocks"]
        for element in ([block.get("accessory")] if block.get("accessory") else [])
        if element.get("action_id") == "ask_for_chat"
    )
    expert_id = json.loads(ask["value"])["expert"]
    expert = demo.person(expert_id)
    demo.say(f"{learner.name} clicks `Ask for a chat` next to {expert.name}")
    before = len(demo.standin.calls_to("views.open"))
    demo.slack.block_action(learner.user_id, "ask_for_chat", value=ask["value"])
    demo.standin.wait_for(lambda: len(demo.standin.calls_to("views.open")) > before)
    modal = last_view_opened(demo.standin)
    print("   modal: " + render_blocks(modal["blocks"]).replace("\n", "\n     "))
    demo.say(
        f"{learner.name} writes a short intro and what they want to learn, keeps the questions, and sends it"
    )
    answers = {
        "introduce": f"Hi! I'm {learner.name}, {learner.title} in {learner.function}.",
        "want to learn": "How you prepare for a tough negotiation, and what you'd tell a beginner.",
    }
    demo.slack.submit(learner.user_id, modal, answers)
    demo.standin.wait_for(
        lambda: any("request_accept" in str(m) for m in demo.standin.messages_in(expert.user_id))
    )
    request_dm = next(m for m in demo.standin.messages_in(expert.user_id) if "request_accept" in str(m))
    demo.print_message(f"DM to {expert.name}", request_dm)
    demo.say(f"{expert.name} clicks `Accept`")
    demo.slack.block_action(expert.user_id, "request_accept", message=request_dm)
    demo.standin.wait_for(
        lambda: any(
            "Meet your infochat partner" in str(c.params) for c in demo.standin.calls_to("chat.postMessage")
        )
    )
    intro = next(
        c for c in demo.standin.calls_to("chat.postMessage") if "Meet your infochat partner" in str(c.params)
    )
    demo.print_message(f"group DM {learner.name}, {expert.name}", intro.params)
    demo.standin.wait_for(lambda: "You accepted" in str(demo.standin.messages_in(expert.user_id)[-1]))
    outcome = demo.standin.messages_in(expert.user_id)[-1]["blocks"][-1]
    print(f"   {expert.name}'s request DM now ends: {render_blocks([outcome])}")
    demo._seen = len(demo.standin.transcript())


def journey_weekly_round(demo: Demo) -> None:
    ctx = demo.server.app.ctx
    demo.say("The weekly round runs (on schedule: Mondays 09:00; `infochat pair` runs it now)")
    dry = pairing_flow.run_round(ctx, utcnow(), seed=2026, dry_run=True)
    print("   `infochat pair --dry-run` would print:")
    for line in pairing_flow.describe(dry)[:9]:
        print("     " + line)
    report = pairing_flow.run_round(ctx, utcnow(), seed=2026)
    print(
        f"   round {report.week}: {report.participants} people, {report.pairs} pairs, {report.trios} trios, "
        f"{len(report.unmatched)} unmatched"
    )
    held = [g for g in report.groups if g.deliver_at > utcnow()]
    if held:
        latest = max(g.deliver_at for g in held)
        print(f"   {len(held)} intros wait for 08:00 in someone's time zone; the demo fast-forwards to then")
        delivery.deliver(ctx, as_of=latest)
    again = pairing_flow.run_round(ctx, utcnow(), seed=2026)
    print(f"   a second run the same week: {'nothing new' if again.existed else 'a new round?!'}")
    names = demo.names()
    shown = 0
    for call in demo.standin.calls_to("chat.postMessage"):
        if "This week's infochat pairing" in str(call.params.get("text")) and shown < 2:
            print(
                "   group DM:\n     " + render_blocks(call.params["blocks"], names).replace("\n", "\n     ")
            )
            shown += 1
    admin = demo.people[-1]
    summary = next(
        (m for m in demo.standin.messages_in(admin.user_id) if "Pairing round" in str(m.get("blocks"))), None
    )
    if summary is not None:
        demo.print_message(f"DM to {admin.name} (programme admin)", summary)
    demo._seen = len(demo.standin.transcript())


def journey_report(demo: Demo) -> None:
    admin = demo.people[-1]
    demo.say(f"{admin.name}, a programme admin, types `/infochat report`")
    earlier = len(demo.standin.uploaded_files)  # the chat's calendar invite, already shared
    answer = demo.slack.command(admin.user_id, "report").json()
    print(f"   ephemeral to {admin.name}: {answer.get('text', '')}")
    # The report always sends its three charts (a chart with nothing to draw says so in words).
    demo.standin.wait_for(lambda: len(demo.standin.uploaded_files) >= earlier + 3, timeout=60)
    summary = next(
        (m for m in demo.standin.messages_in(admin.user_id) if "report" in str(m.get("text", "")).lower()),
        None,
    )
    if summary is not None:
        demo.print_message(f"DM to {admin.name}", summary)
    for name, data, _ in list(demo.standin.uploaded_files.values())[earlier:]:
        (demo.folder / name).write_bytes(data)
        print(f"   chart uploaded to {admin.name}'s DM: {name} ({len(data):,} bytes, saved in {demo.folder})")
    journey_report_files(demo)
    someone = demo.people[4]
    demo.say(f"{someone.name}, not an admin, tries the same")
    refusal = demo.slack.command(someone.user_id, "report").json().get("text", "")
    print(f"   ephemeral to {someone.name}: {refusal}")
    demo._seen = len(demo.standin.transcript())


def journey_report_files(demo: Demo) -> None:
    out = demo.folder / "report"
    demo.say(f"IT exports the same report as files: `infochat report --format csv|json|png --out {out}`")
    settings, db = demo.server.settings, demo.server.app.ctx.db
    period = reports.parse_period("", utcnow(), settings.timezone)
    out.mkdir(parents=True, exist_ok=True)
    for fmt in ("csv", "json", "png"):
        written, report = write_report(db, settings, period, fmt, out)
        print(f"   {fmt}: {len(written)} files, e.g. {written[0].name}")
    participation = next(p for p in sorted(out.glob("*.csv")) if "participation" in p.name)
    print(f"   {participation.name} ({period.label}; * = fewer than {report.min_group_size} people, hidden):")
    for line in participation.read_text().splitlines()[:8]:
        print("     " + line)


JOURNEYS: list[tuple[str, Journey]] = [
    ("Getting started", journey_help),
    ("App Home", journey_app_home),
    ("Profiles", journey_profiles),
    ("Find someone and ask for a chat", journey_find_and_ask),
    ("The weekly pairing round", journey_weekly_round),
    ("Finding a time: Find a time, the invite, the reminder", journey_scheduling),
    ("Follow-up: what did you learn?", journey_followup),
    ("HR report", journey_report),
]


def run_demo(
    directory: str | None = None, *, size: int = 36, colleagues: int = 264, history_weeks: int = 26
) -> int:
    """The demo: `size` people join today and play the journeys; `colleagues` more have
    `history_weeks` weeks of chats behind them, so that the HR report has numbers."""
    # The demo prints what people see; server chatter would drown it.
    logging.getLogger().setLevel(logging.WARNING)
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="infochat-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"infochat demo: the database, the report and the charts go to {folder}")
    database_url = f"sqlite:///{folder / 'infochat.db'}"
    everyone = make_company(size + colleagues)
    people, history_people = everyone[:size], everyone[size:]
    # Slack's trigger ids last 3 s; on a loaded laptop or CI machine the demo's modals may
    # open later than that, which says nothing about the app (tests hold it to 3 s).
    with SlackStandIn(bot_token=DEMO_TOKEN, trigger_ttl=30.0) as standin:
        for person in everyone:
            standin.add_user(
                person.user_id,
                name=person.handle,
                real_name=person.name,
                title=person.title,
                tz=person.tz,
                email=person.email,
            )
        settings = load_settings(
            slack_bot_token=DEMO_TOKEN,
            slack_signing_secret=DEMO_SECRET,
            slack_api_url=standin.url,
            database_url=database_url,
            functions=sorted({p.function for p in everyone}),
            admins=[people[-1].user_id],
            followup_after="0s",
            auto_migrate=False,
        )
        db = Database(database_url)
        migrate.upgrade(db)
        print(f"Slack is a local stand-in at {standin.root}; nothing leaves this machine.")
        if history_people:
            print(
                f"Writing {history_weeks} weeks of chats for {len(history_people)} colleagues through "
                "the app's own services (a minute or two)…"
            )
            history = make_history(db, history_people, utcnow(), weeks=history_weeks)
            print(f"The company so far: {history}.")
        print(
            f"Today {len(people)} more people join; the demo follows them "
            f"({len(settings.functions)} functions: {', '.join(settings.functions)})."
        )
        with AppServer(settings, db=db) as server:
            # Slack allows ~50 conversations.open a minute and the gateway paces itself to
            # that; the stand-in has no such limit, and the demo should not crawl.
            server.app.ctx.slack.open_limiter = TokenBucket(rate_per_second=1000, burst=1000)
            slack = SlackAppClient(server.events_url, DEMO_SECRET, standin)
            demo = Demo(
                standin=standin, slack=slack, server=server, people=people, everyone=everyone, folder=folder
            )
            for title, journey in JOURNEYS:
                print(f"\n══ {title} ══")
                journey(demo)
                demo.show()
            slack.close()
            server.settle()
        refusals = list(standin.refusals)
    if refusals:
        # The stand-in is as strict as Slack: anything it refused, real Slack would have refused.
        print(f"\nSlack would have refused {len(refusals)} call(s):")
        for refusal in refusals:
            print(f"   {refusal}")
        return 1
    print(f"\nThe demo's database, report files and charts are in {folder}")
    return 0
