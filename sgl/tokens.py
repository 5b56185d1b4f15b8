"""Bearer tokens for systems and people: issued, listed and revoked, kept only as hashes.

A token reads `sgl_<id>_<secret>`: the id is public (listed, revoked, written on the access
log), the secret is 256 random bits shown once when the token is made. The store keeps the
SHA-256 of the whole token (a fast hash suffices for a secret that long), the agency, the
role, the person it names if any, and its expiry. Every request looks its token up again, so a
revocation or an expiry takes effect on the next request. No token acts for the ledger's own
agency (`safeguarding-ledger`): it records the ledger's alerts, and a caller of it would be
told every alert.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from ledger.agency_rules import LEDGER_AGENCY
from ledger.envelope import utc_text
from ledger.private import private_database
from sgl.identity import ROLES, Caller, Role

PREFIX = "sgl_"
_FORM = re.compile(r"^sgl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
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
        if not info.active(now or datetime.now(UTC)) or info.agency == LEDGER_AGENCY:
            return None
        return Caller(info.token_id, info.agency, info.role, info.person, "token")

    def revoke(self, token_id: str, now: datetime | None = None) -> bool:
        """Revoke a token by its id; False when there is no such token or it was revoked."""
        with self._lock:
            changed = self._conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (utc_text(now or datetime.now(UTC)), token_id),
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
