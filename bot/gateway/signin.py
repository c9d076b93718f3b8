"""Sign in with Slack (OpenID Connect), Slack's side of it: the authorize URL, the
code exchange (`openid.connect.token`) and the identity (`openid.connect.userInfo`).

Both Web API calls go through the gateway's one WebClient (retries, logging,
`INFOCHAT_SLACK_API_URL`): the token call authenticates with the app's client id
and secret (HTTP Basic), the identity call with the user's own access token.

The ID token comes straight from Slack's token endpoint over TLS in exchange for
our client secret, so, as OpenID Connect Core §3.1.3.7 allows, its claims are
read without checking Slack's signature; the nonce and audience are checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.errors import SlackApiError

from bot.gateway.slack import SlackGateway

log = logging.getLogger(__name__)

SCOPES = ("openid", "profile")
USER_ID_CLAIM = "https://slack.com/user_id"
TEAM_ID_CLAIM = "https://slack.com/team_id"


class SignInError(Exception):
    """Slack did not sign the person in; the message is safe to show them."""


@dataclass(frozen=True)
class SlackIdentity:
    user_id: str
    team_id: str
    name: str


def authorize_url(oauth_url: str, *, client_id: str, redirect_uri: str, state: str, nonce: str) -> str:
    """Slack's authorize page for this sign-in (the browser is redirected there)."""
    query = urlencode(
        {
            "response_type": "code",
            "scope": " ".join(SCOPES),
            "client_id": client_id,
            "state": state,
            "nonce": nonce,
            "redirect_uri": redirect_uri,
        }
    )
    return f"{oauth_url}{'&' if '?' in oauth_url else '?'}{query}"


def identify(
    slack: SlackGateway,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    nonce: str,
) -> SlackIdentity:
    """Exchange the authorization code and read who signed in. Raises SignInError."""
    try:
        token = slack.call(
            "openid.connect.token",
            client_id=client_id,
            client_secret=client_secret,
            code=code,
            redirect_uri=redirect_uri,
            grant_type="authorization_code",
        )
    except SlackApiError as exc:
        raise SignInError(f"Slack refused the sign-in ({_error(exc)}).") from None
    claims = _id_token_claims(str(token.get("id_token") or ""))
    if claims.get("nonce") != nonce:
        log.warning("sign-in refused: the ID token's nonce does not match this sign-in")
        raise SignInError("The sign-in could not be verified; please try again.")
    audience = claims.get("aud")
    if audience != client_id and not (isinstance(audience, list) and client_id in audience):
        log.warning("sign-in refused: the ID token is for another client", extra={"aud": audience})
        raise SignInError("The sign-in could not be verified; please try again.")
    try:
        info = slack.call("openid.connect.userInfo", token=str(token.get("access_token") or ""))
    except SlackApiError as exc:
        raise SignInError(f"Slack did not say who you are ({_error(exc)}).") from None
    user_id = str(info.get(USER_ID_CLAIM) or "")
    if not user_id or user_id != claims.get(USER_ID_CLAIM, user_id):
        raise SignInError("Slack did not say who you are; please try again.")
    return SlackIdentity(
        user_id=user_id,
        team_id=str(info.get(TEAM_ID_CLAIM) or ""),
        name=str(info.get("name") or info.get("given_name") or user_id),
    )


def _id_token_claims(id_token: str) -> dict[str, Any]:
    parts = id_token.split(".")
    if len(parts) != 3:
        raise SignInError("Slack's answer had no ID token; please try again.")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        raise SignInError("Slack's ID token could not be read; please try again.") from None
    if not isinstance(claims, dict):
        raise SignInError("Slack's ID token could not be read; please try again.")
    return claims


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") if exc.response is not None else "no answer")
