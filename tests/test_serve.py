"""`infochat serve` as an operator runs it: a real process, real signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.devtools.slack_client import SlackAppClient
from bot.devtools.standin import SlackStandIn
from tests.conftest import BOT_TOKEN, SIGNING_SECRET


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve_process(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> Iterator[tuple[subprocess.Popen, int]]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INFOCHAT_", "SLACK_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "INFOCHAT_SLACK_API_URL": standin.url,
        "INFOCHAT_DATABASE_URL": database_url,
        "INFOCHAT_PORT": str(port),
        "INFOCHAT_HOST": "127.0.0.1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            output = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"infochat serve did not come up:\n{output}")
        time.sleep(0.1)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_serve_answers_health_and_signed_help_then_stops_cleanly_on_sigterm(
    serve_process: tuple[subprocess.Popen, int], standin: SlackStandIn
) -> None:
    proc, port = serve_process
    assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    client = SlackAppClient(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, standin)
    help_response = client.command("U1", "help")
    assert help_response.status_code == 200
    assert "/infochat find &lt;topic&gt;" in help_response.json()["text"]
    # An App Home open whose slow part (views.publish) is delayed by a 429 is in
    # flight when SIGTERM arrives: it must still complete before the exit.
    standin.fail("views.publish", status=429, retry_after=1)
    assert client.event({"type": "app_home_opened", "user": "U1", "tab": "home"}).status_code == 200
    client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert len(standin.calls_to("views.publish")) == 1


def test_health_command_is_the_container_health_check(serve_process: tuple[subprocess.Popen, int]) -> None:
    _, port = serve_process
    env = {**os.environ, "INFOCHAT_PORT": str(port)}
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "health"], env=env, capture_output=True, text=True, timeout=30
    )
    assert ok.returncode == 0, ok.stderr
    env["INFOCHAT_PORT"] = str(_free_port())
    down = subprocess.run(
        [sys.executable, "-m", "bot", "health"], env=env, capture_output=True, text=True, timeout=30
    )
    assert down.returncode == 1


def test_dockerfile_runs_serve_as_non_root_with_healthcheck() -> None:
    text = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["infochat"]' in text and 'CMD ["serve"]' in text
    assert 'CMD ["infochat", "health"]' in text
    assert "\nUSER infochat" in text
    assert text.count("FROM python:3.11-slim") == 2
