"""One frozen Settings object, read from `SGL_*` variables in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ledger.errors import SettingsError

Backend = Literal["sqlite", "kafka"]
LogFormat = Literal["auto", "json", "console"]
Switch = Literal["on", "off"]

_PREFIX = "SGL_"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable; defaults give the embedded SQLite store."""

    backend: Backend = "sqlite"
    data_dir: Path = Path("var")
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic: str = "sgl.ledger.v1"
    dead_letter_topic: str = "sgl.ledger.deadletter.v1"
    alerts_topic: str = "sgl.alerts.v1"
    checkpoints_topic: str = "sgl.checkpoints.v1"
    partitions: int = 3
    replication_factor: int = 1
    min_insync_replicas: int = 1
    kafka_request_timeout_ms: int = 10_000
    kafka_delivery_timeout_ms: int = 15_000
    kafka_max_block_ms: int = 1_000
    kafka_probe_timeout_ms: int = 1_000
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch_items: int = 5000
    clock_skew_seconds: int = 300
    consumer_batch: int = 5000
    snapshot_every: int = 100
    clock_policy: str = ""
    rule_policy: str = ""
    alerter: Switch = "on"
    checkpoint_every: int = 1000
    checkpoint_seconds: int = 10
    signing_key: Path = Path("")
    log_format: LogFormat = "auto"
    log_level: str = "info"
    shutdown_seconds: int = 8

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
        for field in fields(cls):
            raw = environ.get(_PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _coerce(field.name, field.type, raw)
        settings = replace(cls(), **values)
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
        if self.max_body_bytes < 1024:
            raise SettingsError("SGL_MAX_BODY_BYTES must be at least 1024")
        _check_url(self.url)


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


def _coerce(name: str, annotation: object, raw: str) -> Any:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise SettingsError(f"SGL_{name.upper()} must be a whole number, not {raw!r}") from exc
    return raw
