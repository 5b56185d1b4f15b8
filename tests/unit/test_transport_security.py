"""Kafka security settings: read from SGL_KAFKA_*, checked together at load, secrets hidden,
turned into kafka-python client arguments, and OAUTHBEARER tokens from a file or an endpoint."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from ledger.errors import SettingsError
from ledger.kafka_config import (
    ClientCredentialsTokenProvider,
    TokenFileProvider,
    TokenUnavailable,
    client_config,
)
from ledger.settings import KafkaSecurity, Settings
from tests.conftest import wait_for
from tests.token_endpoint import TokenEndpoint


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Readable files standing for a CA, a client certificate and key, and secrets."""
    out = {}
    for name in ("ca", "cert", "key", "password", "secret", "token"):
        path = tmp_path / name
        path.write_text(f"{name}-content\n")
        out[name] = str(path)
    return out


def scram(**more: str) -> dict[str, str]:
    return {
        "SGL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SGL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SGL_KAFKA_SASL_USERNAME": "sgl",
        **more,
    }


def test_plaintext_is_the_default_and_adds_nothing_but_the_protocol() -> None:
    """With no SGL_KAFKA_* the clients connect as before: PLAINTEXT, no TLS, no SASL."""
    security = Settings.from_env({}).kafka_security
    assert security == KafkaSecurity()
    assert client_config(security) == {"security_protocol": "PLAINTEXT"}
    assert client_config(None) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_and_a_password_file(files: dict[str, str]) -> None:
    """Every variable reaches the client arguments; the password is read from its file."""
    env = scram(
        SGL_KAFKA_SASL_PASSWORD_FILE=files["password"],
        SGL_KAFKA_SSL_CAFILE=files["ca"],
        SGL_KAFKA_SSL_CHECK_HOSTNAME="false",
    )
    config = client_config(Settings.from_env(env).kafka_security)
    assert config == {
        "security_protocol": "SASL_SSL",
        "ssl_cafile": files["ca"],
        "ssl_certfile": None,
        "ssl_keyfile": None,
        "ssl_check_hostname": False,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "sgl",
        "sasl_plain_password": "password-content",
    }


def test_mutual_tls_passes_the_client_certificate(files: dict[str, str]) -> None:
    env = {
        "SGL_KAFKA_SECURITY_PROTOCOL": "SSL",
        "SGL_KAFKA_SSL_CERTFILE": files["cert"],
        "SGL_KAFKA_SSL_KEYFILE": files["key"],
    }
    config = client_config(Settings.from_env(env).kafka_security)
    assert config["ssl_certfile"] == files["cert"]
    assert config["ssl_keyfile"] == files["key"]
    assert config["ssl_check_hostname"] is True
    assert "sasl_mechanism" not in config


def test_secrets_never_appear_in_a_repr(files: dict[str, str]) -> None:
    """Settings are printed in logs and tracebacks: the password and client secret are not."""
    with_password = Settings.from_env(scram(SGL_KAFKA_SASL_PASSWORD="hunter2-pw"))
    oauth = Settings.from_env(
        {
            "SGL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "SGL_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "SGL_KAFKA_OAUTH_TOKEN_URL": "https://idp.test/token",
            "SGL_KAFKA_OAUTH_CLIENT_ID": "sgl-ledger",
            "SGL_KAFKA_OAUTH_CLIENT_SECRET": "s3cr3t-client",
        }
    )
    for text in (repr(with_password), str(with_password), repr(with_password.kafka_security)):
        assert "hunter2-pw" not in text
        assert "sasl_username='sgl'" in text
    assert "s3cr3t-client" not in repr(oauth)
    assert "sgl-ledger" in repr(oauth)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SGL_KAFKA_SECURITY_PROTOCOL": "TLS"}, "SGL_KAFKA_SECURITY_PROTOCOL must be one of"),
        (scram(SGL_KAFKA_SASL_MECHANISM="GSSAPI"), "SGL_KAFKA_SASL_MECHANISM must be one of"),
        (scram(SGL_KAFKA_SASL_MECHANISM=""), "SGL_KAFKA_SASL_MECHANISM must be one of"),
        (
            scram(SGL_KAFKA_SASL_MECHANISM="PLAIN", SGL_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT"),
            "PLAIN sends its secret in clear",
        ),
        (
            scram(
                SGL_KAFKA_SASL_MECHANISM="OAUTHBEARER",
                SGL_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
                SGL_KAFKA_SASL_USERNAME="",
            ),
            "OAUTHBEARER sends its secret in clear",
        ),
        (scram(SGL_KAFKA_SASL_USERNAME=""), "SGL_KAFKA_SASL_USERNAME is required"),
        (scram(), "exactly one of SGL_KAFKA_SASL_PASSWORD and SGL_KAFKA_SASL_PASSWORD_FILE"),
        (
            scram(SGL_KAFKA_SASL_PASSWORD="x", SGL_KAFKA_SASL_PASSWORD_FILE="{password}"),
            "exactly one of SGL_KAFKA_SASL_PASSWORD",
        ),
        (
            scram(SGL_KAFKA_SASL_PASSWORD_FILE="/nonexistent/password"),
            "SGL_KAFKA_SASL_PASSWORD_FILE names /nonexistent/password, which cannot be read",
        ),
        (
            scram(SGL_KAFKA_SASL_PASSWORD="x", SGL_KAFKA_SSL_CAFILE="/nonexistent/ca.pem"),
            "SGL_KAFKA_SSL_CAFILE names /nonexistent/ca.pem",
        ),
        (
            scram(SGL_KAFKA_SASL_PASSWORD="x", SGL_KAFKA_SSL_CHECK_HOSTNAME="maybe"),
            "SGL_KAFKA_SSL_CHECK_HOSTNAME must be true or false",
        ),
        (
            scram(SGL_KAFKA_SASL_PASSWORD="x", SGL_KAFKA_SSL_KEYFILE="{key}"),
            "SGL_KAFKA_SSL_KEYFILE is set without SGL_KAFKA_SSL_CERTFILE",
        ),
        (
            scram(SGL_KAFKA_SASL_PASSWORD="x", SGL_KAFKA_OAUTH_TOKEN_FILE="{token}"),
            "SGL_KAFKA_OAUTH_TOKEN_FILE is set but unused with SGL_KAFKA_SASL_MECHANISM=SCRAM",
        ),
        # A TLS or SASL setting that the protocol ignores was meant to do something.
        (
            {"SGL_KAFKA_SSL_CAFILE": "{ca}"},
            "SGL_KAFKA_SSL_CAFILE is set but unused with SGL_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        ),
        (
            {"SGL_KAFKA_SECURITY_PROTOCOL": "SSL", "SGL_KAFKA_SASL_USERNAME": "sgl"},
            "SGL_KAFKA_SASL_USERNAME is set but unused with SGL_KAFKA_SECURITY_PROTOCOL=SSL",
        ),
        (
            scram(SGL_KAFKA_SASL_MECHANISM="OAUTHBEARER", SGL_KAFKA_SASL_USERNAME=""),
            "needs exactly one token source",
        ),
        (
            scram(
                SGL_KAFKA_SASL_MECHANISM="OAUTHBEARER",
                SGL_KAFKA_OAUTH_TOKEN_FILE="{token}",
            ),
            "SGL_KAFKA_SASL_USERNAME is set but unused with SGL_KAFKA_SASL_MECHANISM=OAUTHBEARER",
        ),
        (
            scram(
                SGL_KAFKA_SASL_MECHANISM="OAUTHBEARER",
                SGL_KAFKA_SASL_USERNAME="",
                SGL_KAFKA_OAUTH_TOKEN_URL="http://idp.example/token",
                SGL_KAFKA_OAUTH_CLIENT_ID="sgl",
                SGL_KAFKA_OAUTH_CLIENT_SECRET="x",
            ),
            "SGL_KAFKA_OAUTH_TOKEN_URL must be an https:// address",
        ),
        (
            scram(
                SGL_KAFKA_SASL_MECHANISM="OAUTHBEARER",
                SGL_KAFKA_SASL_USERNAME="",
                SGL_KAFKA_OAUTH_TOKEN_URL="https://idp.example/token",
                SGL_KAFKA_OAUTH_CLIENT_SECRET="x",
            ),
            "SGL_KAFKA_OAUTH_CLIENT_ID is required",
        ),
        (
            scram(
                SGL_KAFKA_SASL_MECHANISM="OAUTHBEARER",
                SGL_KAFKA_SASL_USERNAME="",
                SGL_KAFKA_OAUTH_TOKEN_URL="https://idp.example/token",
                SGL_KAFKA_OAUTH_CLIENT_ID="sgl",
            ),
            "exactly one of SGL_KAFKA_OAUTH_CLIENT_SECRET and SGL_KAFKA_OAUTH_CLIENT_SECRET_FILE",
        ),
        (
            scram(
                SGL_KAFKA_SASL_MECHANISM="OAUTHBEARER",
                SGL_KAFKA_SASL_USERNAME="",
                SGL_KAFKA_OAUTH_TOKEN_FILE="{token}",
                SGL_KAFKA_OAUTH_SCOPE="kafka",
            ),
            "SGL_KAFKA_OAUTH_SCOPE is set but unused with SGL_KAFKA_OAUTH_TOKEN_FILE",
        ),
    ],
    # The broker-free selection names no test after the broker.
    ids=lambda value: value.replace("SGL_KAFKA_", "") if isinstance(value, str) else None,
)
def test_bad_combinations_are_refused_naming_the_variable(
    env: dict[str, str], message: str, files: dict[str, str]
) -> None:
    """Each misconfiguration fails at load with the variable to fix, never at first connect."""
    env = {name: value.format(**files) for name, value in env.items()}
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Settings.from_env(env)


def test_valid_oauth_settings_load(files: dict[str, str]) -> None:
    """A loopback http endpoint (a local token helper) and a token file are both accepted."""
    base = {"SGL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "SGL_KAFKA_SASL_MECHANISM": "OAUTHBEARER"}
    endpoint = Settings.from_env(
        {
            **base,
            "SGL_KAFKA_OAUTH_TOKEN_URL": "http://127.0.0.1:8081/token",
            "SGL_KAFKA_OAUTH_CLIENT_ID": "sgl",
            "SGL_KAFKA_OAUTH_CLIENT_SECRET_FILE": files["secret"],
            "SGL_KAFKA_OAUTH_SCOPE": "kafka",
        }
    ).kafka_security
    assert isinstance(
        client_config(endpoint)["sasl_oauth_token_provider"], ClientCredentialsTokenProvider
    )
    from_file = Settings.from_env({**base, "SGL_KAFKA_OAUTH_TOKEN_FILE": files["token"]})
    provider = client_config(from_file.kafka_security)["sasl_oauth_token_provider"]
    assert isinstance(provider, TokenFileProvider)


def test_the_token_file_is_read_again_at_each_authentication(tmp_path: Path) -> None:
    """A token rewritten before it expires is the one sent at the next (re-)authentication."""
    path = tmp_path / "token"
    path.write_text("first-token\n")
    provider = TokenFileProvider(path)
    assert provider.token() == "first-token"
    path.write_text("second-token\n")
    assert provider.token() == "second-token"
    path.write_text("")
    with pytest.raises(TokenUnavailable, match="is empty"):
        provider.token()
    path.unlink()
    with pytest.raises(TokenUnavailable, match="unreadable"):
        provider.token()


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    return claims


def test_client_credentials_tokens_are_fetched_once_and_again_near_expiry(tmp_path: Path) -> None:
    """The secret (read from its file) goes in Basic auth with the scope; a token is reused,
    and fetched again once 80% of its lifetime has passed."""
    secret_file = tmp_path / "secret"
    secret_file.write_text("client-secret\n")
    with TokenEndpoint("sgl-ledger", "client-secret", lifetime=3600) as endpoint:
        provider = ClientCredentialsTokenProvider(
            endpoint.url, "sgl-ledger", "", str(secret_file), "kafka.produce"
        )
        first = provider.token()
        assert provider.token() == first
        assert len(endpoint.requests) == 1
        assert endpoint.requests[0]["scope"] == ["kafka.produce"]
        assert _claims(first)["sub"] == "sgl-ledger"

        endpoint.lifetime = 1
        short_lived = ClientCredentialsTokenProvider(
            endpoint.url, "sgl-ledger", "", str(secret_file), ""
        )
        short_lived.token()
        assert "scope" not in endpoint.requests[1]

        def fetched_again() -> bool:
            short_lived.token()
            return len(endpoint.requests) == 3

        wait_for(fetched_again, timeout=5, every=0.1, what="a token fetched again near expiry")


def test_token_endpoint_refusals_are_clear_and_keep_the_secret_out(tmp_path: Path) -> None:
    with TokenEndpoint("sgl-ledger", "right-secret") as endpoint:
        wrong = ClientCredentialsTokenProvider(endpoint.url, "sgl-ledger", "wrong-secret", "", "")
        with pytest.raises(TokenUnavailable, match=r"answered 401.*invalid_client") as refused:
            wrong.token()
        assert "wrong-secret" not in str(refused.value)
        endpoint.fail_with = 503
        right = ClientCredentialsTokenProvider(endpoint.url, "sgl-ledger", "right-secret", "", "")
        with pytest.raises(TokenUnavailable, match="answered 503"):
            right.token()
    gone = ClientCredentialsTokenProvider(endpoint.url, "sgl-ledger", "right-secret", "", "")
    with pytest.raises(TokenUnavailable, match=r"token endpoint .* failed"):
        gone.token()
