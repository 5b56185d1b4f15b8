"""The Kafka topic is the system of record: kept forever, never compacted, stamped by the broker."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from ledger.settings import Settings
from ledger_client.errors import LedgerUnavailable
from sgl.bootstrap import bootstrap
from tests.agencies import with_agencies
from tests.conftest import wait_for
from tests.factories import make_event


def test_topic_is_created_with_the_record_settings(
    make_settings: Callable[..., Settings], kafka_bootstrap: str
) -> None:
    """retention forever, delete (never compact), LogAppendTime, keyed partitions."""
    settings = make_settings("kafka", partitions=4)
    container = bootstrap(settings)
    container.close()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.topic)]
        )
        configs = {k: v["value"] for k, v in described["topic"][settings.topic].items()}
    finally:
        admin.close()
    assert configs["retention.ms"] == "-1"
    assert configs["retention.bytes"] == "-1"
    assert configs["cleanup.policy"] == "delete"
    assert configs["message.timestamp.type"] == "LogAppendTime"
    assert configs["min.insync.replicas"] == "1"


def test_the_broker_stamps_appended_at_whatever_the_producer_says(
    make_settings: Callable[..., Settings], kafka_bootstrap: str
) -> None:
    """A producer's own timestamp is replaced by the broker's append time (timestamp type 1)."""
    settings = make_settings("kafka")
    container = with_agencies(bootstrap(settings))
    event = make_event()
    receipt = container.ledger.submit([event])[0]
    forged = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    forged.send(settings.topic, key=event["case_id"].encode(), value=b"{}", timestamp_ms=0)
    forged.close()
    container.close()
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    tp = TopicPartition(settings.topic, receipt.partition)
    consumer.assign([tp])
    consumer.seek(tp, receipt.offset)
    got: list[object] = []
    try:
        wait_for(
            lambda: got.extend(consumer.poll(timeout_ms=200).get(tp, [])) or len(got) >= 2,
            timeout=20,
            what="both records",
        )
    finally:
        consumer.close()
    ours, theirs = got[0], got[1]
    assert ours.timestamp_type == 1 and theirs.timestamp_type == 1  # type: ignore[attr-defined]
    assert ours.timestamp == round(receipt.appended_at.timestamp() * 1000)  # type: ignore[attr-defined]
    assert theirs.timestamp >= ours.timestamp > 0  # type: ignore[attr-defined]


def test_a_log_that_cannot_be_built_stops_the_start_and_leaves_nothing_running(
    make_settings: Callable[..., Settings], kafka_bootstrap: str
) -> None:
    """The six logs are built side by side: when one topic cannot be created (a name the
    broker refuses), the start fails with that reason and the logs built beside it are
    closed: no prober, producer, receipt writer or network thread is left behind."""
    before = {thread.ident for thread in threading.enumerate()}
    settings = make_settings("kafka")
    refused = settings.access_topic + "x" * 250  # over the broker's 249 characters
    with pytest.raises(LedgerUnavailable, match="InvalidTopic"):
        bootstrap(dataclasses.replace(settings, access_topic=refused))
    wait_for(
        lambda: not [t for t in threading.enumerate() if t.ident not in before],
        what="every thread of the logs built to stop",
    )
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        made = set(admin.list_topics())
    finally:
        admin.close()
    # The others were created (and are deleted with the test's topics): built, then closed.
    assert {settings.topic, settings.alerts_topic, settings.notes_topic} <= made
