"""The stand-in's Sign in with Slack (OpenID Connect): Slack's side of the dashboard's sign-in.

- `GET /openid/connect/authorize` — Slack's consent page. It checks what Slack
  checks (response_type=code, the `openid` scope, a known client_id, a registered
  redirect_uri, a state) and shows "Sign in to infochat as …" with Allow and Cancel;
  Allow redirects back with `code` and `state`, Cancel with `error=access_denied`.
  Who is signed in to this "Slack" in the browser is chosen by the test
  (`signed_in_as`); when nobody is, the page lists the workspace's people.
- `openid.connect.token` — HTTP Basic client authentication; the code is single-use,
  expires after 10 minutes and must come with the same redirect_uri. Answers an
  access token (`xoxp-…`) and an ID token carrying the nonce.
- `openid.connect.userInfo` — the signed-in user's claims, for that access token only.

Hooked into the stand-in as two routes of its HTTP server (core.py). These methods take
the app's client credentials or a user token, never the bot token, so they are answered
here rather than by webapi (whose token check would refuse them); every call is still
recorded with the others and honours the stand-in's injected faults.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from bot.devtools.standin.errors import ApiError
from bot.devtools.standin.httpd import Exchange
from bot.devtools.standin.webapi import RecordedCall, WebApi
from bot.devtools.standin.webapi import _parse_params as parse_params
from bot.devtools.standin.workspace import SLACKBOT_ID, Workspace

AUTHORIZE_PATH = "/openid/connect/authorize"
API_PREFIX = "/api/openid.connect."
CODE_TTL_SECONDS = 600.0
ISSUER = "https://slack.com"


@dataclass
class _Grant:
    user_id: str
    redirect_uri: str
    nonce: str | None
    scopes: frozenset[str]
    expires: float


class SlackOIDC:
    """Slack's OpenID Connect provider, as one part of a `SlackStandIn`."""

    def __init__(self, ws: Workspace, api: WebApi) -> None:
        self.ws = ws
        self.api = api
        self.client_id = "standin-client-id"
        self.client_secret = "standin-client-secret"
        self.redirect_urls: list[str] = []  # empty: any http(s) URL
        self.signed_in_as: str | None = None
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, _Grant] = {}

    def register(self, client_id: str, client_secret: str, redirect_urls: list[str] | None = None) -> None:
        """Set the app's credentials and the redirect URLs its Slack app allows."""
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_urls = list(redirect_urls or [])

    @property
    def authorize_url(self) -> str:
        return self.ws.root + AUTHORIZE_PATH

    # ------------------------------------------------------------------ the consent page

    def handle_page(self, req: Exchange) -> None:
        args = dict(parse_qsl(req.query, keep_blank_values=True))
        problem = self._check_authorize(args)
        if problem:
            self._html(req, 400, f"<h1>Sign in with Slack</h1><p>Error: {html.escape(problem)}</p>")
            return
        redirect = args["redirect_uri"]
        if args.get("decision") == "deny":
            self._redirect(req, redirect, {"error": "access_denied", "state": args["state"]})
            return
        user_id = args.get("user") if args.get("decision") == "allow" else None
        if user_id:
            if user_id not in self.ws.users:
                self._html(req, 400, "<p>Error: unknown user</p>")
                return
            code = "standin-code-" + secrets.token_urlsafe(12)
            with self.ws.lock:
                self._codes[code] = _Grant(
                    user_id,
                    redirect,
                    args.get("nonce"),
                    frozenset(args["scope"].replace(",", " ").split()),
                    time.monotonic() + CODE_TTL_SECONDS,
                )
            self._redirect(req, redirect, {"code": code, "state": args["state"]})
            return
        self._html(req, 200, self._consent(args))

    def _check_authorize(self, args: dict[str, str]) -> str | None:
        if args.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in args.get("scope", "").replace(",", " ").split():
            return "the openid scope is required"
        if args.get("client_id") != self.client_id:
            return "invalid_client_id"
        redirect = args.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            return "bad_redirect_uri"
        if self.redirect_urls and not any(redirect.startswith(url) for url in self.redirect_urls):
            return "bad_redirect_uri: not registered for this app"
        if not args.get("state"):
            return "missing state"
        return None

    def _consent(self, args: dict[str, str]) -> str:
        base = {k: v for k, v in args.items() if k not in ("decision", "user")}
        people = [self.signed_in_as] if self.signed_in_as else self._people()
        choices = []
        for user_id in people:
            user = self.ws.users.get(user_id) or {}
            name = html.escape(str(user.get("real_name") or user_id))
            href = html.escape("?" + urlencode({**base, "decision": "allow", "user": user_id}))
            choices.append(f'<li><a class="allow" href="{href}">Allow — continue as {name}</a></li>')
        deny = html.escape("?" + urlencode({**base, "decision": "deny"}))
        return (
            "<h1>Sign in to infochat with Slack</h1>"
            f"<p>infochat wants to know who you are ({html.escape(args.get('scope', ''))}).</p>"
            f"<ul>{''.join(choices)}</ul>"
            f'<p><a class="cancel" href="{deny}">Cancel</a></p>'
        )

    def _people(self) -> list[str]:
        with self.ws.lock:
            users = list(self.ws.users.values())
        return [u["id"] for u in users if not u["is_bot"] and not u["deleted"] and u["id"] != SLACKBOT_ID]

    # ------------------------------------------------------------------ Web API methods

    def handle_api(self, exchange: Exchange) -> None:
        method = exchange.path[len("/api/") :]
        status, payload = 200, {"ok": False}
        params: dict[str, Any] = {}
        token: str | None = None
        with self.ws.lock:
            try:
                params = parse_params(exchange)
                fault = self.api.take_fault(method)
                if fault is not None:
                    status = fault.status
                    raise ApiError(fault.error or "fatal_error")
                auth = exchange.headers.get("Authorization", "")
                if method == "openid.connect.token":
                    token = self.client_id
                    payload = {"ok": True, **self._token(params, auth)}
                elif method == "openid.connect.userInfo":
                    token = (
                        auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
                    )
                    params.pop("token", None)
                    payload = {"ok": True, **self._user_info(token)}
                else:
                    raise ApiError("unknown_method", req_method=method)
            except ApiError as exc:
                payload = {"ok": False, "error": exc.error, **exc.extra}
            self.api.calls.append(
                RecordedCall(
                    method=method,
                    params=params,
                    token=token,
                    status=status,
                    ok=bool(payload["ok"]) and status == 200,
                    at=time.monotonic(),
                    error=payload.get("error"),
                    response=copy.deepcopy(payload),
                )
            )
        exchange.reply(status, payload)

    def _token(self, params: dict[str, Any], auth: str) -> dict[str, Any]:
        client_id, client_secret = params.pop("client_id", None), params.pop("client_secret", None)
        if auth.startswith("Basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise ApiError("invalid_client_id") from None
        if client_id != self.client_id:
            raise ApiError("invalid_client_id")
        if not hmac.compare_digest(str(client_secret or ""), self.client_secret):
            raise ApiError("bad_client_secret")
        if params.get("grant_type", "authorization_code") != "authorization_code":
            raise ApiError("invalid_grant_type")
        grant = self._codes.pop(str(params.get("code") or ""), None)
        if grant is None or grant.expires < time.monotonic():
            raise ApiError("invalid_code")
        if params.get("redirect_uri") != grant.redirect_uri:
            raise ApiError("bad_redirect_uri")
        access = "xoxp-standin-" + secrets.token_urlsafe(16)
        self._tokens[access] = grant
        claims = {**self._claims(grant), "iss": ISSUER, "aud": self.client_id}
        now = int(time.time())
        claims.update({"iat": now, "exp": now + 3600, "auth_time": now})
        if grant.nonce:
            claims["nonce"] = grant.nonce
        return {
            "access_token": access,
            "token_type": "Bearer",
            "id_token": self._jwt(claims),
            "state": "",
        }

    def _user_info(self, token: str | None) -> dict[str, Any]:
        if not token:
            raise ApiError("not_authed")
        grant = self._tokens.get(token)
        if grant is None:
            raise ApiError("invalid_auth")
        return self._claims(grant)

    def _claims(self, grant: _Grant) -> dict[str, Any]:
        user = self.ws.users.get(grant.user_id) or {}
        profile = user.get("profile") or {}
        claims: dict[str, Any] = {
            "sub": grant.user_id,
            "https://slack.com/user_id": grant.user_id,
            "https://slack.com/team_id": self.ws.team_id,
        }
        if "profile" in grant.scopes:
            claims.update(
                name=user.get("real_name", grant.user_id),
                given_name=profile.get("first_name", ""),
                family_name=profile.get("last_name", ""),
                picture=profile.get("image_192", ""),
                locale="en-US",
            )
        if "email" in grant.scopes and profile.get("email"):
            claims.update(email=profile["email"], email_verified=True)
        return claims

    def _jwt(self, claims: dict[str, Any]) -> str:
        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
        mac = hmac.new(self.client_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _html(exchange: Exchange, status: int, body: str) -> None:
        page = (
            "<!doctype html><html><head><title>Slack</title><link rel='icon' href='data:,'></head>"
            f"<body>{body}</body></html>"
        )
        exchange.reply(status, page, content_type="text/html; charset=utf-8")

    @staticmethod
    def _redirect(exchange: Exchange, url: str, params: dict[str, str]) -> None:
        location = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        exchange.reply(302, b"", {"Location": location}, content_type="text/plain")


def sign_in_without_a_browser(client: httpx.Client, oidc: SlackOIDC, user_id: str) -> httpx.Response:
    """Sign `client` (an httpx client on the app's root URL) in to the dashboard as `user_id`.

    Does what a browser does: /admin/auth/start, the stand-in's consent page, Allow,
    then the callback; returns the callback's response (a redirect when let in).
    """
    start = client.get("/admin/auth/start")
    if start.status_code != 303:
        return start
    oidc.signed_in_as = user_id
    consent = httpx.get(start.headers["location"])
    found = re.search(r'class="allow" href="([^"]+)"', consent.text)
    if found is None:
        return consent
    back = httpx.get(oidc.authorize_url + html.unescape(found.group(1)))
    # Behind a proxy the browser returns to the public address; the proxy hands us the path.
    return client.get(httpx.URL(back.headers["location"]).raw_path.decode())
