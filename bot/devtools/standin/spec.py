"""Which Web API methods exist, which arguments they require and which bot scopes they need.

The table (``slack_methods.json``, shipped beside this module) is made from Slack's published
OpenAPI spec (``../shared/slack/slack_web_openapi_v2.json``) by ``python -m
bot.devtools.standin.spec SPEC``; ``tests/test_standin_contract.py`` checks it still matches the spec.
The spec predates a few methods and is laxer than Slack on some arguments, so ``ADDED`` and
``REQUIRED_TOO`` are written by hand from Slack's method pages.

Scopes: the spec names user-token scopes beside bot ones (``chat:write:user``,
``chat:write:bot``); a bot token is granted the modern names (``chat:write``). For the
``conversations.*`` methods the scope depends on the kind of conversation (``im:history`` for
a DM, ``mpim:history`` for a group DM), so ``SCOPE_BY_KIND`` names them by kind.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("slack_methods.json")
MANIFEST = Path(__file__).resolve().parents[3] / "manifest.yml"

# Methods newer than the spec (required arguments, bot scopes needed: any one of them).
ADDED: dict[str, dict[str, list[str]]] = {
    "files.getUploadURLExternal": {"required": ["filename", "length"], "scopes": ["files:write"]},
    "files.completeUploadExternal": {"required": ["files"], "scopes": ["files:write"]},
    "apps.connections.open": {"required": [], "scopes": ["connections:write"]},
    "auth.teams.list": {"required": [], "scopes": []},  # Enterprise Grid: the org's workspaces
}

# Arguments Slack requires although the spec does not mark them so.
REQUIRED_TOO: dict[str, list[str]] = {
    "users.info": ["user"],
    "chat.delete": ["channel", "ts"],
    "conversations.info": ["channel"],
    "conversations.history": ["channel"],
    "conversations.replies": ["channel", "ts"],
    "views.update": [],  # view_id or external_id: checked by the method itself
}

# The spec's scope names for a bot token's (the ``:bot``/``:user`` suffixes of old tokens).
_MODERN = {
    "chat:write:bot": "chat:write",
    "chat:write:user": "chat:write",
    "files:write:user": "files:write",
    "reactions:write": "reactions:write",
}

# conversations.* need the scope of the conversation's kind: C public, G private/mpim, D im.
SCOPE_BY_KIND: dict[str, dict[str, str]] = {
    "conversations.history": {
        "channel": "channels:history",
        "group": "groups:history",
        "im": "im:history",
        "mpim": "mpim:history",
    },
    "conversations.replies": {
        "channel": "channels:history",
        "group": "groups:history",
        "im": "im:history",
        "mpim": "mpim:history",
    },
    "conversations.info": {
        "channel": "channels:read",
        "group": "groups:read",
        "im": "im:read",
        "mpim": "mpim:read",
    },
    "conversations.open": {"im": "im:write", "mpim": "mpim:write"},
}

# What a bot gets when manifest.yml cannot be read (an installed package without the repo).
FALLBACK_SCOPES = (
    "commands",
    "chat:write",
    "im:write",
    "mpim:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "files:write",
    "im:history",
    "mpim:history",
)


def build_table(spec: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """{method: {"required": [...], "scopes": [...]}} from an OpenAPI (swagger 2) spec."""
    table: dict[str, dict[str, list[str]]] = {}
    for path, verbs in sorted(spec["paths"].items()):
        for op in verbs.values():
            required = sorted(
                p["name"] for p in op.get("parameters", []) if p.get("required") and p["name"] != "token"
            )
            scopes: list[str] = []
            for security in op.get("security") or []:
                scopes += [_MODERN.get(s, s) for s in security.get("slackAuth", []) if s != "none"]
            table[path.lstrip("/")] = {"required": required, "scopes": sorted(set(scopes))}
    return table


@functools.cache
def methods() -> dict[str, dict[str, list[str]]]:
    """Every method the stand-in knows of: the spec's table, the added ones, the corrections."""
    table: dict[str, dict[str, list[str]]] = json.loads(TABLE.read_text())
    table.update(ADDED)
    for method, extra in REQUIRED_TOO.items():
        table[method] = {**table[method], "required": sorted(set(table[method]["required"]) | set(extra))}
    return table


@functools.cache
def manifest_scopes() -> tuple[str, ...]:
    """The bot scopes manifest.yml asks for (what installing the app grants)."""
    if not MANIFEST.exists():
        return FALLBACK_SCOPES
    import yaml  # only where the repository's manifest is at hand (tests, demo)

    manifest = yaml.safe_load(MANIFEST.read_text())
    return tuple(manifest["oauth_config"]["scopes"]["bot"])


def main(argv: list[str]) -> int:
    """Regenerate slack_methods.json from the spec: ``python -m bot.devtools.standin.spec SPEC``."""
    if len(argv) != 1:
        print("usage: python -m bot.devtools.standin.spec ../shared/slack/slack_web_openapi_v2.json")
        return 2
    table = build_table(json.loads(Path(argv[0]).read_text()))
    lines = [f"{json.dumps(m)}: {json.dumps(table[m], sort_keys=True)}" for m in sorted(table)]
    TABLE.write_text("{\n" + ",\n".join(lines) + "\n}\n")  # one method a line: diffs read well
    print(f"{len(table)} methods written to {TABLE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
