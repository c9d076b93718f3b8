"""`infochat serve`: Bolt behind uvicorn (HTTP) or over Socket Mode."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from uvicorn.supervisors import Multiprocess

from bot import migrate
from bot.app import build_app
from bot.db import Database
from bot.settings import Settings, load_settings
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
        Multiprocess(config, target=server.run, sockets=[config.bind_socket()]).run()
    else:
        server.run()


def asgi_factory() -> InfochatASGI:
    """Entry for each uvicorn worker process when `--workers` > 1 (settings read once per process)."""
    settings = load_settings()
    return InfochatASGI(build_app(settings), run_scheduler=True)


def prepare_database(settings: Settings) -> None:
    if settings.auto_migrate:
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


def serve_http(settings: Settings) -> None:
    # Fail fast on missing credentials before forking workers.
    settings.bot_token()
    settings.signing_secret()
    prepare_database(settings)
    if settings.workers > 1:
        run_uvicorn(_uvicorn_config("bot.server:asgi_factory", settings, workers=settings.workers))
    else:
        run_uvicorn(_uvicorn_config(InfochatASGI(build_app(settings), run_scheduler=True), settings))
    log.info("infochat stopped")


def serve_socket(settings: Settings) -> None:
    """Socket Mode: events arrive over a WebSocket; /healthz and /readyz stay on HTTP."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app_token = settings.app_token()
    prepare_database(settings)
    infochat = build_app(settings)
    handler = SocketModeHandler(infochat.bolt, app_token=app_token, web_client=infochat.ctx.slack.client)
    connector = threading.Thread(target=handler.connect, name="socket-mode", daemon=True)
    connector.start()
    try:
        run_uvicorn(_uvicorn_config(InfochatASGI(infochat, run_scheduler=True), settings))
    finally:
        handler.close()
    log.info("infochat stopped")
