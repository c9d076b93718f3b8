"""The HR dashboard under /admin: a Starlette app mounted by bot.web beside /slack/events.

Routes (all GET unless said):
- `/admin`, `/admin/{page}` — overview, flow, topics, load, outcomes (`?period=…&function=…`)
- `/admin/download/{table}.{csv|json}` — one table, as in `infochat report`
- `/admin/signin` — the "Sign in with Slack" page; `/admin/auth/start` goes to Slack;
  `/admin/auth/callback` comes back from it; `POST /admin/signout`
- `/admin/static/…` — the stylesheet and script (nothing is loaded from elsewhere)

Endpoints are plain functions, so Starlette runs them on its worker threads: the
database and Slack calls never block the event loop that acks Slack's requests.
Every page view and every download writes one audit row, as in Slack.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.clock import utcnow
from bot.context import AppContext
from bot.dashboard import auth, figures, svg
from bot.gateway import admins, signin
from bot.services import dashboard_sessions, reports
from bot.settings import ConfigError

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PERIOD_CHOICES = (
    ("", "Last 4 weeks"),
    ("last 12 weeks", "Last 12 weeks"),
    ("this month", "This month"),
    ("last month", "Last month"),
    ("this quarter", "This quarter"),
    ("last quarter", "Last quarter"),
    ("this year", "This year"),
    ("last year", "Last year"),
)
SECURITY_HEADERS = {
    # Everything the page needs comes from this app; no inline script.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self' {oauth}; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Dashboard:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        try:
            self.cookies: auth.Cookies | None = auth.Cookies(ctx.settings)
        except ConfigError:
            self.cookies = None  # Sign in with Slack is not configured: every page says so
        self.cache = figures.ReportCache(self._compute)
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
        self.templates = Jinja2Templates(env=env)
        oauth_origin = "/".join(self.settings.slack_oauth_url.split("/")[:3])
        self.headers = {
            **SECURITY_HEADERS,
            "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].format(oauth=oauth_origin),
        }
        routes = [
            Route("/admin", self.show_page, name="overview"),
            Route("/admin/signin", self.signin_page, name="signin"),
            Route("/admin/auth/start", self.auth_start, name="auth_start"),
            Route(auth.CALLBACK_PATH, self.auth_callback, name="auth_callback"),
            Route("/admin/signout", self.signout, methods=["POST"], name="signout"),
            Route("/admin/download/{table}.{fmt}", self.download, name="download"),
            Mount("/admin/static", StaticFiles(directory=HERE / "static"), name="static"),
            Route("/admin/{page}", self.show_page, name="page"),
        ]
        self.app = Starlette(routes=routes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def _compute(self, period: reports.Period) -> reports.Report:
        with self.ctx.db.session() as session:
            return reports.report_for(session, period, self.settings, utcnow())

    # -- rendering helpers ------------------------------------------------------------------------
    def _render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update(self.headers)
        return response

    def _message(
        self, request: Request, title: str, text: str, status: int, *, signin: bool = False
    ) -> Response:
        return self._render(
            request, "message.html", {"title": title, "text": text, "offer_signin": signin}, status
        )

    def _admin(self, request: Request) -> auth.Admin | Response:
        """The signed-in admin, or the response that says why not."""
        if self.cookies is None:
            return self._not_configured(request)
        admin = self.cookies.admin(request)
        if admin is not None:
            with self.ctx.db.session() as session:
                if dashboard_sessions.user_of(session, admin.session, utcnow()) != admin.user_id:
                    admin = None  # signed out (perhaps in another browser), or expired
        if admin is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/admin/signin?" + urlencode({"next": target}), status_code=303)
        # Admin status is re-checked on every request (cached for minutes), so someone
        # removed from INFOCHAT_ADMINS or the user group loses access without signing out.
        if not admins.is_admin(self.settings, self.ctx.slack, admin.user_id):
            return self._refused(request, admin.user_id)
        return admin

    def _not_configured(self, request: Request) -> Response:
        return self._message(
            request,
            "Sign in with Slack is not set up",
            "An operator needs to set INFOCHAT_SLACK_CLIENT_ID and INFOCHAT_SLACK_CLIENT_SECRET "
            "(docs/reports.md says how).",
            503,
        )

    def _refused(self, request: Request, user_id: str) -> Response:
        log.info("dashboard refused: not an admin", extra={"slack_user": user_id})
        response = self._message(
            request,
            "Only programme admins can see the dashboard",
            "You signed in with Slack, but you are not a programme admin of infochat. "
            "If you should be, ask an admin to add you.",
            403,
        )
        self._end_session(request, response)
        return response

    def _end_session(self, request: Request, response: Response) -> None:
        """Sign out: the server forgets the session, the browser the cookie."""
        if self.cookies is None:
            return
        admin = self.cookies.admin(request)
        if admin is not None:
            with self.ctx.db.session() as session:
                dashboard_sessions.end(session, admin.session)
        self.cookies.sign_out(request, response)

    def _period(self, request: Request) -> reports.Period | str:
        text = _period_text(request)
        try:
            return reports.parse_period(text, utcnow(), self.settings.timezone)
        except reports.PeriodError as exc:
            return str(exc).replace("`", "")

    def _function(self, request: Request) -> str | None:
        wanted = request.query_params.get("function") or None
        return wanted if wanted in self._functions() else None

    def _functions(self) -> list[str]:
        return [*self.settings.functions, reports.NO_FUNCTION]

    # -- pages ------------------------------------------------------------------------------------
    def show_page(self, request: Request) -> Response:
        key = request.path_params.get("page", "overview")
        if key not in figures.PAGE_KEYS:
            return self._message(request, "Page not found", "There is no such dashboard page.", 404)
        admin = self._admin(request)
        if isinstance(admin, Response):
            return admin
        period = self._period(request)
        function = self._function(request)
        context: dict[str, Any] = {
            "admin": admin,
            "pages": figures.PAGES,
            "page": figures.page(key),
            "periods": PERIOD_CHOICES,
            "period_text": _period_text(request),
            "functions": self._functions(),
            "function": function,
            "k": self.settings.min_group_size,
            "privacy": reports.privacy_rules(self.settings.min_group_size),
        }
        if isinstance(period, str):
            context["period_error"] = period
            return self._render(request, "page.html", context, 400)
        report = self.cache.get(period)
        with self.ctx.db.session() as session:
            reports.record_access(
                session,
                admin.user_id,
                reports.AUDIT_VIEW,
                f"page={key} period={period.spec} function={function or 'all'} via=dashboard",
            )
        tables = figures.tables_for(report, key, function)
        narrowed, whole = figures.filter_reach(report)
        query = {"period": _period_text(request)}
        if function:
            query["function"] = function
        context.update(
            report=report,
            period=period,
            panels=[self._panel(table, report, function, query) for table in tables],
            filter_narrows=narrowed,
            filter_leaves=whole,
            query=urlencode({k: v for k, v in query.items() if v}),
        )
        return self._render(request, "page.html", context)

    def _panel(
        self,
        table: reports.Table,
        report: reports.Report,
        function: str | None,
        query: dict[str, str],
    ) -> dict[str, Any]:
        k = report.min_group_size
        chart = None
        if table.key == "chats_per_week":
            chart = svg.column_chart(table, k, unit="chats held", context_before=report.period.first_day)
        elif table.key == "function_flow" and not function:
            chart = svg.heatmap(
                table, k, row_title="learner's function", column_title="expert's function", unit="chats held"
            )
        elif table.key == "function_flow":
            chart = svg.bar_rows(table, k, unit="chats held")
        elif table.key == "topic_supply_demand" or table.key == "expert_load":
            chart = svg.bar_rows(table, k)
        elif table.key == "followup_answers":
            chart = svg.bar_rows(table, k, series=["this period", "previous period"], unit="people")
        elif table.key == "followup_outcomes":
            counts = figures.outcomes_table(report)
            counts.rows = [row for row in counts.rows if row[1][0].fmt == "count"]
            chart = svg.bar_rows(counts, k, series=["this period", "previous period"])
        links = {
            fmt: f"/admin/download/{table.key}.{fmt}?{urlencode({k: v for k, v in query.items() if v})}"
            for fmt in ("csv", "json")
        }
        return {
            "table": table,
            "chart": chart,
            "downloads": links,
            "filtered": bool(function) and figures.is_filtered(table.key),
            "not_by_function": bool(function) and not figures.is_filtered(table.key),
        }

    def download(self, request: Request) -> Response:
        admin = self._admin(request)
        if isinstance(admin, Response):
            return admin
        fmt, key = request.path_params["fmt"], request.path_params["table"]
        period = self._period(request)
        if fmt not in ("csv", "json"):
            return PlainTextResponse("Downloads are .csv or .json.", status_code=404)
        if isinstance(period, str):
            return PlainTextResponse(period, status_code=400)
        function = self._function(request)
        report = self.cache.get(period)
        try:
            table = figures.table_for(report, key, function)
        except KeyError:
            return PlainTextResponse("There is no such table.", status_code=404)
        with self.ctx.db.session() as session:
            reports.record_access(
                session,
                admin.user_id,
                reports.AUDIT_EXPORT,
                f"format={fmt} table={key} period={period.spec} function={function or 'all'} via=dashboard",
            )
        name = reports.export_name(table, period, fmt)
        if function and figures.is_filtered(key):
            name = name.replace(f"infochat_{key}_", f"infochat_{key}_{_slug(function)}_")
        body = reports.to_csv(table) if fmt == "csv" else reports.to_json(table, report)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        return Response(
            body,
            media_type=media,
            headers={**self.headers, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- signing in and out --------------------------------------------------------------------------
    def signin_page(self, request: Request) -> Response:
        if self.cookies is None:
            return self._not_configured(request)
        next_path = auth.safe_next(request.query_params.get("next", "/admin"))
        signed_out = request.query_params.get("signed_out") == "1"
        return self._render(
            request,
            "signin.html",
            {"start": "/admin/auth/start?" + urlencode({"next": next_path}), "signed_out": signed_out},
        )

    def auth_start(self, request: Request) -> Response:
        if self.cookies is None:
            return self._not_configured(request)
        next_path = auth.safe_next(request.query_params.get("next", "/admin"))
        response = RedirectResponse("", status_code=303)
        pending = self.cookies.start(request, response, next_path)
        response.headers["location"] = signin.authorize_url(
            self.settings.slack_oauth_url,
            client_id=self.settings.client_id(),
            redirect_uri=auth.redirect_uri(request, self.settings),
            state=pending.state,
            nonce=pending.nonce,
        )
        return response

    def auth_callback(self, request: Request) -> Response:
        if self.cookies is None:
            return self._not_configured(request)
        pending = self.cookies.pending(request)
        params = request.query_params
        if not auth.state_matches(pending, params.get("state", "")):
            return self._signin_failed(request, "That sign-in link has expired or was not started here.")
        assert pending is not None
        if params.get("error"):
            text = (
                "You cancelled signing in with Slack."
                if params["error"] == "access_denied"
                else (f"Slack did not sign you in ({params['error']}).")
            )
            return self._signin_failed(request, text)
        try:
            who = signin.identify(
                self.ctx.slack,
                client_id=self.settings.client_id(),
                client_secret=self.settings.client_secret(),
                code=params.get("code", ""),
                redirect_uri=auth.redirect_uri(request, self.settings),
                nonce=pending.nonce,
            )
        except signin.SignInError as exc:
            return self._signin_failed(request, str(exc))
        if not admins.is_admin(self.settings, self.ctx.slack, who.user_id):
            response = self._refused(request, who.user_id)
        else:
            log.info("dashboard sign-in", extra={"slack_user": who.user_id})
            response = RedirectResponse(pending.next_path, status_code=303)
            lifetime = timedelta(hours=self.settings.dashboard_session_hours)
            with self.ctx.db.session() as session:
                token = dashboard_sessions.start(session, who.user_id, utcnow(), lifetime)
            self.cookies.sign_in(request, response, auth.Admin(who.user_id, who.name, token))
        self.cookies.finish(request, response)
        return response

    def _signin_failed(self, request: Request, text: str) -> Response:
        response = self._message(request, "Not signed in", text, 400, signin=True)
        if self.cookies is not None:
            self.cookies.finish(request, response)
        return response

    def signout(self, request: Request) -> Response:
        response = RedirectResponse("/admin/signin?signed_out=1", status_code=303)
        self._end_session(request, response)
        return response


def _period_text(request: Request) -> str:
    """The period as typed (`custom`) or picked from the list (`period`)."""
    return (request.query_params.get("custom") or request.query_params.get("period") or "").strip()


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-") or "function"
