"""Shared helpers for the benchmark scripts (not tests: they print figures)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.settings import Settings  # noqa: E402 -- after the path is set
from sgl.bootstrap import Container  # noqa: E402
from sgl.identity import Role  # noqa: E402
from sgl.registry import registration  # noqa: E402
from sgl.tokens import TokenStore  # noqa: E402
from tests.factories import example  # noqa: E402

TYPES = ("contact.recorded", "injury.observed", "decision.recorded")
# The agencies the schemas' examples name (and so every event `events` makes).
EXAMPLE_AGENCIES: list[dict[str, Any]] = orjson.loads(
    (ROOT / "docs" / "examples" / "agencies.json").read_bytes()
)
# Before any date the benchmarks record events at, so every agency is registered as of each.
REGISTERED_AT = "2000-01-01T00:00:00Z"


def agency(agency_id: str, kind: str) -> dict[str, Any]:
    """A registry payload for an agency a benchmark names (statutory unless voluntary, faith
    or other)."""
    return {
        "agency_id": agency_id,
        "name": f"Benchmark {agency_id}",
        "kind": kind,
        "statutory": kind not in ("voluntary", "faith", "other"),
    }


def registrations(extra: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """`agency.registered` events for the example agencies and the `extra` payloads."""
    return [registration(p, REGISTERED_AT) for p in [*EXAMPLE_AGENCIES, *extra]]


def register(container: Container, extra: Sequence[dict[str, Any]] = ()) -> list[str]:
    """Register the example agencies and `extra` through the container's append path, and
    wait until its registry counts them (so no timed append pays for reading the log past
    the registry's store). Returns the ids registered."""
    batch = registrations(extra)
    container.ledger.submit(batch)
    ids = [e["payload"]["agency_id"] for e in batch]
    wait_known(ids, lambda a: container.agencies.record(a) is not None)
    return ids


def wait_known(ids: Iterable[str], known: Callable[[str], bool], timeout: float = 60) -> None:
    """Return once every id is `known` (each look-up may read more of the log); fail after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for agency_id in ids:
        while not known(agency_id):
            if time.monotonic() > deadline:
                raise SystemExit(f"agency {agency_id!r} is still not registered")
            time.sleep(0.05)


def known_over_http(url: str, token: str) -> Callable[[str], bool]:
    """Whether the server at `url` has an agency in its registry (asked with the token)."""
    headers = {"Authorization": f"Bearer {token}"}
    return lambda agency_id: (
        httpx.get(f"{url}/v1/agencies/{agency_id}", headers=headers, timeout=30).is_success
    )


def token(data_dir: Path, role: Role, agency: str) -> str:
    """A day's token for the role and agency, made in the token store of the data directory
    a server serves."""
    store = TokenStore(Settings.from_env({}, data_dir=data_dir).tokens_db)
    try:
        expires = datetime.now(UTC) + timedelta(days=1)
        return store.create(agency, role, expires, label="benchmark").token
    finally:
        store.close()


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


class Served(NamedTuple):
    """A server a benchmark started: its base URL and its process id."""

    url: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far, every thread of it (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(env: dict[str, str], port: int) -> Iterator[Served]:
    """`sgl serve` in a subprocess on loopback; yields its base URL and process id."""
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
        yield Served(url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def background_ledger(cases: int) -> tuple[Container, int]:
    """An embedded ledger in a fresh directory holding the demo registry and `cases` synthetic
    background cases; with how many case events it holds."""
    import tempfile

    from ledger.settings import Settings
    from sgl.bootstrap import bootstrap
    from sgl.logs import configure_logging

    settings = Settings.from_env(
        {}, data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")), log_level="warning"
    )
    configure_logging(settings)
    container = bootstrap(settings)
    return container, load_background(container, cases)


def load_background(container: Container, cases: int, batch: int = 5000) -> int:
    """Append the demo registry and `cases` synthetic background cases in batches; returns
    how many case events were appended."""
    from sgl.demo.agencies import demo_registry
    from sgl.demo.background import background_events

    container.ledger.submit(demo_registry())  # the agencies the background cases name
    count = 0
    pending: list[dict[str, Any]] = []
    for event in background_events(cases):
        pending.append(event)
        if len(pending) == batch:
            container.ledger.submit(pending)
            count += len(pending)
            pending = []
    if pending:
        container.ledger.submit(pending)
        count += len(pending)
    return count
