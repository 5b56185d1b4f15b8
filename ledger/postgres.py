"""Where the ledger's PostgreSQL database is: one URL, read once, for every store that uses it.

`postgresql://user[:password]@host[:port]/dbname[?schema=name]`: libpq's URL, with one
addition, `schema`, the schema the ledger's tables live in (`public` when not given), so that
several ledgers (or test runs) can share one database.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ledger.errors import LedgerError

SCHEMES = ("postgresql", "postgres")
# The longest schema name the URL may give: `<schema>_<view>_<stamp>` must fit PostgreSQL's
# 63-byte names (the longest view name with its stamp adds 33).
MAX_SCHEMA = 30
SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
)
# Every process of a ledger makes the schemas and tables it needs as it starts. Two sessions
# making the same one at once are not kept apart by IF NOT EXISTS (the second fails on a unique
# index of the catalog), so they take turns under this advisory lock.
SETUP_LOCK = zlib.crc32(b"sgl-setup")


class InvalidDatabaseUrl(LedgerError):
    """A database URL the ledger cannot use (the message says which part, never a password)."""


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """The parts of a PostgreSQL URL the stores connect with."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = ""
    schema: str = "public"

    @classmethod
    def parse(cls, url: str) -> PostgresLocation:
        """Read a `postgresql://` URL; a missing or malformed part is named in the error."""
        try:
            parts = urlsplit(url)
            port = parts.port or 5432
        except ValueError as exc:
            raise InvalidDatabaseUrl(f"database URL: {exc}") from None
        if parts.scheme not in SCHEMES:
            raise InvalidDatabaseUrl(
                f"database URL: scheme must be postgresql://, not {parts.scheme or 'none'}://"
            )
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname:
            raise InvalidDatabaseUrl("database URL: no host")
        if not dbname:
            raise InvalidDatabaseUrl("database URL: no database name after the host")
        query = dict(parse_qsl(parts.query))
        unknown = sorted(set(query) - {"schema"})
        if unknown:
            raise InvalidDatabaseUrl(
                f"database URL: unknown parameter {unknown[0]!r} (only 'schema' is read)"
            )
        schema = query.get("schema", "public")
        if not schema.replace("_", "").isalnum() or not schema[0].isalpha():
            raise InvalidDatabaseUrl(
                f"database URL: schema {schema!r} must be letters, digits and _ (a letter first)"
            )
        if len(schema) > MAX_SCHEMA:
            raise InvalidDatabaseUrl(
                f"database URL: schema {schema!r} is longer than {MAX_SCHEMA} characters (a "
                "rebuilt view's schema adds 33 to it, and PostgreSQL cuts names at 63)"
            )
        return cls(
            host=parts.hostname,
            port=port,
            dbname=dbname,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            schema=schema.lower(),
        )

    def conninfo(self) -> dict[str, str | int]:
        """Keyword arguments for `psycopg.connect` (the schema is set per connection)."""
        return {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "password": self.password,
            "options": f"-c search_path={self.schema} {SERVER_KEEPALIVES}",
            # A connection to a host gone (crashed, cut off) fails within seconds, not the
            # operating system's two hours; the server notices a client gone as fast, which
            # ends its session (and frees a claim it held: ledger.receipts).
            "connect_timeout": 10,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }

    def dsn(self) -> str:
        """The same as a libpq connection string, for `psycopg.connect(dsn)`."""
        from psycopg.conninfo import make_conninfo  # noqa: PLC0415 -- only with PostgreSQL

        return make_conninfo("", **self.conninfo())

    def ensure_schema(self, conn: Any) -> None:
        """Make the schema on an open connection if it is not there (looked for first: a role
        that may not create schemas can still use one made for it)."""
        from psycopg.sql import SQL, Identifier  # noqa: PLC0415 -- only with PostgreSQL

        with setup_lock(conn):
            found = conn.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (self.schema,)
            ).fetchone()
            if found is None:
                conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self.schema)))

    def url(self) -> str:
        """The location as an SGL_DATABASE_URL (with its password: never for logs)."""
        user = quote(self.user, safe="")
        secret = f":{quote(self.password, safe='')}" if self.password else ""
        return f"postgresql://{user}{secret}@{self.host}:{self.port}/{self.dbname}?schema={self.schema}"

    def redacted(self) -> str:
        """The location for logs and errors: no password."""
        return (
            f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}?schema={self.schema}"
        )


@contextmanager
def setup_lock(conn: Any) -> Iterator[None]:
    """A transaction on the open connection holding the ledger's setup lock (`SETUP_LOCK`):
    what is made under it is made by one session at a time, and seen made by the next."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        yield
