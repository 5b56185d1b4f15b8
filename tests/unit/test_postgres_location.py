"""SGL_DATABASE_URL: the PostgreSQL location every store connects to, read once."""

from __future__ import annotations

import pytest

from ledger.errors import SettingsError
from ledger.postgres import InvalidDatabaseUrl, PostgresLocation
from ledger.settings import Settings


def test_a_url_gives_each_part_and_the_schema() -> None:
    location = PostgresLocation.parse(
        "postgresql://sgl:s%40cret@127.0.0.1:6543/ledger?schema=Views"
    )
    assert location == PostgresLocation("127.0.0.1", 6543, "ledger", "sgl", "s@cret", "views")
    assert "s@cret" not in location.redacted()
    assert str(location.conninfo()["options"]).startswith("-c search_path=views ")
    assert PostgresLocation.parse(location.url()) == location


def test_defaults_are_port_5432_user_postgres_and_schema_public() -> None:
    location = PostgresLocation.parse("postgres://127.0.0.1/ledger")
    assert (location.port, location.user, location.schema) == (5432, "postgres", "public")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://127.0.0.1/ledger", "scheme must be postgresql://"),
        ("postgresql:///ledger", "no host"),
        ("postgresql://127.0.0.1/", "no database name"),
        ("postgresql://127.0.0.1:99999/ledger", "Port out of range"),
        ("postgresql://127.0.0.1/ledger?sslmode=disable", "unknown parameter 'sslmode'"),
        ("postgresql://127.0.0.1/ledger?schema=x;drop", "schema 'x;drop'"),
        ("postgresql://127.0.0.1/ledger?schema=1st", "schema '1st'"),
        (f"postgresql://127.0.0.1/ledger?schema=s{'x' * 30}", "longer than 30 characters"),
    ],
)
def test_a_url_the_ledger_cannot_use_is_refused_naming_the_part(url: str, says: str) -> None:
    with pytest.raises(InvalidDatabaseUrl, match=says):
        PostgresLocation.parse(url)


def test_the_setting_is_checked_when_read_and_never_shows_its_password() -> None:
    with pytest.raises(SettingsError, match="SGL_DATABASE_URL: database URL: no host"):
        Settings.from_env({"SGL_DATABASE_URL": "postgresql:///ledger"})
    settings = Settings.from_env({"SGL_DATABASE_URL": "postgresql://a:pw@127.0.0.1/l"})
    assert settings.postgres is not None and settings.postgres.password == "pw"
    assert "pw" not in repr(settings)
    assert Settings.from_env({}).postgres is None
