"""The connection settings every Kafka client of the ledger is built with: TLS, SASL, tokens."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaAdminClient
from kafka.errors import (
    KafkaError,
    SaslAuthenticationFailedError,
    UnsupportedSaslMechanismError,
)
from kafka.net.sasl.oauth import AbstractTokenProvider

from ledger.errors import LedgerUnavailable, SettingsError
from ledger.settings import KafkaSecurity

# How long the first client waits for the cluster, in attempts that start short (1.5 s, twice,
# then 3 s, twice, ... up to 8 s) so that a refused password or an untrusted certificate is
# reported within seconds, and a slow cluster still gets long attempts.
CONNECT_TIMEOUT = 30.0
FIRST_ATTEMPT_MS = 1_500
LONGEST_ATTEMPT_MS = 8_000
# A token is fetched again once this share of its lifetime has passed.
TOKEN_REFRESH_AT = 0.8
TOKEN_REQUEST_TIMEOUT = 10.0


def client_config(security: KafkaSecurity | None) -> dict[str, Any]:
    """The keyword arguments that give a KafkaProducer, KafkaConsumer or KafkaAdminClient the
    ledger's TLS and SASL settings; one token provider, shared by the clients given this dict."""
    s = security or KafkaSecurity()
    config: dict[str, Any] = {"security_protocol": s.security_protocol}
    if s.uses_tls:
        config.update(
            ssl_cafile=s.ssl_cafile or None,
            ssl_certfile=s.ssl_certfile or None,
            ssl_keyfile=s.ssl_keyfile or None,
            ssl_check_hostname=s.ssl_check_hostname,
        )
    if s.uses_sasl:
        config["sasl_mechanism"] = s.sasl_mechanism
        if s.sasl_mechanism == "OAUTHBEARER":
            config["sasl_oauth_token_provider"] = token_provider(s)
        else:
            config["sasl_plain_username"] = s.sasl_username
            config["sasl_plain_password"] = _secret(s.sasl_password, s.sasl_password_file)
    return config


def takes_connections(bootstrap: str, timeout: float) -> bool:
    """Whether any bootstrap address accepts a TCP connection within `timeout` seconds: a
    broker that is gone refuses at once; one that is slow (or a process that was stalled)
    still accepts. Nothing is sent on the connection."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


def token_provider(security: KafkaSecurity) -> AbstractTokenProvider:
    """The OAUTHBEARER token source the settings name: a token file or a token endpoint."""
    if security.oauth_token_file:
        return TokenFileProvider(Path(security.oauth_token_file))
    return ClientCredentialsTokenProvider(
        security.oauth_token_url,
        security.oauth_client_id,
        security.oauth_client_secret,
        security.oauth_client_secret_file,
        security.oauth_scope,
    )


def _secret(value: str, file: str) -> str:
    """The secret itself, or the first line of its file (read when a client is built, so a
    rotated file is used by the next process or reconnect that builds one)."""
    if not file:
        return value
    lines = Path(file).read_text().splitlines()
    if not lines or not lines[0].strip():
        raise SettingsError(f"the secret file {file} is empty")
    return lines[0].strip()


class TokenUnavailable(LedgerUnavailable):
    """No OAUTHBEARER token could be had from the configured source."""


class TokenFileProvider(AbstractTokenProvider):  # type: ignore[misc]
    """Reads the bearer token from a file at every authentication, so a token that a sidecar
    or the platform rewrites before it expires is used from the next (re-)authentication."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path

    def token(self) -> str:
        """The token the file holds now."""
        try:
            token = self._path.read_text().strip()
        except OSError as exc:
            raise TokenUnavailable(
                f"the OAuth token file {self._path} is unreadable: {exc}"
            ) from exc
        if not token:
            raise TokenUnavailable(f"the OAuth token file {self._path} is empty")
        return token


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """Fetches a bearer token from an OAuth 2.0 token endpoint with the client-credentials
    grant (client id and secret in HTTP Basic auth) and keeps it until most of its lifetime
    has passed."""

    def __init__(self, url: str, client_id: str, secret: str, secret_file: str, scope: str) -> None:
        super().__init__()
        self._url = url
        self._client_id = client_id
        self._secret = secret
        self._secret_file = secret_file
        self._scope = scope
        self._lock = threading.Lock()
        self._token = ""
        self._refresh_at = 0.0

    def token(self) -> str:
        """A token that has not yet lived TOKEN_REFRESH_AT of its lifetime; fetched if need be."""
        with self._lock:
            if not self._token or time.monotonic() >= self._refresh_at:
                self._token, lifetime = self._fetch()
                self._refresh_at = time.monotonic() + lifetime * TOKEN_REFRESH_AT
            return self._token

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        secret = _secret(self._secret, self._secret_file)
        try:
            answer = httpx.post(
                self._url,
                data=form,
                auth=(self._client_id, secret),
                headers={"Accept": "application/json"},
                timeout=TOKEN_REQUEST_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"the OAuth token endpoint {self._url} failed: {exc}") from exc
        if answer.status_code != 200:
            # The body of a refusal names the problem (invalid_client, invalid_scope) and is
            # not a secret; it is cut short all the same.
            raise TokenUnavailable(
                f"the OAuth token endpoint {self._url} answered {answer.status_code}: "
                f"{answer.text[:200]}"
            )
        try:
            body = answer.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenUnavailable(
                f"the OAuth token endpoint {self._url} gave no access_token with a numeric "
                "expires_in"
            ) from exc
        if not isinstance(token, str) or not token or lifetime <= 0:
            raise TokenUnavailable(f"the OAuth token endpoint {self._url} gave an unusable token")
        return token, lifetime


def open_admin(bootstrap: str, config: dict[str, Any], **options: Any) -> Any:
    """A KafkaAdminClient, the first client the ledger opens: a refused login or an untrusted
    certificate ends the wait at once with LedgerUnavailable saying so; a cluster that does not
    answer within CONNECT_TIMEOUT, with the last connection error seen."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    attempt = 0
    while True:
        with _connection_errors() as seen:
            longest = min(LONGEST_ATTEMPT_MS, FIRST_ATTEMPT_MS * 2 ** (attempt // 2))
            attempt_ms = int(min(longest, max(1.0, deadline - time.monotonic()) * 1000))
            try:
                return _AdminClient(
                    bootstrap_servers=bootstrap,
                    bootstrap_timeout_ms=attempt_ms,
                    **config,
                    **options,
                )
            except KafkaError as exc:
                failure: KafkaError = exc
        fatal = next((why for why in seen if _is_fatal(why)), None)
        if fatal is not None:
            raise LedgerUnavailable(
                f"Kafka at {bootstrap} refused the connection: {_explain(fatal)}"
            )
        if time.monotonic() >= deadline:
            last = f"; last connection error: {_explain(seen[-1])}" if seen else ""
            if "sasl_mechanism" in config and seen and "disconnected" in str(seen[-1]):
                # A broker sends its refusal of a login as it closes the connection, and
                # kafka-python 3.0.12 often loses the refusal, seeing only the close.
                last += (
                    " (a broker that drops every connection during login may be refusing it: "
                    "check SGL_KAFKA_SASL_USERNAME and its password, or the OAuth token)"
                )
            raise LedgerUnavailable(f"Kafka at {bootstrap} is unavailable: {failure}{last}")
        attempt += 1


class _AdminClient(KafkaAdminClient):  # type: ignore[misc]
    """KafkaAdminClient that stops its network thread when it fails to start."""

    def __init__(self, **config: Any) -> None:
        try:
            super().__init__(**config)
        except BaseException:
            # kafka-python leaves the I/O thread of an admin client that could not bootstrap
            # running; close() stops it, once it believes the client was opened.
            if hasattr(self, "_net"):
                self._closed = False
                self.close()
            raise


class _Collector(logging.Handler):
    """Keeps the exceptions kafka-python logs while a client connects."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep each exception among the record's arguments."""
        args = record.args if isinstance(record.args, tuple) else ()
        self.seen.extend(a for a in args if isinstance(a, BaseException))


@contextlib.contextmanager
def _connection_errors() -> Iterator[list[BaseException]]:
    """The exceptions kafka-python reports (it retries them until its timeout, and raises
    only "Unable to bootstrap") while the block runs."""
    collector = _Collector()
    logger = logging.getLogger("kafka")
    logger.addHandler(collector)
    try:
        yield collector.seen
    finally:
        logger.removeHandler(collector)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_fatal(exc: BaseException) -> bool:
    """Whether trying again cannot help: a refused login, a mechanism the listener does not
    offer, a certificate that is not trusted. (Other TLS errors, such as an EOF, also happen
    while a broker restarts, so they are retried.)"""
    fatal = (
        SaslAuthenticationFailedError,
        UnsupportedSaslMechanismError,
        ssl.SSLCertVerificationError,
    )
    return any(isinstance(e, fatal) for e in _chain(exc))


def _explain(exc: BaseException) -> str:
    """A sentence about the failure, naming the settings to look at."""
    for e in _chain(exc):
        if isinstance(e, SaslAuthenticationFailedError):
            return (
                f"authentication failed ({e}); check SGL_KAFKA_SASL_USERNAME and its password, "
                "or the OAuth token"
            )
        if isinstance(e, UnsupportedSaslMechanismError):
            return f"the listener does not offer SGL_KAFKA_SASL_MECHANISM ({e})"
        if isinstance(e, ssl.SSLCertVerificationError):
            return (
                f"the broker's TLS certificate was not accepted ({e.verify_message}); check "
                "SGL_KAFKA_SSL_CAFILE and SGL_KAFKA_SSL_CHECK_HOSTNAME"
            )
        if isinstance(e, ssl.SSLError):
            return (
                f"the TLS handshake failed ({e}); check SGL_KAFKA_SECURITY_PROTOCOL against the "
                "listener, and the client certificate"
            )
    return f"{type(exc).__name__}: {exc}"
