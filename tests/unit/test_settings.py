"""Settings: defaults give the embedded store; SGL_* variables and overrides layer on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import SettingsError
from ledger.settings import Settings


def test_defaults_are_the_embedded_store_on_loopback() -> None:
    """With no environment the ledger runs on SQLite and listens on loopback only."""
    settings = Settings.from_env({})
    assert settings.backend == "sqlite"
    assert settings.http_host == "127.0.0.1"
    assert settings.log_db == Path("var/ledger.sqlite")
    assert settings.url == "http://127.0.0.1:8000"
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 9464)


def test_the_server_address_comes_from_sgl_url() -> None:
    """Commands that talk to a server read its address from SGL_URL."""
    assert Settings.from_env({"SGL_URL": "https://ledger.test:8443"}).url == (
        "https://ledger.test:8443"
    )


def test_environment_then_overrides() -> None:
    """SGL_* variables beat defaults; explicit arguments beat variables."""
    env = {"SGL_BACKEND": "kafka", "SGL_PARTITIONS": "6", "SGL_DATA_DIR": "/tmp/x"}
    settings = Settings.from_env(env, partitions=2)
    assert settings.backend == "kafka"
    assert settings.partitions == 2
    assert settings.data_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SGL_BACKEND": "mongo"}, "SGL_BACKEND"),
        ({"SGL_PARTITIONS": "three"}, "SGL_PARTITIONS must be a whole number"),
        ({"SGL_PARTITIONS": "0"}, "SGL_PARTITIONS must be at least 1"),
        ({"SGL_LOG_FORMAT": "xml"}, "SGL_LOG_FORMAT"),
        ({"SGL_URL": "127.0.0.1:8000"}, "SGL_URL must be an http:// or https:// address"),
        ({"SGL_URL": "ftp://ledger.example"}, "SGL_URL must be an http:// or https://"),
        ({"SGL_URL": "http://"}, "SGL_URL must be an http:// or https:// address with a host"),
        ({"SGL_URL": "http://127.0.0.1:99999"}, "SGL_URL is not a valid URL"),
        ({"SGL_URL": "http://127.0.0.1:8000/?x=1"}, "SGL_URL must be a base URL"),
        # Named ids: an id naming the broker would put the case in the broker's selection.
        pytest.param(
            {"SGL_KAFKA_PROBE_TIMEOUT_MS": "10"},
            "SGL_KAFKA_PROBE_TIMEOUT_MS must be at least 100",
            id="probe-timeout-too-short",
        ),
        ({"SGL_SHUTDOWN_SECONDS": "0"}, "SGL_SHUTDOWN_SECONDS must be at least 1"),
        ({"SGL_METRICS_PORT": "65536"}, "SGL_METRICS_PORT must be a port from 1 to 65535, or 0"),
        ({"SGL_METRICS_PORT": "-1"}, "SGL_METRICS_PORT must be a port"),
        ({"SGL_METRICS_HOST": " "}, "SGL_METRICS_HOST must name an address"),
        pytest.param(
            {"SGL_KAFKA_REQUEST_TIMEOUT_MS": "20000"},
            "SGL_KAFKA_DELIVERY_TIMEOUT_MS must be at least SGL_KAFKA_REQUEST_TIMEOUT_MS",
            id="delivery-within-request-timeout",
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    """A bad value is refused with the variable's name."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize("instance", ["", "consumer-2", "host_a.consumer.1", "x" * 249])
def test_a_consumer_instance_the_broker_accepts_is_taken(instance: str) -> None:
    """SGL_CONSUMER_INSTANCE, Kafka's group.instance.id of this process (unset: none)."""
    settings = Settings.from_env({"SGL_CONSUMER_INSTANCE": instance})
    assert settings.consumer_instance == instance


@pytest.mark.parametrize(
    "instance", ["consumer 2", "consumer/2", ".", "..", "x" * 250, "é", "consumer-2\n"]
)
def test_a_consumer_instance_the_broker_would_refuse_is_refused(instance: str) -> None:
    """Refused at start with the rule, not by the broker at the first join."""
    with pytest.raises(SettingsError, match="SGL_CONSUMER_INSTANCE must be up to 249"):
        Settings.from_env({"SGL_CONSUMER_INSTANCE": instance})


def test_the_record_limit_is_at_least_the_body_limit() -> None:
    """A record limit below the body limit would dead-letter events the API accepted."""
    with pytest.raises(SettingsError, match="SGL_MAX_RECORD_BYTES"):
        Settings.from_env({"SGL_MAX_BODY_BYTES": "4096", "SGL_MAX_RECORD_BYTES": "4095"})
    assert Settings.from_env({"SGL_MAX_RECORD_BYTES": "5242880"}).max_record_bytes == 5242880
