"""`infochat serve`: Bolt behind uvicorn (HTTP) or over Socket Mode."""

from __future__ import annotations

import inspect
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from uvicorn.supervisors import Multiprocess

from bot.app import build_app
from bot.db import Database
from bot.settings import ConfigError, Settings, load_settings, require_credentials
from bot.web import InfochatASGI

log = logging.getLogger(__name__)

GRACEFUL_SECONDS = 25  # below Kubernetes' default 30 s termination grace period


class GracefulServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process
    would die by the signal; a drained, orderly stop should exit 0 instead."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def run_uvicorn(config: uvicorn.Config) -> None:
    server = GracefulServer(config)
    if config.workers > 1:
        sockets = [config.bind_socket()]
        if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn
            Multiprocess(config, target=server.run, sockets=sockets).run()  # type: ignore[call-arg]
        else:
            # newer uvicorn (0.54 here): each worker process runs its own uvicorn.Server; the
            # supervisor (this process) still drains them on SIGTERM and exits 0.
            Multiprocess(config, sockets=sockets).run()
    else:
        server.run()


def asgi_factory() -> InfochatASGI:
    """Entry for each uvicorn worker process when `--workers` > 1 (settings read once per process)."""
    settings = load_settings()
    return InfochatASGI(build_app(settings), run_scheduler=True, freeze_gc=True)


def prepare_database(settings: Settings) -> None:
    """Bring the schema to head (INFOCHAT_AUTO_MIGRATE), in a short-lived child process.

    Alembic is needed for a moment at start, and a module once imported stays in
    memory: checking the schema in a forked child keeps Alembic's ~8 MB out of the
    serving process (docs/performance.md, Memory). Nothing else runs yet (no
    threads, no connections), so forking here is safe."""
    if not settings.auto_migrate:
        return
    pid = os.fork()
    if pid == 0:  # the child: upgrade, then leave without running the parent's exit handlers
        code = 1
        try:
            _upgrade(settings)
            code = 0
        except BaseException:
            log.exception("could not bring the database schema up to date")
        finally:
            logging.shutdown()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise ConfigError("could not bring the database schema up to date (the error is logged above)")


def _upgrade(settings: Settings) -> None:
    from bot import migrate

    db = Database(settings.database_url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()


def _uvicorn_config(app: object, settings: Settings, *, workers: int = 1) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        factory=isinstance(app, str),
        host=settings.host,
        port=settings.port,
        workers=workers,
        lifespan="on",
        log_config=None,  # keep our logging configuration
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        backlog=2048,
    )


def check_slack(settings: Settings) -> None:
    """auth.test once at start: a refused token or an unreachable API stops `serve` with one line.

    INFOCHAT_START_WITHOUT_SLACK=true starts anyway when the API cannot be reached (a warning
    is logged); a token Slack refuses stops start-up whatever that setting says.
    """
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.http_retry import ConnectionErrorRetryHandler

    url = settings.slack_api_url
    # slack_sdk logs each failed try at ERROR; the one line below says it all.
    quiet = logging.getLogger("bot.server.auth_test")
    quiet.disabled = True
    client = WebClient(
        token=settings.bot_token(),
        base_url=url,
        timeout=5,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
        logger=quiet,
    )
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if error:
            raise ConfigError(
                f"SLACK_BOT_TOKEN was refused by Slack ({error}): expected the bot token (xoxb-…) "
                "of your Slack app, from its OAuth & Permissions page"
            ) from None
        reason = f"HTTP {exc.response.status_code}"
    except OSError as exc:  # refused, unknown host, timeout (after slack_sdk's retries)
        cause = getattr(exc, "reason", exc)  # urllib wraps the socket error
        reason = str(getattr(cause, "strerror", None) or cause)
    else:
        log.info("Slack: signed in to %s as %s", answer.get("team"), answer.get("user"))
        return
    if not settings.start_without_slack:
        raise ConfigError(
            f"cannot reach Slack's Web API at {url} ({reason}): check INFOCHAT_SLACK_API_URL and the "
            "network, or set INFOCHAT_START_WITHOUT_SLACK=true to start anyway"
        )
    log.warning("cannot reach Slack's Web API at %s (%s); starting anyway", url, reason)


def serve_http(settings: Settings) -> None:
    # Fail fast, before forking workers: every missing credential at once, then Slack itself.
    require_credentials(settings, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    check_slack(settings)
    prepare_database(settings)
    if settings.workers > 1:
        run_uvicorn(_uvicorn_config("bot.server:asgi_factory", settings, workers=settings.workers))
    else:
        asgi = InfochatASGI(build_app(settings), run_scheduler=True, freeze_gc=True)
        run_uvicorn(_uvicorn_config(asgi, settings))
    log.info("infochat stopped")


def serve_socket(settings: Settings) -> None:
    """Socket Mode: events arrive over a WebSocket; /healthz and /readyz stay on HTTP.

    The WebSocket opens before the HTTP server starts, so a refused app token stops
    start-up instead of leaving a healthy-looking process that never hears from Slack.
    On SIGTERM the socket hangs up first (Slack sends new envelopes to another
    connection), acks in progress are sent, then lazy work drains as in HTTP mode.
    """
    import asyncio
    from typing import Any

    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    require_credentials(settings, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
    app_token = settings.app_token()
    check_slack(settings)
    prepare_database(settings)
    infochat = build_app(settings)
    handler = SocketModeHandler(infochat.bolt, app_token=app_token, web_client=infochat.ctx.slack.client)
    try:
        handler.connect()  # apps.connections.open, then the WebSocket; returns once connected
    except SlackApiError as exc:
        handler.close()
        infochat.shutdown()
        error = exc.response.get("error") if exc.response is not None else None
        if error in _REFUSED_APP_TOKEN:
            raise ConfigError(
                f"SLACK_APP_TOKEN was refused by Slack ({error}): "
                "expected an app-level token (xapp-…) with connections:write"
            ) from None
        raise

    def hang_up() -> None:
        client = handler.client
        client.auto_reconnect_enabled = False
        client.message_workers.shutdown(wait=True)  # refuse new envelopes, finish acks in progress
        handler.close()

    asgi = InfochatASGI(infochat, run_scheduler=True, freeze_gc=True)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await asgi(scope, receive, send)
            return

        async def receive_hanging_up_first() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, hang_up)
            return message

        await asgi(scope, receive_hanging_up_first, send)

    try:
        run_uvicorn(_uvicorn_config(app, settings))
    finally:
        handler.close()  # idempotent; covers a server that failed to start
    log.info("infochat stopped")


# apps.connections.open errors that mean the app-level token itself is wrong.
_REFUSED_APP_TOKEN = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
    }
)
