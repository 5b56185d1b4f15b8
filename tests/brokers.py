"""A Kafka broker of one test module alone: scripts/kafka.sh with its own state and ports."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "kafka.sh"


class PrivateBroker:
    """Never the shared broker (other tests and tools use it): free ports, a state directory of
    its own, and whatever extra scripts/kafka.sh settings the test needs (listeners, users)."""

    def __init__(self, state: Path, **settings: str) -> None:
        self.port, controller = free_port(), free_port()
        assert 9092 not in (self.port, controller)
        self.bootstrap = f"127.0.0.1:{self.port}"
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
