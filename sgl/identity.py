"""Who is calling: the roles a token or an identity provider gives, and the caller of a request.

A caller is an agency's system or person with one role:

- `publisher`: a system publishing its own agency's events;
- `practitioner`: a person reading for their agency, who sees what that agency knew;
- `inquiry` and `auditor`: people who see everything, stating a purpose with each request;
- `admin`: tokens and the agency registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

# Only for a type: the CLI reads roles and callers (sgl token) without loading a web framework.
if TYPE_CHECKING:
    from fastapi import Request

Role = Literal["publisher", "practitioner", "inquiry", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("publisher", "practitioner", "inquiry", "auditor", "admin")
# The roles that see every case, and so must state a purpose with every request.
READS_ALL: frozenset[Role] = frozenset({"inquiry", "auditor"})
# How a caller states the purpose of a request (or the `purpose` query parameter).
PURPOSE_HEADER = "X-SGL-Purpose"
# The purposes a request may state unless SGL_PURPOSES names others.
DEFAULT_PURPOSES: tuple[str, ...] = (
    "practice-review",
    "public-inquiry",
    "inspection",
    "audit",
    "legal-proceedings",
    "complaint",
)
Via = Literal["token", "oidc", "environment"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified identity behind a request; never the credential itself."""

    # The token's public id (never its secret), or the identity provider's subject.
    token_id: str
    agency: str
    role: Role
    # The person the credential names, if any: their events' recorded_by must be them.
    person: str | None = None
    via: Via = "token"


@dataclass(frozen=True, slots=True)
class Access:
    """A request's caller and the purpose it stated (None where its role states none)."""

    caller: Caller
    purpose: str | None = None


def access_of(request: Request) -> Access:
    """The access the authorization step granted this request; a route reached without one
    is a wiring mistake, never an anonymous read."""
    access = getattr(request.state, "access", None)
    if not isinstance(access, Access):
        raise RuntimeError(f"{request.url.path} was reached without an authorized caller")
    return access
