"""Run the real infochat ASGI app under uvicorn on 127.0.0.1, in a thread.

Tests and `infochat demo` use this to talk to the app over real HTTP exactly as
Slack would, without a separate process.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from types import TracebackType
from typing import Any

import uvicorn

from bot.app import InfochatApp, build_app
from bot.db import Database
from bot.settings import Settings
from bot.web import SLACK_PATH, InfochatASGI

log = logging.getLogger(__name__)

STOP_WAIT = 30.0  # seconds for uvicorn's graceful stop (in-flight requests, then slow work)
STOP_POLL = 0.05
STILL_CLOCK_POLLS = 10  # real sleeps after which a monotonic clock that has not moved stands still


class AppServer:
    def __init__(self, settings: Settings, *, db: Database | None = None) -> None:
        self.settings = settings
        self.app: InfochatApp = build_app(settings, db=db)
        self._lazy: list[Future[Any]] = []
        self._lazy_lock = threading.Lock()
        self._track_lazy_work()
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

    def _track_lazy_work(self) -> None:
        # Bolt hands each lazy listener to the app's executor before the HTTP
        # answer goes out; remembering the futures lets `settle` wait for them.
        submit = self.app.executor.submit

        def tracked(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            future = submit(fn, *args, **kwargs)
            with self._lazy_lock:
                self._lazy.append(future)
            return future

        self.app.executor.submit = tracked  # type: ignore[method-assign]

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until the slow work after every ack so far (and any it started) has finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lazy_lock:
                pending, self._lazy = self._lazy, []
            if not pending:
                return
            _, not_done = wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            if not_done:
                raise AssertionError("the app's slow work after the ack did not finish")

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
        """Graceful stop: in-flight requests and their slow work finish first.

        The wait counts real sleeps instead of calling `join(timeout)`. Under a clock
        that stands still (libfaketime's FAKETIME without '@' freezes monotonic time
        too), asyncio's timers never fire, so uvicorn cannot finish its shutdown, and
        a timed join never times out either: the process would hang. The server's
        thread is a daemon; if it cannot finish, the app's own shutdown (its slow work,
        the scheduler) runs here instead, and the process can exit.
        """
        self._server.should_exit = True
        started = time.monotonic()
        for poll in range(int(STOP_WAIT / STOP_POLL)):
            if not self._thread.is_alive():
                break
            if poll >= STILL_CLOCK_POLLS and time.monotonic() == started:
                log.warning("the clock stands still, so the server cannot stop gracefully: stopping the app")
                break
            time.sleep(STOP_POLL)
        if self._thread.is_alive():
            self.app.shutdown()
        self._socket.close()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
