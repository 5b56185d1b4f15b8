"""A Kafka broker of one test module alone (scripts/kafka.sh with its own state and ports), and
the raw read of a topic that such tests compare the ledger against."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.conftest import free_port

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "kafka.sh"


class PrivateBroker:
    """Never the shared broker (other tests and tools use it): free ports, a state directory of
    its own, and whatever extra scripts/kafka.sh settings the test needs (listeners, users)."""

    def __init__(self, state: Path, **settings: str) -> None:
        self.port, controller = free_port(), free_port()
        assert 9092 not in (self.port, controller)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.state = state
        self.env = {
            **os.environ,
            "SGL_KAFKA_DATA": str(state),
            "SGL_KAFKA_PORT": str(self.port),
            "SGL_KAFKA_CONTROLLER_PORT": str(controller),
            "SGL_KAFKA_HEAP_OPTS": "-Xmx512m -Xms128m",
            **settings,
        }

    def start(self) -> None:
        """Start it and wait until it answers a Metadata request."""
        self._run("start", timeout=120)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) and wait until the process is gone."""
        self._run("stop", timeout=60)

    def kill(self) -> None:
        """SIGKILL, as in a crash (nothing flushed, no connection closed cleanly), and wait
        until the process is gone."""
        pid = int((self.state / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and not _zombie(pid):
            assert time.monotonic() < deadline, f"the broker (pid {pid}) outlived SIGKILL by 30 s"
            time.sleep(0.05)

    def _run(self, command: str, timeout: float) -> None:
        done = subprocess.run(
            [str(SCRIPT), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"scripts/kafka.sh {command} failed:\n{done.stdout}\n{done.stderr}")


def _zombie(pid: int) -> bool:
    """Whether the process has ended and waits only to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def read_records(bootstrap: str, topic: str) -> list[tuple[int, int, bytes]]:
    """(partition, offset, value) of every record on the topic, read raw (no group, from the
    start of each partition to its end as the read began)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        found: list[tuple[int, int, bytes]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, "the topic was not read within 60 s"
            for batch in consumer.poll(timeout_ms=500).values():
                found.extend((m.partition, m.offset, m.value) for m in batch)
        return found
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str) -> list[tuple[str, int, int]]:
    """(event_id, partition, offset) of every record on the topic, read raw."""
    return [
        (orjson.loads(value)["event_id"], partition, offset)
        for partition, offset, value in read_records(bootstrap, topic)
    ]
