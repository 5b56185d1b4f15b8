"""The ledger over TLS and SASL: a private broker (scripts/kafka.sh) with a SASL_SSL listener
(SCRAM-SHA-512 and OAUTHBEARER) and a mutual-TLS listener, its certificate from a CA made for
the test. Every client path works through it; a wrong password or an untrusted CA fails fast
and says so."""

from __future__ import annotations

import datetime
import ipaddress
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kafka import KafkaProducer

from ledger.errors import LedgerUnavailable
from ledger.kafka_config import CONNECT_TIMEOUT, client_config
from ledger.settings import KafkaSecurity, Settings
from sgl.bootstrap import LOGS, Container, bootstrap
from sgl.cli import cli
from tests.agencies import registrations
from tests.brokers import PrivateBroker
from tests.conftest import free_port, topic_env
from tests.factories import case_events, new_case_id
from tests.token_endpoint import TokenEndpoint, unsecured_jwt

pytestmark = pytest.mark.kafka

USER = "sgl-ledger"
# An untrusted certificate ends the first connect attempts (1.5 s each).
FAIL_WITHIN = 10.0


@dataclass(frozen=True)
class SecureBroker:
    """Where the private broker listens and the files a client needs to reach it."""

    sasl_ssl: str
    mutual_tls: str
    ca: Path
    client_cert: Path
    client_key: Path
    password_file: Path
    other_ca: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A throwaway certificate authority, valid for a day."""
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], name: str, server: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate signed by the CA: for the broker (127.0.0.1 and localhost) or a client."""
    ca_cert, ca_key = ca
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _broker_config(keystore: Path, ca: Path) -> str:
    """The SASL_SSL and SSL listeners' settings appended to the broker's server.properties."""
    unsecured = "org.apache.kafka.common.security.oauthbearer.internals.unsecured"
    return "\n".join(
        [
            "listener.name.sasl_ssl.ssl.keystore.type=PEM",
            f"listener.name.sasl_ssl.ssl.keystore.location={keystore}",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,OAUTHBEARER",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            # Unsigned JWTs are accepted here, for the test only; a production broker validates
            # signed tokens against its identity provider's keys (sasl.oauthbearer.jwks.*).
            "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config="
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
            'unsecuredLoginStringClaim_sub="broker";',
            "listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class="
            f"{unsecured}.OAuthBearerUnsecuredValidatorCallbackHandler",
            "listener.name.ssl.ssl.keystore.type=PEM",
            f"listener.name.ssl.ssl.keystore.location={keystore}",
            "listener.name.ssl.ssl.truststore.type=PEM",
            f"listener.name.ssl.ssl.truststore.location={ca}",
            "listener.name.ssl.ssl.client.auth=required",
            "",
        ]
    )


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """A private broker with SASL_SSL and mutual-TLS listeners, on free ports, stopped after."""
    home = tmp_path_factory.mktemp("secure-kafka")
    ca = _ca("sgl test CA")
    server_cert, server_key = _leaf(ca, "localhost", server=True)
    client_cert, client_key = _leaf(ca, "sgl-ledger-client", server=False)
    (home / "ca.pem").write_bytes(_pem(ca[0]))
    # A PEM keystore: the key, then the chain up to the CA.
    (home / "broker.pem").write_bytes(_key_pem(server_key) + _pem(server_cert) + _pem(ca[0]))
    (home / "client.pem").write_bytes(_pem(client_cert))
    (home / "client.key").write_bytes(_key_pem(client_key))
    (home / "other-ca.pem").write_bytes(_pem(_ca("some other CA")[0]))
    password = uuid.uuid4().hex
    (home / "password").write_text(password + "\n")
    (home / "broker.properties").write_text(_broker_config(home / "broker.pem", home / "ca.pem"))
    sasl_ssl, mutual_tls = free_port(), free_port()
    private = PrivateBroker(
        home / "state",
        SGL_KAFKA_EXTRA_LISTENERS=f"SASL_SSL://127.0.0.1:{sasl_ssl},SSL://127.0.0.1:{mutual_tls}",
        SGL_KAFKA_EXTRA_CONFIG=str(home / "broker.properties"),
        SGL_KAFKA_SCRAM=f"SCRAM-SHA-512=[name={USER},password={password}]",
        SGL_KAFKA_START_TIMEOUT="45",
        SGL_KAFKA_STOP_TIMEOUT="10",
    )
    private.start()
    try:
        yield SecureBroker(
            f"127.0.0.1:{sasl_ssl}",
            f"127.0.0.1:{mutual_tls}",
            home / "ca.pem",
            home / "client.pem",
            home / "client.key",
            home / "password",
            home / "other-ca.pem",
        )
    finally:
        private.stop()


def _settings(tmp_path: Path, bootstrap_servers: str, security: KafkaSecurity) -> Settings:
    suffix = uuid.uuid4().hex[:12]
    return Settings.from_env(
        {},
        backend="kafka",
        kafka_bootstrap=bootstrap_servers,
        data_dir=tmp_path / f"data-{suffix}",
        topic=f"sgl.test.{suffix}",
        dead_letter_topic=f"sgl.test.{suffix}.dlq",
        alerts_topic=f"sgl.test.{suffix}.alerts",
        checkpoints_topic=f"sgl.test.{suffix}.checkpoints",
        alerter="off",
        kafka_security=security,
    )


def _scram(broker: SecureBroker, **changes: Any) -> KafkaSecurity:
    security = KafkaSecurity(
        security_protocol="SASL_SSL",
        ssl_cafile=str(broker.ca),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=USER,
        sasl_password_file=str(broker.password_file),
    )
    return replace(security, **changes)


def _oauth(broker: SecureBroker, **changes: Any) -> KafkaSecurity:
    security = KafkaSecurity(
        security_protocol="SASL_SSL", ssl_cafile=str(broker.ca), sasl_mechanism="OAUTHBEARER"
    )
    return replace(security, **changes)


def _append_and_read_back(container: Container) -> list[dict[str, Any]]:
    """The test agencies registered (again: nothing new), a case appended through the ledger,
    applied by the consumer, and every record of the topic read back raw."""
    container.ledger.submit(registrations())
    case_id = new_case_id()
    events = case_events(case_id)
    receipts = container.ledger.submit(events)
    assert [r.event_id for r in receipts] == [e["event_id"] for e in events]
    container.runner().run_until_caught_up(timeout=30)
    state = container.view.get(case_id)
    assert state is not None and state.opened and state.events == len(events)
    total = sum(container.log.end_offsets().values())
    reader = container.log.reader({})
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 20
        while len(seen) < total and time.monotonic() < deadline:
            seen |= {r.key.decode() + ":" + str(r.offset) for r in reader.poll(1000, 0.5)}
    finally:
        reader.close()
    assert len(seen) == total
    return events


def test_scram_over_sasl_ssl_every_client_path(broker: SecureBroker, tmp_path: Path) -> None:
    """SCRAM-SHA-512 over TLS: topics created (admin), events appended (producer), applied
    (reader), a bad record dead-lettered and read back (dead-letter producer and reader),
    sealed, and `sgl verify` — configured from SGL_KAFKA_* only — finds nothing amiss."""
    security = _scram(broker)
    settings = _settings(tmp_path, broker.sasl_ssl, security)
    container = bootstrap(settings)
    try:
        _append_and_read_back(container)
        raw = KafkaProducer(bootstrap_servers=broker.sasl_ssl, **client_config(security))
        try:
            raw.send(settings.topic, key=b"CASE-TBAD", value=b"\x00 not json").get(timeout=30)
        finally:
            raw.close()
        runner = container.runner()
        runner.run_until_caught_up(timeout=30)
        assert runner.dead_lettered == 1
        (letter,) = container.log.dead_letters()
        assert (letter.reason, letter.value) == ("not-json", b"\x00 not json")
        container.sealer().run_until_caught_up(30)
    finally:
        container.close()
    env = {
        "SGL_BACKEND": "kafka",
        "SGL_DATA_DIR": str(settings.data_dir),
        "SGL_KAFKA_BOOTSTRAP": broker.sasl_ssl,
        **topic_env(settings),
        "SGL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SGL_KAFKA_SSL_CAFILE": str(broker.ca),
        "SGL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SGL_KAFKA_SASL_USERNAME": USER,
        "SGL_KAFKA_SASL_PASSWORD_FILE": str(broker.password_file),
    }
    verified = CliRunner().invoke(cli, ["verify"], env=env)
    assert verified.exit_code == 0 and "nothing disagrees" in verified.output, verified.output


def test_oauthbearer_with_a_client_credentials_token_endpoint(
    broker: SecureBroker, tmp_path: Path
) -> None:
    """Tokens fetched from the token endpoint authenticate every client of the ledger."""
    secret = tmp_path / "client-secret"
    secret.write_text("endpoint-secret\n")
    with TokenEndpoint("sgl-ledger", "endpoint-secret") as endpoint:
        security = _oauth(
            broker,
            oauth_token_url=endpoint.url,
            oauth_client_id="sgl-ledger",
            oauth_client_secret_file=str(secret),
            oauth_scope="kafka",
        )
        container = bootstrap(_settings(tmp_path, broker.sasl_ssl, security))
        try:
            _append_and_read_back(container)
        finally:
            container.close()
        # One token per log (the ledger, alerts, checkpoints, the access log and its
        # checkpoints, notes), reused by each log's clients.
        assert len(endpoint.requests) == len(LOGS)


def test_oauthbearer_with_a_token_file(broker: SecureBroker, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(unsecured_jwt("sgl-ledger") + "\n")
    container = bootstrap(
        _settings(tmp_path, broker.sasl_ssl, _oauth(broker, oauth_token_file=str(token)))
    )
    try:
        _append_and_read_back(container)
    finally:
        container.close()


def test_mutual_tls(broker: SecureBroker, tmp_path: Path) -> None:
    """A listener that requires a client certificate takes the ledger's."""
    security = KafkaSecurity(
        security_protocol="SSL",
        ssl_cafile=str(broker.ca),
        ssl_certfile=str(broker.client_cert),
        ssl_keyfile=str(broker.client_key),
    )
    container = bootstrap(_settings(tmp_path, broker.mutual_tls, security))
    try:
        _append_and_read_back(container)
    finally:
        container.close()


def test_a_wrong_password_is_refused_within_the_connect_timeout_and_says_so(
    broker: SecureBroker, tmp_path: Path
) -> None:
    """Refused at the first attempt that kafka-python hears the refusal (it often loses it as
    the broker closes the connection); never a hang, and the message names what to check."""
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    settings = _settings(tmp_path, broker.sasl_ssl, _scram(broker, sasl_password_file=str(wrong)))
    started = time.monotonic()
    with pytest.raises(LedgerUnavailable) as refused:
        bootstrap(settings)
    assert time.monotonic() - started < CONNECT_TIMEOUT + 10
    message = str(refused.value)
    assert "SGL_KAFKA_SASL_USERNAME and its password" in message, message
    assert "not-the-password" not in message


def test_an_untrusted_ca_fails_fast_and_says_so(broker: SecureBroker, tmp_path: Path) -> None:
    settings = _settings(tmp_path, broker.sasl_ssl, _scram(broker, ssl_cafile=str(broker.other_ca)))
    started = time.monotonic()
    with pytest.raises(LedgerUnavailable) as refused:
        bootstrap(settings)
    assert time.monotonic() - started < FAIL_WITHIN
    message = str(refused.value)
    assert "certificate was not accepted" in message and "SGL_KAFKA_SSL_CAFILE" in message
