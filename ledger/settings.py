"""One frozen Settings object, read from `SGL_*` variables in one place."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ledger.errors import SettingsError
from ledger.limits import MAX_RECORD_BYTES
from ledger.postgres import InvalidDatabaseUrl, PostgresLocation

Backend = Literal["sqlite", "kafka"]
LogFormat = Literal["auto", "json", "console"]
Switch = Literal["on", "off"]
CookieSecure = Literal["auto", "always", "never"]

_PREFIX = "SGL_"
_KAFKA_PREFIX = "SGL_KAFKA_"
_TLS_PROTOCOLS = ("SSL", "SASL_SSL")
_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "PLAIN")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Kafka's rule for a group.instance.id: up to 249 of these characters, neither "." nor "..".
_INSTANCE = re.compile(r"[A-Za-z0-9._-]{1,249}")
_ADMIN_TOKEN_LENGTH = 32
# The longest a workbench session may be set to last: a year (a token's own expiry ends it first).
_MAX_SESSION_HOURS = 8760
_MAX_PORT = 65535


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How every Kafka client of the ledger connects: TLS and SASL, from `SGL_KAFKA_*`.

    Each field is read from `SGL_KAFKA_<FIELD>`; the secrets (the SASL password, the OAuth
    client secret) are better given as files (`..._FILE`), and never appear in a repr.
    """

    security_protocol: str = "PLAINTEXT"
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_check_hostname: bool = True
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    sasl_password_file: str = ""
    oauth_token_url: str = ""
    oauth_client_id: str = ""
    oauth_client_secret: str = field(default="", repr=False)
    oauth_client_secret_file: str = ""
    oauth_scope: str = ""
    oauth_token_file: str = ""

    @property
    def uses_tls(self) -> bool:
        """Whether connections are wrapped in TLS (SSL or SASL_SSL)."""
        return self.security_protocol in _TLS_PROTOCOLS

    @property
    def uses_sasl(self) -> bool:
        """Whether connections authenticate with SASL (SASL_PLAINTEXT or SASL_SSL)."""
        return self.security_protocol in _SASL_PROTOCOLS

    def check(self) -> None:
        """Raise SettingsError naming the first `SGL_KAFKA_*` variable that is wrong or does
        not fit with the others."""
        if self.security_protocol not in _PROTOCOLS:
            raise SettingsError(
                f"SGL_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(_PROTOCOLS)}, "
                f"not {self.security_protocol!r}"
            )
        self._check_tls()
        if not self.uses_sasl:
            _unused(self, _SASL_FIELDS, f"SGL_KAFKA_SECURITY_PROTOCOL={self.security_protocol}")
            return
        if self.sasl_mechanism not in _MECHANISMS:
            raise SettingsError(
                f"SGL_KAFKA_SASL_MECHANISM must be one of {', '.join(_MECHANISMS)} with "
                f"SGL_KAFKA_SECURITY_PROTOCOL={self.security_protocol}, "
                f"not {self.sasl_mechanism!r}"
            )
        if self.sasl_mechanism in ("PLAIN", "OAUTHBEARER") and not self.uses_tls:
            # Either would send a reusable secret (the password, the bearer token) in clear.
            raise SettingsError(
                f"SGL_KAFKA_SASL_MECHANISM={self.sasl_mechanism} sends its secret in clear: "
                "use it only with SGL_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
            )
        if self.sasl_mechanism == "OAUTHBEARER":
            self._check_oauth()
        else:
            self._check_password()

    def _check_tls(self) -> None:
        if not self.uses_tls:
            _unused(self, _TLS_FIELDS, f"SGL_KAFKA_SECURITY_PROTOCOL={self.security_protocol}")
            return
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            _readable(self, name)
        if self.ssl_keyfile and not self.ssl_certfile:
            raise SettingsError(
                "SGL_KAFKA_SSL_KEYFILE is set without SGL_KAFKA_SSL_CERTFILE: mutual TLS needs "
                "the client certificate too"
            )

    def _check_password(self) -> None:
        mechanism = f"SGL_KAFKA_SASL_MECHANISM={self.sasl_mechanism}"
        _unused(self, _OAUTH_FIELDS, mechanism)
        if not self.sasl_username:
            raise SettingsError(f"SGL_KAFKA_SASL_USERNAME is required with {mechanism}")
        _one_secret(self, "sasl_password", mechanism)

    def _check_oauth(self) -> None:
        mechanism = "SGL_KAFKA_SASL_MECHANISM=OAUTHBEARER"
        _unused(self, _PASSWORD_FIELDS, mechanism)
        if bool(self.oauth_token_url) == bool(self.oauth_token_file):
            raise SettingsError(
                f"{mechanism} needs exactly one token source: SGL_KAFKA_OAUTH_TOKEN_URL (a "
                "client-credentials token endpoint) or SGL_KAFKA_OAUTH_TOKEN_FILE"
            )
        if self.oauth_token_file:
            _unused(self, _CLIENT_FIELDS, "SGL_KAFKA_OAUTH_TOKEN_FILE")
            _readable(self, "oauth_token_file")
            return
        _check_token_url(self.oauth_token_url)
        if not self.oauth_client_id:
            raise SettingsError(
                "SGL_KAFKA_OAUTH_CLIENT_ID is required with SGL_KAFKA_OAUTH_TOKEN_URL"
            )
        _one_secret(self, "oauth_client_secret", "SGL_KAFKA_OAUTH_TOKEN_URL")


_TLS_FIELDS = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
_PASSWORD_FIELDS = ("sasl_username", "sasl_password", "sasl_password_file")
_CLIENT_FIELDS = (
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_client_secret_file",
    "oauth_scope",
)
_OAUTH_FIELDS = ("oauth_token_url", *_CLIENT_FIELDS, "oauth_token_file")
_SASL_FIELDS = ("sasl_mechanism", *_PASSWORD_FIELDS, *_OAUTH_FIELDS)


def _variable(name: str) -> str:
    return _KAFKA_PREFIX + name.upper()


def _unused(security: KafkaSecurity, names: tuple[str, ...], because: str) -> None:
    """Refuse a setting the others make meaningless: it was meant to do something."""
    for name in names:
        if getattr(security, name):
            raise SettingsError(f"{_variable(name)} is set but unused with {because}")


def _readable(security: KafkaSecurity, name: str) -> None:
    path = getattr(security, name)
    if path and not os.access(path, os.R_OK):
        raise SettingsError(f"{_variable(name)} names {path}, which cannot be read")


def _one_secret(security: KafkaSecurity, name: str, needed_by: str) -> None:
    """Exactly one of a secret and its file; the file must be readable."""
    given, file = getattr(security, name), getattr(security, name + "_file")
    if bool(given) == bool(file):
        raise SettingsError(
            f"{needed_by} needs exactly one of {_variable(name)} and {_variable(name + '_file')} "
            "(a file is better: it stays out of the environment)"
        )
    _readable(security, name + "_file")


def _check_token_url(url: str) -> None:
    """An https token endpoint, or http on loopback (a local token helper)."""
    _check_secure_url("SGL_KAFKA_OAUTH_TOKEN_URL", url)


def _check_secure_url(variable: str, url: str) -> None:
    """An https address, or http on loopback (a local helper)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise SettingsError(f"{variable} is not a valid URL: {exc}") from None
    if not parts.hostname or not (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    ):
        raise SettingsError(
            f"{variable} must be an https:// address (http:// only on loopback), not {url!r}"
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable; defaults give the embedded SQLite store."""

    backend: Backend = "sqlite"
    data_dir: Path = Path("var")
    # Where the receipt index and the views live when not in SQLite files under data_dir: a
    # `postgresql://` URL (see ledger.postgres), shared by every process of one ledger.
    database_url: str = field(default="", repr=False)
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic: str = "sgl.ledger.v1"
    dead_letter_topic: str = "sgl.ledger.deadletter.v1"
    alerts_topic: str = "sgl.alerts.v1"
    checkpoints_topic: str = "sgl.checkpoints.v1"
    access_topic: str = "sgl.access.v1"
    access_checkpoints_topic: str = "sgl.access.checkpoints.v1"
    notes_topic: str = "sgl.notes.v1"
    partitions: int = 3
    replication_factor: int = 1
    min_insync_replicas: int = 1
    kafka_request_timeout_ms: int = 10_000
    kafka_delivery_timeout_ms: int = 15_000
    kafka_max_block_ms: int = 1_000
    kafka_probe_timeout_ms: int = 1_000
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Where a process running consumers or sealers without the API serves its metrics (the
    # API serves them at its own /metrics); port 0 for none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 5 * 1024 * 1024
    # A record on the log bigger than this is dead-lettered unread (`ledger.decode`); at least
    # the largest body the API accepts, so every event it appends can be read back.
    max_record_bytes: int = MAX_RECORD_BYTES
    max_batch_items: int = 5000
    body_timeout_seconds: int = 10
    clock_skew_seconds: int = 300
    consumer_batch: int = 5000
    # This process's static member id in each consumer group it joins (Kafka's
    # group.instance.id): a process restarted with the same one takes back its partitions at
    # once, instead of after the dead member's session timeout. Unique per process; "" for none.
    consumer_instance: str = ""
    snapshot_every: int = 100
    clock_policy: str = ""
    rule_policy: str = ""
    alerter: Switch = "on"
    checkpoint_every: int = 1000
    checkpoint_seconds: int = 10
    signing_key: Path = Path("")
    log_format: LogFormat = "auto"
    log_level: str = "info"
    kafka_security: KafkaSecurity = KafkaSecurity()
    shutdown_seconds: int = 8
    # The purposes an inquiry or audit request may state, comma-separated ("" for the
    # defaults in sgl.identity).
    purposes: str = ""
    # Each token's rate limit: requests per second sustained, and the burst it may spend first.
    rate_limit: float = 50.0
    rate_burst: int = 200
    # An operator's admin token from the environment (the first admin, before any token exists).
    admin_token: str = field(default="", repr=False)
    # An agency's OpenID Connect provider: access tokens verified against its JWKS.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_agency_claim: str = "sgl_agency"
    oidc_role_claim: str = "sgl_role"
    oidc_person_claim: str = "sgl_person"
    # What the provider may speak for: the roles it may grant and the agencies (required with
    # SGL_OIDC_ISSUER: a provider speaks for no agency until it is named here).
    oidc_roles: str = "publisher,practitioner"
    oidc_agencies: str = ""
    # Accept tokens without the RFC 9068 access-token `typ` (`at+jwt`), for a provider that
    # cannot mark them (its ID tokens must then never carry the ledger's audience).
    oidc_accept_untyped: bool = False
    # How long a workbench sign-in lasts (never past its token's expiry), in hours.
    session_hours: float = 8.0
    # Whether the session cookie is Secure: `auto` unless the page was asked for over http of
    # a loopback host (so a ledger behind a TLS-terminating proxy still marks it Secure).
    cookie_secure: CookieSecure = "auto"

    @property
    def postgres(self) -> PostgresLocation | None:
        """The PostgreSQL database the stores live in, or None for SQLite files."""
        return PostgresLocation.parse(self.database_url) if self.database_url else None

    @property
    def log_db(self) -> Path:
        """SQLite file holding the embedded log (and its dead letters)."""
        return self.data_dir / "ledger.sqlite"

    @property
    def views_dir(self) -> Path:
        """Folder of the views' SQLite files (each with its tracked positions)."""
        return self.data_dir / "views"

    @property
    def receipts_db(self) -> Path:
        """SQLite file indexing receipts by event_id for the Kafka backend."""
        return self.data_dir / "receipts.sqlite"

    @property
    def alerts_log_db(self) -> Path:
        """SQLite file holding the embedded alerts feed (the alerts topic's stand-in)."""
        return self.data_dir / "alerts.sqlite"

    @property
    def checkpoints_log_db(self) -> Path:
        """SQLite file holding the embedded checkpoints (the checkpoints topic's stand-in)."""
        return self.data_dir / "checkpoints.sqlite"

    @property
    def checkpoints_receipts_db(self) -> Path:
        """SQLite file indexing the checkpoints topic's receipts for the Kafka backend."""
        return self.data_dir / "checkpoints-receipts.sqlite"

    @property
    def access_log_db(self) -> Path:
        """SQLite file holding the embedded access log (the access topic's stand-in)."""
        return self.data_dir / "access.sqlite"

    @property
    def access_receipts_db(self) -> Path:
        """SQLite file indexing the access topic's receipts for the Kafka backend."""
        return self.data_dir / "access-receipts.sqlite"

    @property
    def access_checkpoints_log_db(self) -> Path:
        """SQLite file holding the embedded access log's checkpoints."""
        return self.data_dir / "access-checkpoints.sqlite"

    @property
    def access_checkpoints_receipts_db(self) -> Path:
        """SQLite file indexing the access checkpoints topic's receipts for the Kafka backend."""
        return self.data_dir / "access-checkpoints-receipts.sqlite"

    @property
    def notes_log_db(self) -> Path:
        """SQLite file holding the embedded inquiry notes (the notes topic's stand-in)."""
        return self.data_dir / "notes.sqlite"

    @property
    def notes_receipts_db(self) -> Path:
        """SQLite file indexing the notes topic's receipts for the Kafka backend."""
        return self.data_dir / "notes-receipts.sqlite"

    @property
    def tokens_db(self) -> Path:
        """SQLite file holding the API's bearer tokens (hashes only)."""
        return self.data_dir / "access" / "tokens.sqlite"

    @property
    def signing_key_path(self) -> Path:
        """The checkpoint signing key (Ed25519, PEM); its verifier key is beside it (.pub)."""
        return (
            self.signing_key
            if str(self.signing_key) not in ("", ".")
            else self.data_dir / "keys" / "checkpoint.key"
        )

    @property
    def alerts_receipts_db(self) -> Path:
        """SQLite file indexing the alerts topic's receipts for the Kafka backend."""
        return self.data_dir / "alerts-receipts.sqlite"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Defaults, then `SGL_*` variables, then explicit keyword overrides."""
        values: dict[str, Any] = {}
        for each in fields(cls):
            raw = environ.get(_PREFIX + each.name.upper())
            if raw is not None and each.name != "kafka_security":
                values[each.name] = _coerce(_PREFIX + each.name.upper(), each.type, raw)
        security: dict[str, Any] = {}
        for each in fields(KafkaSecurity):
            raw = environ.get(_variable(each.name))
            if raw is not None:
                security[each.name] = _coerce(_variable(each.name), each.type, raw)
        settings = replace(cls(), kafka_security=KafkaSecurity(**security), **values)
        settings = replace(settings, **overrides)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise SettingsError naming the first setting out of range."""
        if self.backend not in ("sqlite", "kafka"):
            raise SettingsError(f"SGL_BACKEND must be 'sqlite' or 'kafka', not {self.backend!r}")
        if self.log_format not in ("auto", "json", "console"):
            raise SettingsError("SGL_LOG_FORMAT must be 'auto', 'json' or 'console'")
        if self.alerter not in ("on", "off"):
            raise SettingsError(f"SGL_ALERTER must be 'on' or 'off', not {self.alerter!r}")
        for name in (
            "partitions",
            "replication_factor",
            "min_insync_replicas",
            "max_batch_items",
            "body_timeout_seconds",
            "snapshot_every",
            "checkpoint_every",
            "checkpoint_seconds",
            "shutdown_seconds",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"SGL_{name.upper()} must be at least 1")
        for name in (
            "kafka_request_timeout_ms",
            "kafka_max_block_ms",
            "kafka_probe_timeout_ms",
        ):
            if getattr(self, name) < 100:
                raise SettingsError(f"SGL_{name.upper()} must be at least 100")
        if self.kafka_delivery_timeout_ms < self.kafka_request_timeout_ms + 100:
            # The producer refuses a delivery timeout that one request (and linger) outlasts.
            raise SettingsError(
                "SGL_KAFKA_DELIVERY_TIMEOUT_MS must be at least SGL_KAFKA_REQUEST_TIMEOUT_MS + 100"
            )
        _check_metrics_address(self.metrics_host, self.metrics_port)
        if self.max_body_bytes < 1024:
            raise SettingsError("SGL_MAX_BODY_BYTES must be at least 1024")
        if self.max_record_bytes < self.max_body_bytes:
            raise SettingsError(
                "SGL_MAX_RECORD_BYTES must be at least SGL_MAX_BODY_BYTES "
                f"({self.max_body_bytes}): the consumers would refuse events the API accepts"
            )
        _check_url(self.url)
        _check_instance(self.consumer_instance)
        if self.database_url:
            try:
                PostgresLocation.parse(self.database_url)
            except InvalidDatabaseUrl as exc:
                raise SettingsError(f"SGL_DATABASE_URL: {exc}") from None
        self.kafka_security.check()
        self._check_access()

    def _check_access(self) -> None:
        """Raise SettingsError for a rate limit, purpose list, admin token or OIDC provider
        that cannot work."""
        if self.rate_limit <= 0:
            raise SettingsError("SGL_RATE_LIMIT must be a number of requests per second above 0")
        if self.rate_burst < 1:
            raise SettingsError("SGL_RATE_BURST must be at least 1")
        for purpose in self.purposes.split(","):
            if self.purposes and not _PURPOSE.match(purpose.strip()):
                raise SettingsError(
                    "SGL_PURPOSES must be comma-separated names of lower-case letters, digits "
                    f"and hyphens, not {purpose.strip()!r}"
                )
        if not 0 < self.session_hours <= _MAX_SESSION_HOURS:
            raise SettingsError(
                "SGL_SESSION_HOURS must be a number of hours above 0 and at most "
                f"{_MAX_SESSION_HOURS} (a year), not {self.session_hours}"
            )
        if self.cookie_secure not in ("auto", "always", "never"):
            raise SettingsError(
                f"SGL_COOKIE_SECURE must be 'auto', 'always' or 'never', not {self.cookie_secure!r}"
            )
        if self.admin_token and len(self.admin_token) < _ADMIN_TOKEN_LENGTH:
            raise SettingsError(
                f"SGL_ADMIN_TOKEN must be at least {_ADMIN_TOKEN_LENGTH} characters "
                "(e.g. `openssl rand -base64 32`)"
            )
        oidc = {
            "SGL_OIDC_ISSUER": self.oidc_issuer,
            "SGL_OIDC_AUDIENCE": self.oidc_audience,
            "SGL_OIDC_JWKS_URL": self.oidc_jwks_url,
        }
        if any(oidc.values()) and not all(oidc.values()):
            missing = ", ".join(name for name, value in oidc.items() if not value)
            raise SettingsError(f"OpenID Connect needs all of {', '.join(oidc)}; missing {missing}")
        if self.oidc_jwks_url:
            _check_secure_url("SGL_OIDC_JWKS_URL", self.oidc_jwks_url)
        if self.oidc_issuer and not self.oidc_agencies.strip():
            raise SettingsError(
                "SGL_OIDC_AGENCIES must name the agencies (comma-separated ids) the OpenID "
                "Connect provider speaks for"
            )


def _check_metrics_address(host: str, port: int) -> None:
    """Refuse a metrics address no server can listen on."""
    if not 0 <= port <= _MAX_PORT:
        raise SettingsError(
            f"SGL_METRICS_PORT must be a port from 1 to {_MAX_PORT}, or 0 for no metrics "
            f"endpoint, not {port}"
        )
    if not host.strip():
        raise SettingsError("SGL_METRICS_HOST must name an address to listen on")


def _check_instance(instance: str) -> None:
    """Refuse a consumer instance Kafka would refuse as a group.instance.id."""
    if instance and (not _INSTANCE.fullmatch(instance) or instance in (".", "..")):
        raise SettingsError(
            "SGL_CONSUMER_INSTANCE must be up to 249 letters, digits, '.', '_' or '-' "
            f"(not '.' or '..'), not {instance!r}"
        )


def _check_url(url: str) -> None:
    """Refuse a server address that is not an http(s) base URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"SGL_URL is not a valid URL: {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"SGL_URL must be an http:// or https:// address with a host, like "
            f"http://127.0.0.1:8000, not {url!r}"
        )
    if parts.query or parts.fragment or (port is not None and port < 1):
        raise SettingsError(f"SGL_URL must be a base URL (no query, no fragment), not {url!r}")


def _coerce(variable: str, annotation: object, raw: str) -> Any:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        number = "a number" if kind == "float" else "a whole number"
        raise SettingsError(f"{variable} must be {number}, not {raw!r}") from exc
    if kind == "bool":
        if raw.strip().lower() in _TRUE:
            return True
        if raw.strip().lower() in _FALSE:
            return False
        raise SettingsError(f"{variable} must be true or false, not {raw!r}")
    return raw
