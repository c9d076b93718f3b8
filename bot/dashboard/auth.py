"""Dashboard sign-in: signed cookies for the session and for a sign-in in progress.

- The session cookie holds who signed in, when, and the random token of their session
  row (bot.services.dashboard_sessions), signed (itsdangerous, HMAC-SHA256) with a key
  derived from INFOCHAT_SLACK_CLIENT_SECRET, so every replica and worker accepts it and
  rotating the secret signs everyone out. A request is signed in only while the row
  exists: signing out deletes it, so a copied cookie stops working at once. It is HttpOnly,
  SameSite=Lax (Slack's redirect back to us is a cross-site top-level navigation),
  Secure when the browser reached us over https (directly, through
  X-Forwarded-Proto from a proxy, or INFOCHAT_PUBLIC_URL), and expires after
  INFOCHAT_DASHBOARD_SESSION_HOURS: the signature's timestamp is checked, not
  only the browser's expiry.
- The sign-in cookie carries the OAuth `state` and OpenID `nonce` for ten minutes,
  scoped to the callback path, and is deleted once used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from bot.clock import utcnow
from bot.settings import Settings

SESSION_COOKIE = "infochat_admin"
SIGNIN_COOKIE = "infochat_signin"
SIGNIN_SECONDS = 600
CALLBACK_PATH = "/admin/auth/callback"


@dataclass(frozen=True)
class Admin:
    user_id: str
    name: str
    session: str = ""  # the token of the server-side session row


@dataclass(frozen=True)
class SignIn:
    state: str
    nonce: str
    next_path: str


class _ClockSigner(TimestampSigner):
    """Signs and checks ages with infochat's one clock (tests travel in time with it)."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def _key(settings: Settings) -> bytes:
    return hmac.new(
        settings.client_secret().encode(), b"infochat dashboard cookies v1", hashlib.sha256
    ).digest()


class Cookies:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        key = _key(settings)
        self.max_age = settings.dashboard_session_hours * 3600
        self._session = URLSafeTimedSerializer(key, salt="infochat-dashboard-session", signer=_ClockSigner)
        self._signin = URLSafeTimedSerializer(key, salt="infochat-dashboard-signin", signer=_ClockSigner)

    # -- the session --------------------------------------------------------------------------
    def admin(self, request: Request) -> Admin | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._session.loads(raw, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not data.get("s"):
            return None
        return Admin(user_id=data["u"], name=str(data.get("n") or data["u"]), session=str(data["s"]))

    def sign_in(self, request: Request, response: Response, admin: Admin) -> None:
        value = self._session.dumps({"u": admin.user_id, "n": admin.name, "s": admin.session})
        self._set(request, response, SESSION_COOKIE, value, self.max_age, "/admin")

    def sign_out(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path="/admin",
            secure=is_https(request, self.settings),
            httponly=True,
            samesite="lax",
        )

    # -- a sign-in in progress ------------------------------------------------------------------
    def start(self, request: Request, response: Response, next_path: str) -> SignIn:
        signin = SignIn(secrets.token_urlsafe(24), secrets.token_urlsafe(24), next_path)
        value = self._signin.dumps({"s": signin.state, "n": signin.nonce, "p": signin.next_path})
        self._set(request, response, SIGNIN_COOKIE, value, SIGNIN_SECONDS, CALLBACK_PATH)
        return signin

    def pending(self, request: Request) -> SignIn | None:
        raw = request.cookies.get(SIGNIN_COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._signin.loads(raw, max_age=SIGNIN_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        return SignIn(str(data.get("s") or ""), str(data.get("n") or ""), safe_next(str(data.get("p") or "")))

    def finish(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            SIGNIN_COOKIE,
            path=CALLBACK_PATH,
            secure=is_https(request, self.settings),
            httponly=True,
            samesite="lax",
        )

    def _set(self, request: Request, response: Response, name: str, value: str, age: int, path: str) -> None:
        response.set_cookie(
            name,
            value,
            max_age=age,
            path=path,
            secure=is_https(request, self.settings),
            httponly=True,
            samesite="lax",
        )


def state_matches(signin: SignIn | None, state: str) -> bool:
    return signin is not None and bool(state) and hmac.compare_digest(signin.state, state)


def is_https(request: Request, settings: Settings) -> bool:
    """Did the browser use https? Behind a proxy, the first X-Forwarded-Proto says.

    Trusting the header can only add the Secure flag, which never weakens a cookie.
    """
    if (settings.public_url or "").startswith("https://") or request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


def redirect_uri(request: Request, settings: Settings) -> str:
    """The callback URL Slack sends the browser back to (registered in the Slack app)."""
    if settings.public_url:
        return settings.public_url + CALLBACK_PATH
    scheme = "https" if is_https(request, settings) else "http"
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host.split(',')[0].strip()}{CALLBACK_PATH}"


def safe_next(path: str) -> str:
    """Only a path inside the dashboard: never another site (no open redirect)."""
    if path.startswith("/admin") and not path.startswith("//") and "\\" not in path:
        return path
    return "/admin"
