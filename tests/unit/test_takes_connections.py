"""The prober's tie-breaker: does any bootstrap address still accept a TCP connection?"""

from __future__ import annotations

import socket

from ledger.kafka_config import takes_connections
from tests.conftest import free_port


def test_a_listening_address_takes_connections_and_a_closed_one_does_not() -> None:
    """Only loopback: a listener answers; a free port refuses; any listener in the list is
    enough; a malformed address counts as refusing."""
    closed = free_port()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert takes_connections(f"127.0.0.1:{port}", 0.5)
        assert takes_connections(f"127.0.0.1:{closed}, 127.0.0.1:{port}", 0.5)
    assert not takes_connections(f"127.0.0.1:{closed}", 0.5)
    assert not takes_connections("127.0.0.1:notaport", 0.5)
