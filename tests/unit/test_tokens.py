"""No credential acts for the ledger's own agency: the token store and `sgl token create`
refuse it, and the operator's admin token is an agency of its own."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.agency_rules import LEDGER_AGENCY
from ledger.settings import Settings
from sgl.authorize import ADMIN_AGENCY, Credentials
from sgl.cli import cli
from sgl.tokens import TokenStore

LATER = datetime.now(UTC) + timedelta(days=1)


def test_the_store_makes_no_token_for_the_ledgers_own_agency(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.sqlite")
    try:
        with pytest.raises(ValueError, match="the ledger's own agency id"):
            store.create(LEDGER_AGENCY, "admin", LATER)
        assert store.tokens() == []
        issued = store.create("test-police-northmoor", "practitioner", LATER)
        assert store.verify(issued.token) is not None
    finally:
        store.close()


def test_a_stored_token_for_the_ledgers_agency_stands_for_no_one(tmp_path: Path) -> None:
    """A row naming the ledger's agency (made before the store refused it) does not verify."""
    path = tmp_path / "tokens.sqlite"
    store = TokenStore(path)
    try:
        issued = store.create("test-police-northmoor", "admin", LATER)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE tokens SET agency = ?", (LEDGER_AGENCY,))
        assert store.verify(issued.token) is None
    finally:
        store.close()


def test_token_create_refuses_the_ledgers_own_agency(tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path), "token", "create", "--role", "admin", "--agency"]
    result = CliRunner().invoke(cli, [*args, LEDGER_AGENCY])
    assert result.exit_code == 2
    assert "--agency" in result.output and "the ledger's own agency id" in result.output
    assert "sgl_" not in result.output
    made = CliRunner().invoke(cli, [*args, "test-ledger-operator"])
    assert made.exit_code == 0, made.output


def test_the_operators_admin_token_is_an_agency_of_its_own(tmp_path: Path) -> None:
    secret = "operator-" + "0" * 40
    credentials = Credentials(Settings.from_env({}, data_dir=tmp_path).tokens_db, secret)
    caller = credentials.caller(secret)
    assert caller is not None and caller.role == "admin"
    assert caller.agency == ADMIN_AGENCY != LEDGER_AGENCY
