"""Builds the Bolt app: one WebClient, ack-first listeners, nothing read from the environment."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot import metrics
from bot.clock import set_home_zone
from bot.context import AppContext
from bot.db import Database
from bot.gateway.slack import SlackGateway, build_web_client
from bot.listeners import ListenerRegistry, register_all
from bot.listeners.shapes import malformed
from bot.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class InfochatApp:
    bolt: App
    ctx: AppContext
    registry: ListenerRegistry
    # Lazy listeners (the slow work after each ack) run here; draining it on
    # shutdown is what lets SIGTERM finish in-flight work before exit.
    executor: ThreadPoolExecutor
    scheduler: BackgroundScheduler | None = field(default=None)

    def start_scheduler(self) -> None:
        from bot.scheduler import start_scheduler

        if self.scheduler is None:
            self.scheduler = start_scheduler(self.ctx)

    def warm_up(self) -> None:
        """Fill per-process caches (topic names for search) before the first user pays for it."""
        from bot.services import find

        try:
            with self.ctx.db.session() as session:
                find.warm_caches(session)
        except Exception:  # a cold cache is only slower; never block start-up on it
            log.warning("could not warm the search caches", exc_info=True)

    def shutdown(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        self.executor.shutdown(wait=True)
        self.ctx.db.dispose()


class _DropTokenSkippedWarning(logging.Filter):
    """Bolt picks SLACK_BOT_TOKEN from the environment by itself and then warns
    that our configured client wins; that is exactly what we want, so hush it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "token` will be unused" not in record.getMessage()


def _header(req: BoltRequest, name: str) -> str | None:
    values = req.headers.get(name) or [None]
    return values[0]


def _copy_payload(body: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a Slack payload (JSON through and through): json in C beats copy.deepcopy ~10x."""
    try:
        copied: dict[str, Any] = json.loads(json.dumps(body))
    except (TypeError, ValueError):
        return copy.deepcopy(body)
    return copied


class _CopiedRequest(BoltRequest):
    """A request already copied for a lazy listener: Bolt's deepcopy of it is itself."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _CopiedRequest:
        return self


class _CheaplyCopiedRequest(BoltRequest):
    """Bolt hands every lazy listener a copy of the request: `to_copyable()` (which parses the raw
    body again) and then `copy.deepcopy` of the lot, WebClient and logger included: ~0.5 ms per
    lazy listener, several for a modal's payload (docs/performance.md, Ack path). This copy is what
    that one makes, cheaper: the payload copied as JSON, the context as Bolt copies it
    (`BoltContext.to_copyable`: shared clients, copies of anything else), headers and query shared
    (nothing writes to them)."""

    def to_copyable(self) -> BoltRequest:
        copied = _CopiedRequest.__new__(_CopiedRequest)
        copied.raw_body = self.raw_body
        copied.query = self.query
        copied.headers = self.headers
        copied.content_type = self.content_type
        copied.body = _copy_payload(self.body)
        copied.context = self.context.to_copyable()
        copied.lazy_only = self.lazy_only
        copied.lazy_function_name = self.lazy_function_name
        copied.mode = self.mode
        return copied


class _InfochatBolt(App):
    """Bolt, refusing payloads it could not read before it reads them (see `bot.listeners.shapes`);
    HTTP and Socket Mode both dispatch through here. A request not signed by Slack is left to
    Bolt, which answers 401 whatever it holds."""

    def __init__(self, *, signing_secret: str, **kwargs: Any) -> None:
        super().__init__(signing_secret=signing_secret, **kwargs)
        self._verifier = SignatureVerifier(signing_secret)

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        if type(req) is BoltRequest:  # HTTP (bot.web) and Socket Mode (Bolt's adapter) alike
            req.__class__ = _CheaplyCopiedRequest
        if req.mode == "http" and not self._verifier.is_valid(
            req.raw_body, _header(req, "x-slack-request-timestamp"), _header(req, "x-slack-signature")
        ):
            return super().dispatch(req)
        problem = malformed(req.body)
        if problem is not None:
            log.warning("malformed Slack payload refused: %s", problem)
            return BoltResponse(status=400, body="")
        response = super().dispatch(req)
        if response.status == 404 and isinstance(req.body, dict) and req.body.get("type") == "event_callback":
            # An event no listener wants (a message_changed, a message from another app): Slack
            # retries anything but a 2xx and in the end turns the app's events off, so say "seen".
            return BoltResponse(status=200, body="")
        return response


class _SlowWorkExecutor(ThreadPoolExecutor):
    """The lazy listeners' pool, counting the slow work queued or running (`/metrics`:
    infochat_slow_work_pending; a backlog that grows means the acks outrun the slow work)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        metrics.SLOW_WORK_PENDING.inc()

        def run() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                metrics.SLOW_WORK_PENDING.dec()

        try:
            return super().submit(run)
        except BaseException:  # refused (shutting down): nothing is pending
            metrics.SLOW_WORK_PENDING.dec()
            raise


_bolt_logger = logging.getLogger("bot.bolt")
_bolt_logger.addFilter(_DropTokenSkippedWarning())


def build_app(settings: Settings, db: Database | None = None) -> InfochatApp:
    client = build_web_client(settings.bot_token(), settings.slack_api_url)
    signing_secret = settings.signing_secret()
    db = db or Database(settings.database_url)
    set_home_zone(settings.timezone)
    ctx = AppContext(settings=settings, db=db, slack=SlackGateway(client))
    # Lazy work mostly waits on Slack (100-300 ms a call in production), so the pool is sized for
    # waits, not CPU: fewer threads cost less CPU against the local stand-in (docs/performance.md)
    # but would queue every modal behind a slow call, and a trigger id lasts 3 s.
    executor = _SlowWorkExecutor(max_workers=16, thread_name_prefix="infochat-lazy")
    bolt = _InfochatBolt(
        client=client,
        signing_secret=signing_secret,
        # Ack-first: listeners answer in their ack function and defer slow work
        # to lazy functions, so Bolt never polls for the ack (the default path
        # sleeps in 10 ms steps and blocks a worker through it).
        process_before_response=True,
        # Passing the token explicitly with verification off keeps App() from
        # calling auth.test at construction (and from reading SLACK_* itself).
        token_verification_enabled=False,
        listener_executor=executor,
        logger=_bolt_logger,
    )
    registry = register_all(bolt, ctx)
    return InfochatApp(bolt=bolt, ctx=ctx, registry=registry, executor=executor)
