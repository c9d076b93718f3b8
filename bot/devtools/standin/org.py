"""An Enterprise Grid organisation the stand-in can play: one org-wide install, several workspaces.

With ``SlackStandIn(org=Org())`` the app's one bot token is an org-level token: ``auth.test``
says ``is_enterprise_install``, ``auth.teams.list`` names the workspaces it was granted,
``users.list`` wants the ``team_id`` of the workspace to list, and every member carries Slack's
``enterprise_user`` (the organisation and the workspaces they belong to). A member of two
workspaces is one user id, as in Grid. Members of other organisations (Slack Connect) are
added with ``SlackStandIn.add_external_user``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Team:
    """One workspace of the organisation."""

    id: str
    name: str

    @property
    def domain(self) -> str:
        return self.name.lower().replace(" ", "-")


@dataclass(frozen=True)
class Org:
    """The organisation: its id (``E…``), its name and the workspaces the app was granted."""

    id: str = "E0INFOCHAT"
    name: str = "Infochat Group"
    teams: tuple[Team, ...] = field(default=(Team("T0ALPHA", "Alpha"), Team("T0BETA", "Beta")))

    def __post_init__(self) -> None:
        if not self.teams:
            raise ValueError("an org needs at least one workspace")

    @property
    def team_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.teams)

    @property
    def domain(self) -> str:
        return self.name.lower().replace(" ", "-")

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def enterprise(self) -> dict[str, str]:
        """The ``enterprise`` object of interactive payloads."""
        return {"id": self.id, "name": self.name}


def enterprise_user(
    user_id: str, enterprise_id: str, enterprise_name: str, teams: Sequence[str]
) -> dict[str, Any]:
    """Slack's ``enterprise_user`` object of a Grid member (``objs_enterprise_user`` in the spec)."""
    return {
        "id": user_id,
        "enterprise_id": enterprise_id,
        "enterprise_name": enterprise_name,
        "is_admin": False,
        "is_owner": False,
        "teams": list(teams),
    }


@dataclass(frozen=True)
class Membership:
    """Where a user belongs: what their user object says and which ``users.list`` shows them."""

    team: str  # the user's own workspace: ``team_id`` and ``profile.team``
    listed_in: tuple[str, ...]  # the workspaces whose users.list includes them
    # (enterprise id, enterprise name, workspaces) for ``enterprise_user``; None outside Grid
    enterprise: tuple[str, str, tuple[str, ...]] | None = None
