"""Slack's form bodies (slash commands, and interactivity's `payload=`) are read by
`bot.web.parse_form`, a faster path than urllib for long percent-encoded values. Whatever
the body, it must read exactly what `urllib.parse.parse_qsl` reads: a field misread is a
command or a modal answer that says something its author never typed."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.web import parse_form

# Text people type: any Unicode, plus the characters a form body gives meaning to.
typed = st.text(alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from("%+&=;\r\n\t "))


def _encode(draw: st.DrawFn, text: str) -> str:
    style = draw(st.sampled_from(["plus", "percent", "lower", "raw"]))
    if style == "plus":
        return quote_plus(text)
    if style == "percent":
        return quote(text, safe="")
    if style == "lower":  # escapes may come in lower case
        return re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group(0).lower(), quote(text, safe=""))
    return text  # as is: bad escapes, raw '=' and '+', non-ASCII


@st.composite
def bodies(draw: st.DrawFn) -> str:
    fields = draw(st.lists(st.tuples(typed, typed), max_size=5))
    return "&".join(f"{_encode(draw, name)}={_encode(draw, value)}" for name, value in fields)


@settings(max_examples=2000, deadline=None)
@given(bodies())
def test_a_form_body_reads_as_urllib_reads_it(body: str) -> None:
    assert parse_form(body) == dict(parse_qsl(body, keep_blank_values=True))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["text", "note", "topic"]), typed, max_size=3))
def test_a_modal_payload_comes_back_as_typed(answers: dict[str, str]) -> None:
    payload = json.dumps({"type": "view_submission", "view": {"state": {"values": answers}}})
    body = urlencode({"payload": payload})
    assert json.loads(parse_form(body)["payload"])["view"]["state"]["values"] == answers
