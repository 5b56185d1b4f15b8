"""The demo's tokens: one per role, kept in the data directory's demo-tokens.json (mode 0600)
and made again only when one stops working, so `sgl demo` twice prints the same ones.

The publisher and the practitioner are Child A's children's social care; the inquiry panel,
the auditor and the operator are agencies of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ledger.private import private_dir
from ledger.settings import Settings
from sgl.demo.child_a import SOCIAL_CARE
from sgl.identity import Role
from sgl.tokens import TokenStore

FILE_NAME = "demo-tokens.json"
DAYS = 30
LABEL = "demo"
AGENCIES: tuple[tuple[Role, str], ...] = (
    ("publisher", SOCIAL_CARE),
    ("practitioner", SOCIAL_CARE),
    ("inquiry", "demo-inquiry-panel"),
    ("auditor", "demo-audit-office"),
    ("admin", "demo-ledger-operator"),
)


@dataclass(frozen=True, slots=True)
class DemoToken:
    """One role's demo token."""

    role: Role
    agency: str
    token_id: str
    token: str
    expires_at: str

    def as_dict(self) -> dict[str, Any]:
        """The token as demo-tokens.json lists it."""
        return {
            "role": self.role,
            "agency": self.agency,
            "token_id": self.token_id,
            "token": self.token,
            "expires_at": self.expires_at,
        }


def tokens_file(settings: Settings) -> Path:
    """Where the demo's tokens are written."""
    return settings.data_dir / FILE_NAME


def demo_tokens(settings: Settings) -> list[DemoToken]:
    """A working token per role: the file's where they still verify, new ones otherwise;
    the file is (re)written, readable by its owner only."""
    path = tokens_file(settings)
    store = TokenStore(settings.tokens_db)
    try:
        kept = {t.role: t for t in _read(path) if _works(store, t)}
        tokens = [kept.get(role) or _make(store, role, agency) for role, agency in AGENCIES]
    finally:
        store.close()
    _write(path, tokens)
    return tokens


def _works(store: TokenStore, token: DemoToken) -> bool:
    """Whether a listed token still stands for the role and agency the demo gives it."""
    caller = store.verify(token.token)
    given = (token.role, token.agency)
    return caller is not None and (caller.role, caller.agency) == given and given in AGENCIES


def _make(store: TokenStore, role: Role, agency: str) -> DemoToken:
    issued = store.create(agency, role, datetime.now(UTC) + timedelta(days=DAYS), label=LABEL)
    return DemoToken(role, agency, issued.info.token_id, issued.token, issued.info.expires_at)


def _read(path: Path) -> list[DemoToken]:
    """The tokens a previous run wrote; none if there is no file or it cannot be read."""
    try:
        listed = orjson.loads(path.read_bytes())["tokens"]
        return [DemoToken(**entry) for entry in listed]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return []


def _write(path: Path, tokens: list[DemoToken]) -> None:
    """Write the file with mode 0600 from its creation (never readable by others, even
    briefly)."""
    private_dir(path.parent)
    body = orjson.dumps({"tokens": [t.as_dict() for t in tokens]}, option=orjson.OPT_INDENT_2)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(body + b"\n")
