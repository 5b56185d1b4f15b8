"""Bearer tokens for systems and people: issued, listed and revoked, kept only as hashes.

A token reads `sgl_<id>_<secret>`: the id is public (listed, revoked, written on the access
log), the secret is 256 random bits shown once when the token is made. The store keeps the
SHA-256 of the whole token (a fast hash suffices for a secret that long), the agency, the
role, the person it names if any, and its expiry. Every request looks its token up again, so a
revocation or an expiry takes effect on the next request. No token acts for the ledger's own
agency (`safeguarding-ledger`): it records the ledger's alerts, and a caller of it would be
told every alert.

A browser signed in to the workbench holds a session instead (`sgls_<id>_<secret>`, the same
form): a secret of its own, kept as a SHA-256 too, standing for one token until it expires (at
most its token's expiry) or is ended. It is no bearer token: the API's routes never take it, and
a session of a token since revoked or expired opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from ledger.agency_rules import LEDGER_AGENCY
from ledger.envelope import utc_text
from ledger.private import private_database
from sgl.identity import ROLES, Caller, Role

PREFIX = "sgl_"
SESSION_PREFIX = "sgls_"
_FORM = re.compile(r"^sgl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_SESSION_FORM = re.compile(r"^sgls_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    agency TEXT NOT NULL,
    role TEXT NOT NULL,
    person TEXT,
    label TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
)
"""
# Created when a store is opened, so a token store made before sessions existed gains them.
_SESSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    token_id TEXT NOT NULL,
    purpose TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
)
"""
_SESSIONS_INDEX = "CREATE INDEX IF NOT EXISTS sessions_by_token ON sessions (token_id)"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the store says of a token: everything but its secret."""

    token_id: str
    agency: str
    role: Role
    person: str | None
    label: str | None
    created_at: str
    expires_at: str
    revoked_at: str | None

    def active(self, now: datetime) -> bool:
        """Whether the token is neither revoked nor expired at `now`."""
        return self.revoked_at is None and utc_text(now) < self.expires_at


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made: its text is shown once and never kept (nor printed in a repr)."""

    token: str = field(repr=False)
    info: TokenInfo


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser's session: the caller its token stands for, the purpose its page
    views state, and when it ends."""

    session_id: str
    caller: Caller
    purpose: str | None
    expires_at: str


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A session just started: its secret goes to the browser once and is never kept."""

    secret: str = field(repr=False)
    session: Session


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_of(token: str) -> str | None:
    """The public id a token text carries, or None when it is not a ledger token."""
    found = _FORM.match(token)
    return found.group(1) if found else None


class TokenStore:
    """The tokens of one ledger, in a SQLite file of their own."""

    def __init__(self, path: Path) -> None:
        # Owner-only, as every file of the data directory: hashes, but of every credential.
        private_database(path)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(_SCHEMA)
        self._conn.execute(_SESSIONS_SCHEMA)
        self._conn.execute(_SESSIONS_INDEX)
        self._lock = threading.Lock()

    def create(
        self,
        agency: str,
        role: Role,
        expires_at: datetime,
        *,
        person: str | None = None,
        label: str | None = None,
        now: datetime | None = None,
    ) -> IssuedToken:
        """Make a token for an agency and role, valid until `expires_at` (ValueError for the
        ledger's own agency, an unknown role, or an expiry already past)."""
        if agency == LEDGER_AGENCY:
            raise ValueError(
                f"{LEDGER_AGENCY!r} is the ledger's own agency id (it records the ledger's "
                "alerts): a token acts for a caller's agency, never for it"
            )
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        made = now or datetime.now(UTC)
        if expires_at <= made:
            raise ValueError("a token must expire after it is made")
        token_id = secrets.token_hex(6)
        text = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(
            token_id, agency, role, person, label, utc_text(made), utc_text(expires_at), None
        )
        with self._lock:
            self._conn.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    token_id,
                    token_hash(text),
                    agency,
                    role,
                    person,
                    label,
                    info.created_at,
                    info.expires_at,
                ),
            )
        return IssuedToken(text, info)

    def verify(self, token: str, now: datetime | None = None) -> Caller | None:
        """The caller a presented token stands for, or None when it is malformed, unknown,
        revoked or expired, or stands for the ledger's own agency (the caller is told only
        that its credentials are not valid)."""
        token_id = token_id_of(token)
        if token_id is None:
            return None
        info, stored = self._row(token_id)
        if info is None or not hmac.compare_digest(stored, token_hash(token)):
            return None
        return _caller(info, now or datetime.now(UTC))

    def revoke(self, token_id: str, now: datetime | None = None) -> bool:
        """Revoke a token by its id, ending its sessions; False when there is no such token or
        it was revoked."""
        with self._lock:
            changed = self._conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (utc_text(now or datetime.now(UTC)), token_id),
            ).rowcount
            self._conn.execute("DELETE FROM sessions WHERE token_id = ?", (token_id,))
        return bool(changed)

    def open_session(
        self,
        token: str,
        lifetime: timedelta,
        purpose: str | None = None,
        now: datetime | None = None,
    ) -> OpenedSession | None:
        """Start a session for a current token, lasting `lifetime` but never past the token's
        expiry; None when the token does not verify. Sessions already over are cleared."""
        made = now or datetime.now(UTC)
        caller = self.verify(token, made)
        if caller is None:
            return None
        info, _ = self._row(caller.token_id)
        if info is None:
            return None
        ends = min(made + lifetime, _instant(info.expires_at))
        session_id = secrets.token_hex(6)
        secret = f"{SESSION_PREFIX}{session_id}_{secrets.token_urlsafe(32)}"
        session = Session(session_id, caller, purpose, utc_text(ends))
        with self._lock:
            self._conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (utc_text(made),))
            self._conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    token_hash(secret),
                    caller.token_id,
                    purpose,
                    utc_text(made),
                    session.expires_at,
                ),
            )
        return OpenedSession(secret, session)

    def session(self, secret: str, now: datetime | None = None) -> Session | None:
        """The session a browser's secret opens, or None when it is malformed, unknown, ended
        or expired, or its token is revoked or expired since."""
        found = _SESSION_FORM.match(secret)
        if found is None:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT t.token_id, t.agency, t.role, t.person, t.label, t.created_at, "
                "t.expires_at, t.revoked_at, s.session_hash, s.purpose, s.expires_at "
                "FROM sessions AS s JOIN tokens AS t ON t.token_id = s.token_id "
                "WHERE s.session_id = ?",
                (found.group(1),),
            ).fetchone()
        if row is None or not hmac.compare_digest(str(row[8]), token_hash(secret)):
            return None
        moment = now or datetime.now(UTC)
        caller = _caller(_info(row), moment)
        if caller is None or moment >= _instant(row[10]):
            return None
        return Session(found.group(1), caller, row[9], row[10])

    def set_session_purpose(self, session_id: str, purpose: str) -> bool:
        """Change the purpose a session's page views state; False when it has ended."""
        with self._lock:
            changed = self._conn.execute(
                "UPDATE sessions SET purpose = ? WHERE session_id = ?", (purpose, session_id)
            ).rowcount
        return bool(changed)

    def end_session(self, session_id: str) -> bool:
        """End a session, so its secret opens nothing; False when it had ended already."""
        with self._lock:
            changed = self._conn.execute(
                "DELETE FROM sessions WHERE session_id = ?", (session_id,)
            ).rowcount
        return bool(changed)

    def tokens(self) -> list[TokenInfo]:
        """Every token ever made, oldest first, without secrets."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT token_id, agency, role, person, label, created_at, expires_at, "
                "revoked_at FROM tokens ORDER BY created_at, token_id"
            ).fetchall()
        return [_info(row) for row in rows]

    def close(self) -> None:
        """Close the store's connection."""
        self._conn.close()

    def _row(self, token_id: str) -> tuple[TokenInfo | None, str]:
        with self._lock:
            row = self._conn.execute(
                "SELECT token_id, agency, role, person, label, created_at, expires_at, "
                "revoked_at, token_hash FROM tokens WHERE token_id = ?",
                (token_id,),
            ).fetchone()
        if row is None:
            return None, ""
        return _info(row), str(row[8])


def _caller(info: TokenInfo, now: datetime) -> Caller | None:
    """The caller a stored token stands for at `now`: None when it is revoked or expired, or
    names the ledger's own agency."""
    if not info.active(now) or info.agency == LEDGER_AGENCY:
        return None
    return Caller(info.token_id, info.agency, info.role, info.person, "token")


def _instant(text: str) -> datetime:
    """A stored UTC time, compared as a time (its text may or may not carry fractions)."""
    return datetime.fromisoformat(text)


def _info(row: tuple[Any, ...]) -> TokenInfo:
    """A token's information from its row (the first eight columns, in field order)."""
    return TokenInfo(
        token_id=row[0],
        agency=row[1],
        role=cast(Role, row[2]),
        person=row[3],
        label=row[4],
        created_at=row[5],
        expires_at=row[6],
        revoked_at=row[7],
    )
