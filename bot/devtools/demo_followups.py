"""The demo's follow-up journey: check-in, `We met`, what I learned, thanks, a referral, the library.

Runs after "Find someone and ask for a chat", where one request was accepted
(the demo's settings have INFOCHAT_FOLLOWUP_AFTER=0s, so that chat is due at once).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.clock import utcnow
from bot.devtools.demo_stage import Demo
from bot.devtools.slack_client import last_view_opened
from bot.flows.followups import run_followups
from bot.models import Chat, ChatKind, ChatRole
from bot.services import followups


def journey_followup(demo: Demo) -> None:
    ctx = demo.server.app.ctx
    with ctx.db.session() as session:
        chat = session.scalars(
            select(Chat).where(Chat.kind == ChatKind.REQUEST).order_by(Chat.id.desc()).limit(1)
        ).first()
        if chat is None:
            print("   (no accepted request to follow up on)")
            return
        roles = {p.role: p.person.slack_user_id for p in chat.participants}
        topic = followups.chat_topic(session, chat)
        chat_id = chat.id
    learner, expert = demo.person(roles[ChatRole.LEARNER]), demo.person(roles[ChatRole.EXPERT])

    demo.say("The follow-up job runs (`infochat followups`; the demo's INFOCHAT_FOLLOWUP_AFTER is 0s)")
    print("   " + run_followups(ctx, utcnow()))
    checkin = demo.dm_with(learner.user_id, f"checkin_{chat_id}")
    demo.print_message(f"DM to {learner.name}", checkin)
    demo.dm_with(expert.user_id, f"checkin_{chat_id}")
    print(f"   ({expert.name} got the same check-in.)")
    demo.say("It runs again a minute later")
    print("   " + run_followups(ctx, utcnow()) + "  — nothing twice")

    demo.say(f"{learner.name} clicks `We met`")
    before = len(demo.standin.calls_to("views.open"))
    demo.slack.block_action(learner.user_id, "followup_met", message=checkin)
    demo.standin.wait_for(lambda: len(demo.standin.calls_to("views.open")) > before)
    demo.server.settle()  # the modal opens first; `We met` is stored just after
    modal = last_view_opened(demo.standin, learner.user_id)
    inputs = [b["label"]["text"] for b in modal["blocks"] if b["type"] == "input"]
    print("   modal fields: " + " · ".join(inputs))

    colleague = next(
        (p for p in demo.people if topic in p.speaks and p not in (learner, expert)),
        next(p for p in demo.people if p not in (learner, expert)),
    )
    demo.say(
        f"{learner.name} notes what they learned (useful: 5, shared with everyone), thanks {expert.name}, "
        f"and adds {colleague.name}, whom {expert.name} suggested"
    )
    demo.slack.submit(
        learner.user_id,
        modal,
        {
            "learned": "Prepare your walk-away point before the call, and let the other side name "
            "a number first. Silence is a tool.",
            "useful": 5,
            "share": "everyone",
            "thank": f"Thank you {expert.name.split(' ')[0]}! The walk-away tip alone was worth it.",
            "who else": colleague.user_id,
        },
    )
    thanks = demo.dm_with(expert.user_id, "says thank you")
    demo.print_message(f"DM to {expert.name}", thanks)
    offer = demo.dm_with(learner.user_id, "ask_for_chat")
    demo.print_message(f"DM to {learner.name}", offer)

    reader = next(p for p in demo.people if p not in (learner, expert, colleague))
    demo.say(f"{reader.name} types `/infochat learnings {topic.lower()}`")
    answer = demo.slack.command(reader.user_id, f"learnings {topic.lower()}").json()
    demo.print_message(f"ephemeral to {reader.name}", answer)
    demo._seen = len(demo.standin.transcript())
