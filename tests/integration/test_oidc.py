"""An agency's identity provider: access tokens signed with a locally made RSA key, its JWKS
served on loopback, verified by the ledger and mapped to agency, role and person."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.identity import PURPOSE_HEADER, Caller
from sgl.oidc import OidcVerifier
from tests.agencies import with_agencies
from tests.conftest import LiveServer

ISSUER = "https://idp.test-agency.example"
AUDIENCE = "safeguarding-ledger"
KEY_ID = "test-key-1"


class Provider:
    """A stand-in identity provider: one RSA key, its JWKS served on loopback."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = orjson.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        body = orjson.dumps({"keys": [jwk | {"kid": KEY_ID, "use": "sig", "alg": "RS256"}]})

        class Keys(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                """Quiet: the test's output is the ledger's."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def token(self, key: Any = None, kid: str = KEY_ID, **changes: Any) -> str:
        """An access token for an inquiry person of a test agency; keyword arguments replace
        claims (None drops one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-7f3a",
            "iat": now,
            "exp": now + 300,
            "sgl_agency": "test-inquiry-panel",
            "sgl_role": "inquiry",
            "sgl_person": "person-7f3a",
        }
        claims.update(changes)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        """Stop serving the keys."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    """An identity provider on loopback."""
    made = Provider()
    yield made
    made.close()


@pytest.fixture
def verifier(provider: Provider) -> OidcVerifier:
    """The ledger's verifier of the provider's tokens."""
    return OidcVerifier(ISSUER, AUDIENCE, provider.jwks_url)


def test_a_valid_access_token_names_its_agency_role_and_person(
    provider: Provider, verifier: OidcVerifier
) -> None:
    """The provider's signature, issuer, audience and expiry checked; the claims mapped."""
    assert verifier.verify(provider.token()) == Caller(
        "user-7f3a", "test-inquiry-panel", "inquiry", "person-7f3a", via="oidc"
    )
    assert verifier.verify(provider.token(sgl_person=None)) == Caller(
        "user-7f3a", "test-inquiry-panel", "inquiry", None, via="oidc"
    )


def test_other_claim_names_are_configured(provider: Provider) -> None:
    """SGL_OIDC_*_CLAIM choose which claims carry agency, role and person."""
    settings = Settings.from_env(
        {
            "SGL_OIDC_ISSUER": ISSUER,
            "SGL_OIDC_AUDIENCE": AUDIENCE,
            "SGL_OIDC_JWKS_URL": provider.jwks_url,
            "SGL_OIDC_AGENCY_CLAIM": "org",
            "SGL_OIDC_ROLE_CLAIM": "ledger_role",
            "SGL_OIDC_PERSON_CLAIM": "preferred_username",
        }
    )
    verifier = OidcVerifier.from_settings(settings)
    assert verifier is not None
    token = provider.token(org="test-audit-office", ledger_role="auditor", preferred_username="a1")
    assert verifier.verify(token) == Caller(
        "user-7f3a", "test-audit-office", "auditor", "a1", via="oidc"
    )


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"aud": "another-service"}, id="other-audience"),
        pytest.param({"iss": "https://idp.elsewhere.example"}, id="other-issuer"),
        pytest.param({"exp": None}, id="no-expiry"),
        pytest.param({"sgl_role": "superuser"}, id="unknown-role"),
        pytest.param({"sgl_role": None}, id="no-role"),
        pytest.param({"sgl_agency": ""}, id="empty-agency"),
        pytest.param({"sgl_agency": None}, id="no-agency"),
    ],
)
def test_a_token_that_is_not_right_stands_for_no_one(
    provider: Provider, verifier: OidcVerifier, changes: dict[str, Any]
) -> None:
    """Expired, for another audience or issuer, without expiry, or naming no agency or no
    known role: refused."""
    assert verifier.verify(provider.token(**changes)) is None


def test_a_token_signed_by_another_key_or_not_at_all_stands_for_no_one(
    provider: Provider, verifier: OidcVerifier
) -> None:
    """Another key under the provider's key id, an unknown key id, an unsigned token, and one
    signed with the public key as a shared secret (the algorithm confusion attack)."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert verifier.verify(provider.token(key=stranger)) is None
    assert verifier.verify(provider.token(kid="test-key-2")) is None
    claims = jwt.decode(provider.token(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": KEY_ID})
    assert verifier.verify(unsigned) is None
    pem = provider.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert verifier.verify(_hs256(claims, pem)) is None


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    """A token signed HS256 with `secret` (PyJWT refuses an asymmetric key as an HMAC secret
    itself, so the signature is made by hand)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY_ID}))
    body = part(orjson.dumps(claims))
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(mac)}"


def test_the_api_takes_the_providers_access_tokens(
    provider: Provider, make_settings: Callable[..., Settings]
) -> None:
    """Over HTTP: a provider's inquiry token with a purpose reads; its publisher is refused a
    ledger-wide report (403); a token signed by another key is a 401."""
    settings = make_settings(
        "sqlite", oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=provider.jwks_url
    )
    container = with_agencies(bootstrap(settings))
    server = LiveServer(container, run_consumer=False).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            inquiry = {"Authorization": f"Bearer {provider.token()}", PURPOSE_HEADER: "audit"}
            assert client.get("/v1/agencies", headers=inquiry).status_code == 200
            publisher = {"Authorization": f"Bearer {provider.token(sgl_role='publisher')}"}
            assert client.get("/v1/alerts", headers=publisher).status_code == 403
            forged = provider.token(key=rsa.generate_private_key(65537, 2048))
            refused = client.get("/v1/agencies", headers={"Authorization": f"Bearer {forged}"})
            assert refused.status_code == 401
    finally:
        server.stop()
        container.close()
