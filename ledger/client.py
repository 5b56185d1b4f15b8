"""The Python client for agency adapters, as the server's package names it.

It is the `ledger_client` package (clients/python): the server's distribution carries it, and
the `safeguarding-ledger-client` distribution is it alone, for adapters (httpx and orjson,
none of the server's dependencies).
"""

from ledger_client.client import (
    Forbidden,
    LedgerClient,
    NotAuthorized,
    RateLimited,
    RequestRejected,
)

__all__ = ["Forbidden", "LedgerClient", "NotAuthorized", "RateLimited", "RequestRejected"]
