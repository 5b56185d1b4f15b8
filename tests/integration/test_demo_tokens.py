"""`sgl demo` makes a token per role, prints them and keeps them in a file only its owner reads;
a second run gives the same tokens, and a revoked one is replaced."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
from click.testing import CliRunner

from ledger.settings import Settings
from sgl.cli import cli
from sgl.demo.tokens import AGENCIES, FILE_NAME
from sgl.identity import ROLES
from sgl.tokens import TokenStore


def run_demo(data: Path) -> tuple[str, list[dict[str, str]]]:
    """Run the demo without serving; its output and the tokens file's entries."""
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), "demo", "--cases", "1", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    path = data / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tokens: list[dict[str, str]] = orjson.loads(path.read_bytes())["tokens"]
    return result.output, tokens


def test_the_demo_makes_one_working_token_per_role(tmp_path: Path) -> None:
    """Every role, with the demo's agency for it, printed and verifying against the store."""
    data = tmp_path / "data"
    output, tokens = run_demo(data)
    assert [(t["role"], t["agency"]) for t in tokens] == list(AGENCIES)
    assert sorted(t["role"] for t in tokens) == sorted(ROLES)
    settings = Settings.from_env({}, data_dir=data)
    assert stat.S_IMODE(settings.tokens_db.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.tokens_db.parent.stat().st_mode) == 0o700
    store = TokenStore(settings.tokens_db)
    try:
        for token in tokens:
            assert token["token"] in output
            caller = store.verify(token["token"])
            assert caller is not None
            assert (caller.role, caller.agency) == (token["role"], token["agency"])
    finally:
        store.close()


def test_a_second_run_keeps_working_tokens_and_replaces_a_revoked_one(tmp_path: Path) -> None:
    """The same tokens again, except one revoked meanwhile, which is made anew."""
    data = tmp_path / "data"
    _, first = run_demo(data)
    store = TokenStore(Settings.from_env({}, data_dir=data).tokens_db)
    try:
        assert store.revoke(first[0]["token_id"])
    finally:
        store.close()
    _, second = run_demo(data)
    assert second[1:] == first[1:]
    assert second[0]["role"] == first[0]["role"]
    assert second[0]["token"] != first[0]["token"]
