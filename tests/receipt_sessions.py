"""Ending a PostgreSQL receipt index's database session, as a failover or a stopping process
would (the receipt index's contract and the shared-receipt tests)."""

from __future__ import annotations

import psycopg

from ledger.receipts import PostgresReceiptIndex
from tests.conftest import wait_for


def end_session(index: PostgresReceiptIndex, *, close: bool = False) -> None:
    """End the index's database session: its process stopping (`close`), or only losing the
    database (a failover, a network blip); once the server no longer lists the session."""
    pid = index._owners[-1][0]
    with psycopg.connect(**index.location.conninfo(), autocommit=True) as admin:
        if close:
            index.close()
        else:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        def gone() -> bool:
            return not admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchall()

        wait_for(gone, timeout=10, what="the session to end")
