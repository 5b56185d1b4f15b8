"""The authorization step every API request passes: who is calling (a ledger token, the
operator's admin token, or an identity provider's access token), at what rate, in which role
and for what purpose; then the route's rule decides.

Refusals reveal nothing: a missing, malformed, unknown, revoked or expired credential is one
401. A caller over its rate is told when to come back (429, Retry-After). Neither is on the
access log: the route's rule is set on the request only once the caller is known and within
its rate. A role the route is not for, or a purpose missing or unknown, is a 403 set on the
request's access first, so the access log records a refused read as well as a granted one.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import structlog
from fastapi import Request
from fastapi.routing import APIRoute

from ledger.agency_rules import LEDGER_AGENCY
from ledger.errors import Problem
from ledger.settings import CookieSecure, Settings
from sgl.access_rules import Rule, rule_for
from sgl.identity import DEFAULT_PURPOSES, PURPOSE_HEADER, Access, Caller
from sgl.oidc import OidcVerifier
from sgl.tokens import PREFIX, OpenedSession, Session, TokenStore
from sgl.web import is_page, session_cookie

log = structlog.get_logger("sgl.authorize")

PURPOSE_PARAMETER = "purpose"
# The public id written for a request made with the operator's admin token.
ENVIRONMENT_ADMIN_ID = "environment"
# The agency of the operator's admin token: its own, never the ledger's (which the ledger's
# alerts are recorded as, and so would be told every alert).
ADMIN_AGENCY = "ledger-admin"
_BEARER = "bearer"


class Refused(Exception):
    """A request the authorization step refuses, answered as a problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        problems: Sequence[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.problems = list(problems)
        self.headers = dict(headers or {})


def purposes_of(settings: Settings) -> tuple[str, ...]:
    """The purposes a request may state: SGL_PURPOSES, or the defaults."""
    named = tuple(p.strip() for p in settings.purposes.split(",") if p.strip())
    return named or DEFAULT_PURPOSES


class RateLimiter:
    """A token bucket per caller, in memory: `rate` requests a second sustained, `burst` at
    once. A limit per process: each API process limits its own share."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request of `key`'s bucket: 0.0 when allowed, else the seconds until one
        is available again."""
        now = self._clock()
        with self._lock:
            level, then = self._buckets.get(key, (self._burst, now))
            level = min(self._burst, level + (now - then) * self._rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / self._rate


class Credentials:
    """The ways a caller may prove who it is: the ledger's tokens (their store opened on first
    use, so building the app writes nothing), the operator's admin token, a provider's; and
    the workbench's sessions, each standing for a ledger token."""

    def __init__(
        self,
        tokens_db: Path,
        admin_token: str = "",
        oidc: OidcVerifier | None = None,
        session_lifetime: timedelta = timedelta(hours=8),
    ) -> None:
        self._tokens_db = tokens_db
        self._admin_token = admin_token
        self._oidc = oidc
        self._session_lifetime = session_lifetime
        self._store: TokenStore | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials:
        """The credentials the settings configure."""
        return cls(
            settings.tokens_db,
            settings.admin_token,
            OidcVerifier.from_settings(settings),
            timedelta(hours=settings.session_hours),
        )

    def caller(self, presented: str) -> Caller | None:
        """The caller a bearer credential stands for, or None when it stands for no one (nor
        for the ledger's own agency)."""
        if presented.startswith(PREFIX):
            return self._tokens().verify(presented)
        if self._admin_token and hmac.compare_digest(
            presented.encode(), self._admin_token.encode()
        ):
            return Caller(ENVIRONMENT_ADMIN_ID, ADMIN_AGENCY, "admin", via="environment")
        if self._oidc is not None and presented.count(".") == 2:
            found = self._oidc.verify(presented)
            # No credential acts for the ledger's own agency (ledger tokens cannot name it).
            return None if found is not None and found.agency == LEDGER_AGENCY else found
        return None

    def open_session(self, token: str, purpose: str | None) -> OpenedSession | None:
        """Start a workbench session for a current ledger token; None for any other
        credential (a session stands for a token the store can revoke)."""
        if not token.startswith(PREFIX):
            return None
        return self._tokens().open_session(token, self._session_lifetime, purpose)

    def session(self, secret: str) -> Session | None:
        """The current session a browser's secret opens, or None."""
        return self._tokens().session(secret)

    def set_session_purpose(self, session_id: str, purpose: str) -> bool:
        """Change the purpose a session's page views state."""
        return self._tokens().set_session_purpose(session_id, purpose)

    def end_session(self, session_id: str) -> bool:
        """End a session: its secret opens nothing from now on."""
        return self._tokens().end_session(session_id)

    def close(self) -> None:
        """Close the token store if it was opened."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _tokens(self) -> TokenStore:
        with self._lock:
            if self._store is None:
                self._store = TokenStore(self._tokens_db)
            return self._store


class Authorize:
    """The app-wide dependency: authenticates, rate-limits, then applies the route's rule."""

    def __init__(
        self,
        credentials: Credentials,
        limiter: RateLimiter,
        purposes: Sequence[str],
        rules: Mapping[tuple[str, str], Rule],
        cookie_secure: CookieSecure = "auto",
    ) -> None:
        self._credentials = credentials
        self._limiter = limiter
        self._purposes = tuple(purposes)
        self._rules = rules
        self._cookie_secure = cookie_secure

    def __call__(self, request: Request) -> None:
        """Set `request.state.access` and `.rule`, or refuse the request."""
        route = request.scope.get("route")
        if not isinstance(route, APIRoute):
            return
        rule = rule_for(request.method, route.path, self._rules)
        if rule.scope == "public":
            request.state.rule = rule
            return
        caller = self._caller(request)
        wait = self._limiter.take(f"{caller.via}:{caller.token_id}")
        if wait > 0:
            log.warning("access.rate_limited", token_id=caller.token_id, route=route.path)
            raise Refused(
                429,
                "rate-limited",
                "Too many requests",
                f"this credential's limit is spent; retry after {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        # Set only now, so a 401 or a 429 is never on the access log (anyone could flood the
        # sealed log with them; metrics and the logs count them), and before any refusal
        # below, so a read refused by role or purpose is on the access log too.
        request.state.rule = rule
        request.state.access = Access(caller)
        purpose = self._stated_purpose(request)
        request.state.access = Access(caller, purpose)
        where = f"{request.method} {route.path}"
        if caller.role not in rule.roles:
            allowed = ", ".join(sorted(rule.roles))
            self._refuse(
                rule,
                caller,
                where,
                Problem(
                    "/authorization", "role", f"a {caller.role} may not; {where} is for: {allowed}"
                ),
            )
        if purpose is None and rule.needs_purpose(caller.role):
            self._refuse(
                rule,
                caller,
                where,
                Problem(
                    f"/headers/{PURPOSE_HEADER}",
                    "purpose-required",
                    f"a {caller.role} states the purpose of every request, in {PURPOSE_HEADER} "
                    f"or `{PURPOSE_PARAMETER}`: one of {', '.join(self._purposes)}",
                ),
            )

    def _caller(self, request: Request) -> Caller:
        """The verified caller, or a 401 that says no more than that there is none."""
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if not scheme and is_page(request):
            # A page's caller signed in once: its browser sends the session's secret as a
            # cookie, which the API's routes never read. The session stands for its token
            # only while both are current, so a revocation ends it at the next request.
            secret = request.cookies.get(session_cookie(request, self._cookie_secure), "")
            session = self._credentials.session(secret) if secret else None
            request.state.session = session
            sent, caller = bool(secret), session.caller if session else None
        else:
            sent = scheme.lower() == _BEARER and bool(presented.strip())
            caller = self._credentials.caller(presented.strip()) if sent else None
        if caller is None:
            log.info("access.unauthenticated", route=request.scope["route"].path, sent=sent)
            challenge = 'Bearer error="invalid_token"' if sent else "Bearer"
            raise Refused(
                401,
                "unauthenticated",
                "Valid credentials are needed",
                "send `Authorization: Bearer TOKEN` with a token that is current: this one is "
                "missing, malformed, unknown, revoked or expired",
                headers={"WWW-Authenticate": challenge},
            )
        return caller

    def _stated_purpose(self, request: Request) -> str | None:
        """The purpose the request states (header or parameter), which must be a known one;
        a page's session states the purpose chosen for it as the header would."""
        header = request.headers.get(PURPOSE_HEADER)
        session = getattr(request.state, "session", None)
        if header is None and isinstance(session, Session):
            header = session.purpose
        parameter = request.query_params.get(PURPOSE_PARAMETER)
        if header is not None and parameter is not None and header != parameter:
            raise Refused(
                403,
                "forbidden",
                "Two different purposes",
                f"{PURPOSE_HEADER} says {header!r} and `{PURPOSE_PARAMETER}` says "
                f"{parameter!r}: state one purpose",
                [Problem(f"/{PURPOSE_PARAMETER}", "purpose-single", "two purposes stated")],
            )
        stated = header if header is not None else parameter
        if stated is not None and stated not in self._purposes:
            raise Refused(
                403,
                "forbidden",
                "Unknown purpose",
                f"{stated!r} is not a purpose this ledger knows",
                [
                    Problem(
                        f"/{PURPOSE_PARAMETER}",
                        "purpose-known",
                        f"{stated!r} is not one of: {', '.join(self._purposes)}",
                    )
                ],
            )
        return stated

    @staticmethod
    def _refuse(rule: Rule, caller: Caller, where: str, problem: Problem) -> None:
        log.info(
            "access.refused",
            token_id=caller.token_id,
            role=caller.role,
            route=where,
            rule=problem.rule,
        )
        detail = f"{where} is refused to this caller"
        if rule.scope == "publish":
            detail += "; nothing was appended"
        raise Refused(403, "forbidden", "Not permitted", detail, [problem])
