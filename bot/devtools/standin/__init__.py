"""A local stand-in for Slack, for tests and demos.

The app's own ``slack_sdk.WebClient`` talks to its Web API through ``base_url``; every call is
recorded, faults (429, 5xx, ``ok: false``) can be injected, and ``transcript()`` shows what
people would see in Slack as plain text. It also serves response_urls, file uploads and
Socket Mode.

Modules, by seam:

- ``core``: ``SlackStandIn``, the object tests and the demo hold;
- ``workspace``: the workspace it plays (members, conversations, messages, views, triggers);
- ``org``: the Enterprise Grid organisation it can play (``SlackStandIn(org=Org())``);
- ``webapi``: how a Web API call is read, refused or answered, and recorded;
- ``api_chat``, ``api_conversations``, ``api_views``, ``api_users``, ``api_files``: the methods;
- ``spec`` (+ ``slack_methods.json``): methods, required arguments and scopes from Slack's spec;
- ``contract``: what is checked before a method runs, and ``Refusal``, kept for every refusal;
- ``validation``: Block Kit checks (slack_sdk's models plus Slack's documented limits);
- ``render``: the transcript's plain text;
- ``response_urls``: response_url posts and file uploads; ``socket_mode``: the WebSocket side;
- ``ratelimits``: Slack's per-method rate tiers (429 with Retry-After), off unless asked for;
- ``httpd``: the HTTP server and its routes; ``params``, ``errors``: shared pieces.
"""

from __future__ import annotations

from bot.devtools.standin.contract import Refusal
from bot.devtools.standin.core import SlackStandIn
from bot.devtools.standin.org import Org, Team
from bot.devtools.standin.ratelimits import RateLimits
from bot.devtools.standin.render import render_blocks
from bot.devtools.standin.response_urls import RecordedResponse
from bot.devtools.standin.socket_mode import SOCKET_ENVELOPE_TYPES
from bot.devtools.standin.webapi import RecordedCall
from bot.devtools.standin.workspace import APP_ID, SLACKBOT_ID, TEAM_DOMAIN, TEAM_NAME

__all__ = [
    "APP_ID",
    "SLACKBOT_ID",
    "SOCKET_ENVELOPE_TYPES",
    "TEAM_DOMAIN",
    "TEAM_NAME",
    "Org",
    "RateLimits",
    "RecordedCall",
    "RecordedResponse",
    "Refusal",
    "SlackStandIn",
    "Team",
    "render_blocks",
]
