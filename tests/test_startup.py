"""What an operator sees when `infochat serve` starts: a short log, one line per scheduled job."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from bot.devtools.standin import SlackStandIn
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

JOB_NAMES = [
    "directory-sync",
    "pairing-round",
    "privacy-purge",
    "outbox",
    "request-reminders",
    "followups",
    "scheduling",
    "chat-usage",
    "report-rollups",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(api_url: str, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "INFOCHAT_SLACK_API_URL": api_url,
        "INFOCHAT_DATABASE_URL": database_url,
        "INFOCHAT_HOST": "127.0.0.1",
        **extra,
    }


def start_and_stop(env: dict[str, str], cwd: Path) -> str:
    """Start `infochat serve`, wait until /healthz answers, stop it with SIGTERM; its log."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env={**env, "INFOCHAT_PORT": str(port)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert proc.poll() is None, f"infochat serve exited {proc.returncode}:\n{proc.communicate()[0]}"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return output


def test_start_up_log_has_one_line_per_job_with_its_next_run_and_nothing_twice(
    standin: SlackStandIn, database_url: str, tmp_path: Path
) -> None:
    output = start_and_stop(serve_env(standin.url, database_url), tmp_path)
    # "2026-12-04 14:30:00,123 INFO bot.scheduler: job outbox: every 30 s, next run …" -> after the time
    messages = [line.split(" ", 2)[2] for line in output.splitlines() if line[:2] == "20"]
    for name in JOB_NAMES:
        lines = [m for m in messages if m.startswith(f"INFO bot.scheduler: job {name}: ")]
        assert len(lines) == 1, f"{name}: {lines}"
        assert "next run " in lines[0]
    assert "Adding job tentatively" not in output and "run_claimed" not in output
    repeated = {m: n for m, n in Counter(messages).items() if n > 1}
    assert not repeated, repeated
    start_up = messages[: next(i for i, m in enumerate(messages) if "Shutting down" in m)]
    # Slack's answer to auth.test, the schema revision, uvicorn's four lines, and the jobs.
    assert len(start_up) <= len(JOB_NAMES) + 6, "\n".join(start_up)
    assert "INFO bot.server: Slack: signed in to " in start_up[0]


def _serve_once(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env={**env, "INFOCHAT_PORT": str(_free_port())},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_stops_with_one_line_when_slack_refuses_the_bot_token(
    standin: SlackStandIn, database_url: str, tmp_path: Path
) -> None:
    result = _serve_once(serve_env(standin.url, database_url, SLACK_BOT_TOKEN="xoxb-revoked"), tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SLACK_BOT_TOKEN" in lines[0] and "invalid_auth" in lines[0], lines
    assert [c.method for c in standin.calls] == ["auth.test"]  # nothing else was tried


def test_serve_stops_with_one_line_when_slack_cannot_be_reached(database_url: str, tmp_path: Path) -> None:
    env = serve_env(f"http://127.0.0.1:{_free_port()}/api/", database_url)  # nothing listens there
    result = _serve_once(env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "cannot reach Slack's Web API" in lines[0] and "INFOCHAT_START_WITHOUT_SLACK" in lines[0]


def test_a_setting_lets_serve_start_without_slack(database_url: str, tmp_path: Path) -> None:
    env = serve_env(f"http://127.0.0.1:{_free_port()}/api/", database_url)
    env["INFOCHAT_START_WITHOUT_SLACK"] = "true"
    output = start_and_stop(env, tmp_path)
    assert "cannot reach Slack's Web API" in output and "starting anyway" in output
