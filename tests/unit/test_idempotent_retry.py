"""The tests' HTTP transport sends a GET once more when its connection closed unanswered, and
never a POST, nor a GET a second time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import IdempotentRetry

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


class Server:
    """A loopback server that closes its first `drops` connections without answering, then
    answers every request `ok`; it counts the connections it accepted."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.accepted = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                _read_request(conn)
                if self.accepted > self.drops:
                    conn.sendall(ANSWER)

    def close(self) -> None:
        """Stop accepting."""
        self.sock.close()


def _read_request(conn: socket.socket) -> None:
    """Read one whole request, its body too: a connection closed with bytes unread is reset,
    which the client sees as another failure than the one under test."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@pytest.fixture
def dropping_once() -> Iterator[Server]:
    """A server that drops its first connection unanswered."""
    server = Server(drops=1)
    yield server
    server.close()


def test_a_get_whose_connection_closed_unanswered_is_sent_once_more(dropping_once: Server) -> None:
    with httpx.Client(base_url=dropping_once.url, transport=IdempotentRetry()) as client:
        assert client.get("/x").text == "ok"
    assert dropping_once.accepted == 2


def test_a_post_whose_connection_closed_unanswered_is_not_sent_again(
    dropping_once: Server,
) -> None:
    client = httpx.Client(base_url=dropping_once.url, transport=IdempotentRetry())
    with client, pytest.raises(httpx.RemoteProtocolError):
        client.post("/x", content=b"{}")
    assert dropping_once.accepted == 1


def test_a_get_is_sent_again_once_only() -> None:
    server = Server(drops=2)
    try:
        client = httpx.Client(base_url=server.url, transport=IdempotentRetry())
        with client, pytest.raises(httpx.RemoteProtocolError):
            client.get("/x")
        assert server.accepted == 2
    finally:
        server.close()
