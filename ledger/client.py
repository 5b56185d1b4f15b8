"""The Python client for agency adapters, as the server's package names it.

It is the `ledger_client` package of the `safeguarding-ledger-client` distribution, which
adapters install alone (httpx and orjson, none of the server's dependencies).
"""

from ledger_client.client import LedgerClient, RequestRejected

__all__ = ["LedgerClient", "RequestRejected"]
