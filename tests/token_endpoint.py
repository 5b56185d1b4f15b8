"""A stand-in OAuth 2.0 token endpoint on loopback issuing unsecured (unsigned) JWTs."""

from __future__ import annotations

import base64
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import orjson


def unsecured_jwt(subject: str, lifetime: int = 3600, scope: str = "") -> str:
    """A JWT with `alg: none`, as Kafka's unsecured OAUTHBEARER validator accepts for tests."""

    def part(claims: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()

    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "iat": now, "exp": now + lifetime}
    if scope:
        claims["scope"] = scope
    return f"{part({'alg': 'none'})}.{part(claims)}."


class TokenEndpoint:
    """Answers client-credentials requests from one client with a fresh token each time."""

    def __init__(self, client_id: str, secret: str, lifetime: int = 3600) -> None:
        self.client_id = client_id
        self.secret = secret
        self.lifetime = lifetime
        self.requests: list[dict[str, list[str]]] = []
        self.fail_with = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                endpoint.requests.append(form)
                expected = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
                if endpoint.fail_with:
                    self._answer(endpoint.fail_with, {"error": "temporarily_unavailable"})
                elif self.headers.get("Authorization") != f"Basic {expected}":
                    self._answer(401, {"error": "invalid_client"})
                elif form.get("grant_type") != ["client_credentials"]:
                    self._answer(400, {"error": "unsupported_grant_type"})
                else:
                    scope = form.get("scope", [""])[0]
                    token = unsecured_jwt(client_id, endpoint.lifetime, scope)
                    body = {"access_token": token, "token_type": "Bearer"}
                    self._answer(200, {**body, "expires_in": endpoint.lifetime})

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test asserts on the requests instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
