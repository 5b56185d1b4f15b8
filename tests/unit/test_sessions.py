"""The workbench's sessions in the token store: a secret of their own kept only as a hash,
standing for one token until they end, run out, or the token stops being current."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.requests import Request

from ledger.errors import SettingsError
from ledger.settings import CookieSecure, Settings
from sgl.tokens import TokenStore
from sgl.web import cookie_is_secure, session_cookie

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOURS = timedelta(hours=8)
AGENCY = "test-inquiry-panel"


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    """An empty token store of its own."""
    return TokenStore(tmp_path / "tokens.sqlite")


def test_only_the_secrets_hash_is_stored(tmp_path: Path, store: TokenStore) -> None:
    issued = store.create(AGENCY, "inquiry", NOW + timedelta(days=1), now=NOW)
    opened = store.open_session(issued.token, HOURS, "practice-review", now=NOW)
    assert opened is not None
    assert opened.secret.startswith("sgls_") and issued.token not in opened.secret
    assert opened.secret not in repr(opened)
    with sqlite3.connect(tmp_path / "tokens.sqlite") as conn:
        rows = conn.execute("SELECT * FROM sessions").fetchall()
        dump = "\n".join(conn.iterdump())
    [row] = rows
    assert row[0] == opened.session.session_id and row[2] == issued.info.token_id
    assert row[1] == hashlib.sha256(opened.secret.encode()).hexdigest()
    assert opened.secret.rsplit("_", 1)[1] not in dump
    found = store.session(opened.secret, NOW)
    assert found is not None and found.caller.token_id == issued.info.token_id
    assert found.purpose == "practice-review"


def test_a_session_and_a_token_never_stand_in_for_each_other(store: TokenStore) -> None:
    issued = store.create(AGENCY, "inquiry", NOW + timedelta(days=1), now=NOW)
    opened = store.open_session(issued.token, HOURS, now=NOW)
    assert opened is not None
    assert store.verify(opened.secret, NOW) is None
    assert store.session(issued.token, NOW) is None
    wrong = opened.secret[:-1] + ("A" if opened.secret[-1] != "A" else "B")
    assert store.session(wrong, NOW) is None
    assert store.session("sgls_not-a-session", NOW) is None


def test_a_session_lasts_its_lifetime_but_never_past_its_token(store: TokenStore) -> None:
    lasting = store.create(AGENCY, "auditor", NOW + timedelta(days=1), now=NOW)
    brief = store.create(AGENCY, "auditor", NOW + timedelta(hours=2), now=NOW)
    long_session = store.open_session(lasting.token, HOURS, now=NOW)
    short_session = store.open_session(brief.token, HOURS, now=NOW)
    assert long_session is not None and short_session is not None
    assert long_session.session.expires_at == "2026-03-02T17:00:00Z"
    assert short_session.session.expires_at == "2026-03-02T11:00:00Z"
    just_before = NOW + HOURS - timedelta(seconds=1)
    assert store.session(long_session.secret, just_before) is not None
    assert store.session(long_session.secret, NOW + HOURS) is None
    assert store.session(short_session.secret, NOW + timedelta(hours=2)) is None


def test_ending_or_revoking_ends_the_session(tmp_path: Path, store: TokenStore) -> None:
    issued = store.create(AGENCY, "inquiry", NOW + timedelta(days=1), now=NOW)
    ended = store.open_session(issued.token, HOURS, now=NOW)
    kept = store.open_session(issued.token, HOURS, now=NOW)
    assert ended is not None and kept is not None
    assert store.end_session(ended.session.session_id)
    assert not store.end_session(ended.session.session_id)
    assert store.session(ended.secret, NOW) is None
    assert store.session(kept.secret, NOW) is not None
    assert store.set_session_purpose(kept.session.session_id, "audit")
    found = store.session(kept.secret, NOW)
    assert found is not None and found.purpose == "audit"
    assert store.revoke(issued.info.token_id, NOW)
    assert store.session(kept.secret, NOW) is None
    with sqlite3.connect(tmp_path / "tokens.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    assert store.open_session(issued.token, HOURS, now=NOW) is None


def test_a_revoked_token_opens_no_session_left_in_the_store(
    tmp_path: Path, store: TokenStore
) -> None:
    """A row left standing for a token revoked some other way opens nothing."""
    issued = store.create(AGENCY, "inquiry", NOW + timedelta(days=1), now=NOW)
    opened = store.open_session(issued.token, HOURS, now=NOW)
    assert opened is not None
    with sqlite3.connect(tmp_path / "tokens.sqlite") as conn:
        conn.execute("UPDATE tokens SET revoked_at = ?", ("2026-03-02T09:30:00Z",))
    assert store.session(opened.secret, NOW + timedelta(hours=1)) is None


def test_sessions_over_are_cleared_when_another_starts(tmp_path: Path, store: TokenStore) -> None:
    issued = store.create(AGENCY, "inquiry", NOW + timedelta(days=2), now=NOW)
    assert store.open_session(issued.token, HOURS, now=NOW) is not None
    assert store.open_session(issued.token, HOURS, now=NOW + timedelta(days=1)) is not None
    with sqlite3.connect(tmp_path / "tokens.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (1,)


def test_a_token_store_made_before_sessions_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite"
    store = TokenStore(path)
    issued = store.create(AGENCY, "inquiry", NOW + timedelta(days=1), now=NOW)
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE sessions")
    reopened = TokenStore(path)
    try:
        opened = reopened.open_session(issued.token, HOURS, now=NOW)
        assert opened is not None and reopened.session(opened.secret, NOW) is not None
    finally:
        reopened.close()


def page_request(host: str, scheme: str = "http") -> Request:
    """A request as the app sees it, asked for at this Host over this scheme."""
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "method": "GET",
            "path": "/cases",
            "query_string": b"",
            "headers": [(b"host", host.encode())],
            "server": ("127.0.0.1", 8000),
        }
    )


@pytest.mark.parametrize(
    ("host", "scheme", "mode", "secure"),
    [
        ("127.0.0.1:8000", "http", "auto", False),
        ("[::1]:8000", "http", "auto", False),
        ("localhost:8000", "http", "auto", False),
        ("127.0.0.1:8000", "https", "auto", True),
        ("ledger.example", "http", "auto", True),
        ("ledger.example", "https", "auto", True),
        ("127.0.0.1:8000", "http", "always", True),
        ("ledger.example", "http", "never", False),
    ],
)
def test_the_cookie_is_secure_unless_on_loopback_over_http(
    host: str, scheme: str, mode: CookieSecure, secure: bool
) -> None:
    request = page_request(host, scheme)
    assert cookie_is_secure(request, mode) is secure
    expected = "__Host-sgl_session" if secure else "sgl_session"
    assert session_cookie(request, mode) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SGL_SESSION_HOURS": "0"}, "SGL_SESSION_HOURS must be a number of hours above 0"),
        ({"SGL_SESSION_HOURS": "nan"}, "SGL_SESSION_HOURS must be a number of hours above 0"),
        ({"SGL_SESSION_HOURS": "9000"}, "at most 8760"),
        ({"SGL_SESSION_HOURS": "eight"}, "SGL_SESSION_HOURS must be a number"),
        ({"SGL_COOKIE_SECURE": "sometimes"}, "SGL_COOKIE_SECURE must be 'auto', 'always'"),
    ],
)
def test_session_settings_out_of_range_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_session_settings_default_to_eight_hours_and_auto() -> None:
    defaults = Settings.from_env({})
    assert (defaults.session_hours, defaults.cookie_secure) == (8.0, "auto")
    chosen = Settings.from_env({"SGL_SESSION_HOURS": "0.5", "SGL_COOKIE_SECURE": "always"})
    assert (chosen.session_hours, chosen.cookie_secure) == (0.5, "always")
