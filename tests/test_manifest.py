"""manifest.yml declares exactly what the app handles."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.devtools.runner import AppServer

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


def _listed(kind: str, text: str) -> set[str]:
    match = re.search(rf"^#\s+infochat-{kind}:(.*)$", text, re.MULTILINE)
    assert match, f"manifest.yml lost its '# infochat-{kind}:' line"
    return {item.strip() for item in match.group(1).split(",") if item.strip()}


def test_manifest_matches_registered_listeners(server: AppServer) -> None:
    text = MANIFEST.read_text()
    manifest = yaml.safe_load(text)
    registry = server.app.registry

    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == registry.commands

    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == registry.events

    assert _listed("actions", text) == registry.actions
    assert _listed("views", text) == registry.views
    assert _listed("options", text) == registry.options
    if registry.actions or registry.views:
        assert manifest["settings"]["interactivity"]["is_enabled"] is True
    if registry.options:
        assert manifest["settings"]["interactivity"]["message_menu_options_url"].endswith("/slack/events")
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_manifest_urls_point_at_the_one_endpoint() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls.append(manifest["settings"]["event_subscriptions"]["request_url"])
    urls.append(manifest["settings"]["interactivity"]["request_url"])
    assert all(url.endswith("/slack/events") for url in urls)
