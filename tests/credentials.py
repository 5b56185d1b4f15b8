"""Credentials for tests that call the API: tokens made straight in the ledger's token store,
one per role and agency, and an httpx auth that picks the one a real caller would use.

A test of something other than access control calls as the caller that may: a publisher of the
events' agency for a POST of events (the admin for registry events), an inquiry team stating a
purpose for every read. Access control itself is tested with explicit tokens.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import httpx
import orjson

from ledger.settings import Settings
from sgl.identity import PURPOSE_HEADER, READS_ALL, Role
from sgl.tokens import TokenStore

# The agencies the tests' readers and admin belong to: never an agency the tests publish as.
INQUIRY_AGENCY = "test-inquiry-panel"
AUDITOR_AGENCY = "test-audit-office"
ADMIN_AGENCY = "test-ledger-operator"
# Publishing as no agency in particular (a body the server cannot read, or with no agency).
ANY_PUBLISHER = "test-publisher"
PURPOSE = "practice-review"
REGISTRY_TYPES = ("agency.registered", "agency.updated")
_DEFAULT_AGENCY: dict[Role, str] = {
    "inquiry": INQUIRY_AGENCY,
    "auditor": AUDITOR_AGENCY,
    "admin": ADMIN_AGENCY,
    "publisher": ANY_PUBLISHER,
}


class Credentials:
    """Tokens for one ledger's data directory, made once per role, agency and person."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: TokenStore | None = None
        self._made: dict[tuple[str, str, str | None], str] = {}

    def token(self, role: Role, agency: str | None = None, person: str | None = None) -> str:
        """A valid token for the role (and agency, and person), made on first use."""
        chosen = agency or _DEFAULT_AGENCY.get(role)
        if chosen is None:
            raise ValueError(f"a {role} token needs an agency")
        key = (role, chosen, person)
        if key not in self._made:
            expires = datetime.now(UTC) + timedelta(days=1)
            issued = self.store.create(chosen, role, expires, person=person, label="test")
            self._made[key] = issued.token
        return self._made[key]

    def headers(
        self,
        role: Role,
        agency: str | None = None,
        purpose: str | None = PURPOSE,
        person: str | None = None,
    ) -> dict[str, str]:
        """The headers of a request by this role: its token, and its purpose if it states one."""
        found = {"Authorization": f"Bearer {self.token(role, agency, person)}"}
        if role in READS_ALL and purpose is not None:
            found[PURPOSE_HEADER] = purpose
        return found

    def auth(self) -> CallerAuth:
        """An httpx auth calling as the caller that may (see the module's docstring)."""
        return CallerAuth(self)

    @property
    def store(self) -> TokenStore:
        """The ledger's token store, opened on first use."""
        if self._store is None:
            self._store = TokenStore(self._settings.tokens_db)
        return self._store

    def close(self) -> None:
        """Close the token store."""
        if self._store is not None:
            self._store.close()
            self._store = None


class CallerAuth(httpx.Auth):
    """Adds the credentials of the caller that may make each request, unless it has some."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The request with its caller's headers."""
        if "authorization" not in request.headers:
            if request.method == "POST" and request.url.path == "/v1/events":
                headers = self._publisher(request)
            else:
                headers = self._credentials.headers("inquiry")
            request.headers.update(headers)
        yield request

    def _publisher(self, request: httpx.Request) -> dict[str, str]:
        """A publisher of the (first) event's agency, or the admin for registry events; any
        publisher for a streamed body (not read here) or one that is not JSON."""
        try:
            parsed: Any = orjson.loads(request.content)
        except (httpx.RequestNotRead, orjson.JSONDecodeError):
            return self._credentials.headers("publisher")
        first = parsed[0] if isinstance(parsed, list) and parsed else parsed
        if not isinstance(first, dict):
            return self._credentials.headers("publisher")
        if first.get("type") in REGISTRY_TYPES:
            return self._credentials.headers("admin")
        agency = first.get("agency")
        return self._credentials.headers("publisher", agency if isinstance(agency, str) else None)


def caller_of(event: dict[str, Any]) -> str:
    """Who publishes the event: the admin for a registry event, else its agency's publisher."""
    return "admin" if event.get("type") in REGISTRY_TYPES else str(event.get("agency"))


def by_caller(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The events as the requests their callers would send, in order: each run of one
    caller's events is one batch, as a real publisher never sends another agency's events."""
    return [list(run) for _, run in groupby(events, key=caller_of)]


def post_by_caller(http: httpx.Client, events: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST the events in order, each caller's run of them as one batch (`by_caller`), with a
    client that picks each batch's caller (`Credentials.auth`); the answers in order."""
    return [http.post("/v1/events", json=batch) for batch in by_caller(events)]
