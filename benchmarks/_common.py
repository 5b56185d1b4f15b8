"""Shared helpers for the benchmark scripts (not tests: they print figures)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.factories import example  # noqa: E402 -- after the path is set

TYPES = ("contact.recorded", "injury.observed", "decision.recorded")


def events(count: int, cases: int) -> list[dict[str, Any]]:
    """count valid events spread over `cases` pseudonymous cases."""
    templates = [example(t) for t in TYPES]
    case_ids = [f"CASE-B{i:06d}" for i in range(cases)]
    out = []
    for i in range(count):
        event = dict(templates[i % len(templates)])
        event["event_id"] = str(uuid.uuid4())
        event["case_id"] = case_ids[i % cases]
        out.append(event)
    return out


def machine() -> str:
    """One line describing this machine."""
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


def rate(count: int, seconds: float) -> str:
    """count/seconds formatted as events per second."""
    return f"{count / seconds:,.0f} events/s ({count:,} in {seconds:.2f} s)"


@contextmanager
def server(env: dict[str, str], port: int) -> Iterator[str]:
    """`sgl serve` in a subprocess on loopback; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sgl", "serve", "--no-consumer", "--port", str(port)],
        env={**os.environ, **env, "SGL_LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
