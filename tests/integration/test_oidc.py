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

from ledger.agency_rules import LEDGER_AGENCY
from ledger.errors import SettingsError
from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.identity import PURPOSE_HEADER, Caller
from sgl.oidc import OidcVerifier
from tests.agencies import with_agencies
from tests.conftest import LiveServer

ISSUER = "https://idp.test-agency.example"
AUDIENCE = "safeguarding-ledger"
KEY_ID = "test-key-1"
AGENCY = "test-inquiry-panel"


class Provider:
    """A stand-in identity provider: RSA keys, their JWKS served on loopback (the fetches
    counted)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published: dict[str, Any] = {KEY_ID: self.key}
        self.fetches = 0
        provider = self

        class Keys(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = provider.jwks()
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

    def jwks(self) -> bytes:
        """The published keys as a JWKS document."""
        keys = [
            orjson.loads(RSAAlgorithm.to_jwk(key.public_key()))
            | {"kid": kid, "use": "sig", "alg": "RS256"}
            for kid, key in self.published.items()
        ]
        return orjson.dumps({"keys": keys})

    def token(
        self, key: Any = None, kid: str = KEY_ID, typ: str | None = "at+jwt", **changes: Any
    ) -> str:
        """An access token for an inquiry person of a test agency; keyword arguments replace
        claims (None drops one); `typ` is the header's type (None for none)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-7f3a",
            "iat": now,
            "exp": now + 300,
            "sgl_agency": AGENCY,
            "sgl_role": "inquiry",
            "sgl_person": "person-7f3a",
        }
        claims.update(changes)
        claims = {name: value for name, value in claims.items() if value is not None}
        headers = {"kid": kid} if typ is None else {"kid": kid, "typ": typ}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers=headers)

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
    """The ledger's verifier of the provider's tokens: it may speak for one agency, in any role
    but admin."""
    return OidcVerifier(
        ISSUER,
        AUDIENCE,
        provider.jwks_url,
        agencies=[AGENCY],
        roles=["publisher", "practitioner", "inquiry", "auditor"],
    )


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
            "SGL_OIDC_AGENCIES": "test-audit-office",
            "SGL_OIDC_ROLES": "auditor",
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
        pytest.param({"sgl_agency": ["test-inquiry-panel"]}, id="agency-not-a-string"),
        pytest.param({"sgl_role": ["inquiry"]}, id="role-not-a-string"),
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
        "sqlite",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=provider.jwks_url,
        oidc_agencies=AGENCY,
        oidc_roles="inquiry,publisher",
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
            for ungranted in (
                provider.token(sgl_role="admin"),
                provider.token(sgl_role="auditor"),
                provider.token(sgl_agency="test-audit-office"),
                provider.token(sgl_agency=LEDGER_AGENCY),
                provider.token(typ="JWT"),
            ):
                headers = {"Authorization": f"Bearer {ungranted}", PURPOSE_HEADER: "audit"}
                refused = client.get("/v1/agencies", headers=headers)
                assert refused.status_code == 401
                assert refused.json()["type"].endswith("unauthenticated")
    finally:
        server.stop()
        container.close()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"sgl_role": "admin"}, id="admin"),
        pytest.param({"sgl_agency": "test-audit-office"}, id="another-agency"),
        pytest.param({"sgl_agency": "test-unregistered-agency"}, id="unregistered-agency"),
        pytest.param({"sgl_agency": LEDGER_AGENCY}, id="the-ledger"),
    ],
)
def test_a_claim_the_provider_may_not_grant_stands_for_no_one(
    provider: Provider, verifier: OidcVerifier, changes: dict[str, Any]
) -> None:
    """A role outside SGL_OIDC_ROLES, an agency outside SGL_OIDC_AGENCIES, or the ledger's own
    id: refused, however well signed."""
    assert verifier.verify(provider.token(**changes)) is None


def test_by_default_a_provider_grants_only_publisher_and_practitioner(
    provider: Provider,
) -> None:
    """Without SGL_OIDC_ROLES, a provider's inquiry, auditor or admin claim is refused."""
    settings = Settings.from_env(
        {
            "SGL_OIDC_ISSUER": ISSUER,
            "SGL_OIDC_AUDIENCE": AUDIENCE,
            "SGL_OIDC_JWKS_URL": provider.jwks_url,
            "SGL_OIDC_AGENCIES": f"other-agency, {AGENCY}",
        }
    )
    verifier = OidcVerifier.from_settings(settings)
    assert verifier is not None
    for role in ("publisher", "practitioner"):
        assert verifier.verify(provider.token(sgl_role=role)) == Caller(
            "user-7f3a", AGENCY, role, "person-7f3a", via="oidc"
        )
    for role in ("inquiry", "auditor", "admin"):
        assert verifier.verify(provider.token(sgl_role=role)) is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({}, "SGL_OIDC_AGENCIES must name", id="no-agencies"),
        pytest.param({"SGL_OIDC_AGENCIES": " , "}, "SGL_OIDC_AGENCIES must name", id="blank"),
        pytest.param(
            {"SGL_OIDC_AGENCIES": f"{AGENCY},{LEDGER_AGENCY}"}, "the ledger itself", id="ledger"
        ),
        pytest.param(
            {"SGL_OIDC_AGENCIES": AGENCY, "SGL_OIDC_ROLES": "publisher,superuser"},
            "not superuser",
            id="unknown-role",
        ),
    ],
)
def test_a_provider_that_may_speak_for_no_one_or_the_ledger_is_refused_at_start(
    environ: dict[str, str], message: str
) -> None:
    """SGL_OIDC_AGENCIES is required with a provider, never names the ledger, and
    SGL_OIDC_ROLES names known roles: each mistake a clear SettingsError."""
    base = {
        "SGL_OIDC_ISSUER": ISSUER,
        "SGL_OIDC_AUDIENCE": AUDIENCE,
        "SGL_OIDC_JWKS_URL": "http://127.0.0.1:9/jwks.json",
    }
    with pytest.raises(SettingsError, match=message):
        OidcVerifier.from_settings(Settings.from_env(base | environ))


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_an_access_token_type_is_accepted(
    provider: Provider, verifier: OidcVerifier, typ: str
) -> None:
    """The RFC 9068 type, in any case, with or without `application/`."""
    assert verifier.verify(provider.token(typ=typ)) is not None


@pytest.mark.parametrize("typ", [None, "JWT", "id+jwt", "logout+jwt"])
def test_a_token_not_typed_as_an_access_token_stands_for_no_one(
    provider: Provider, verifier: OidcVerifier, typ: str | None
) -> None:
    """An ID token (plain `JWT` or untyped) with the ledger's audience is not an access token."""
    assert verifier.verify(provider.token(typ=typ)) is None


def test_untyped_tokens_are_accepted_only_when_configured(provider: Provider) -> None:
    """SGL_OIDC_ACCEPT_UNTYPED admits a token typed `JWT` or not typed; another type is still
    refused."""
    settings = Settings.from_env(
        {
            "SGL_OIDC_ISSUER": ISSUER,
            "SGL_OIDC_AUDIENCE": AUDIENCE,
            "SGL_OIDC_JWKS_URL": provider.jwks_url,
            "SGL_OIDC_AGENCIES": AGENCY,
            "SGL_OIDC_ROLES": "inquiry",
            "SGL_OIDC_ACCEPT_UNTYPED": "true",
        }
    )
    verifier = OidcVerifier.from_settings(settings)
    assert verifier is not None
    assert verifier.verify(provider.token(typ=None)) is not None
    assert verifier.verify(provider.token(typ="JWT")) is not None
    assert verifier.verify(provider.token(typ="at+jwt")) is not None
    assert verifier.verify(provider.token(typ="logout+jwt")) is None


def test_unknown_key_ids_fetch_the_keys_at_most_once_a_window(
    provider: Provider, verifier: OidcVerifier
) -> None:
    """After the keys are fetched, a flood of unknown key ids fetches nothing more within the
    window: each is refused, and so is a newly published key until the window ends."""
    assert verifier.verify(provider.token()) is not None
    assert provider.fetches == 1
    for number in range(50):
        assert verifier.verify(provider.token(kid=f"unknown-{number}")) is None
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.published["test-key-2"] = rotated
    assert verifier.verify(provider.token(key=rotated, kid="test-key-2")) is None
    assert verifier.verify(provider.token()) is not None
    assert provider.fetches == 1


def test_an_unknown_key_id_fetches_the_keys_again_after_the_window(provider: Provider) -> None:
    """A newly published key is found by one fetch once the window has passed."""
    verifier = OidcVerifier(
        ISSUER,
        AUDIENCE,
        provider.jwks_url,
        agencies=[AGENCY],
        roles=["inquiry"],
        refresh_seconds=0.2,
    )
    assert verifier.verify(provider.token()) is not None
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.published["test-key-2"] = rotated
    token = provider.token(key=rotated, kid="test-key-2")
    deadline = time.monotonic() + 10
    while verifier.verify(token) is None:
        assert time.monotonic() < deadline, "the new key was never fetched"
    assert provider.fetches == 2
