"""Run the real infochat ASGI app under uvicorn on 127.0.0.1, in a thread.

Tests and `infochat demo` use this to talk to the app over real HTTP exactly as
Slack would, without a separate process.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from bot.app import InfochatApp, build_app
from bot.db import Database
from bot.settings import Settings
from bot.web import SLACK_PATH, InfochatASGI


class AppServer:
    def __init__(self, settings: Settings, *, db: Database | None = None) -> None:
        self.settings = settings
        self.app: InfochatApp = build_app(settings, db=db)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            InfochatASGI(self.app),
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return self.root + SLACK_PATH

    def start(self) -> AppServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("infochat did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful stop: in-flight requests and their slow work finish first."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
