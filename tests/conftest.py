"""Shared fixtures: settings per backend, a wired container, a real HTTP server, the broker."""

from __future__ import annotations

import gc
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from consumers.verify import read_all
from ledger.postgres import PostgresLocation
from ledger.settings import Settings
from sgl.access_log import REQUEST_ID_HEADER
from sgl.access_rules import RULES
from sgl.api import create_app
from sgl.bootstrap import Container, bootstrap
from sgl.cli_serve import KEEP_ALIVE_SECONDS
from sgl.identity import Role
from tests.agencies import registrations, with_agencies
from tests.credentials import Credentials

KAFKA_BOOTSTRAP = os.environ.get("SGL_TEST_KAFKA", "127.0.0.1:9092")
# The server `scripts/postgres.sh start` runs (its `url`); each test gets a schema of its own.
POSTGRES_URL = os.environ.get("SGL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:55432/sgl")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Every case on Kafka carries the `kafka` marker, so `-m "not kafka"` runs none of them.
BACKENDS = ["sqlite", pytest.param("kafka", marks=pytest.mark.kafka)]
# Where stores live: SQLite files, or a real PostgreSQL server (those cases marked `postgres`).
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def wait_for(
    condition: Callable[[], object],
    timeout: float = 30.0,
    every: float = 0.02,
    what: str = "condition",
) -> None:
    """Poll until condition() is truthy; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def _broker_answers() -> bool:
    """True once the broker has created a topic and acknowledged a write to it (warm-up)."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP, request_timeout_ms=5000)
    except KafkaError:
        return False
    topic = f"sgl.test.warmup.{uuid.uuid4().hex[:8]}"
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    try:
        producer.send(topic, b"ready").get(timeout=60)
    finally:
        producer.close()
    return True


def needs_kafka(item: pytest.Item) -> bool:
    """Whether a collected test asks for the broker or runs on the `kafka` backend parameter
    (another parameter may be "kafka" and mean something else: a compose service's name)."""
    if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("backend") == "kafka"


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Between two tests, collect the garbage and freeze what survives out of later
    collections. The run keeps every test's report; left in the collector's reach, a full
    collection late in the run walks a million objects and stalls every thread of the test
    (its server, its consumers) for a second or two, long enough to time out a wait for a
    view. Frozen, a collection walks only what the running test made."""
    gc.collect()
    gc.freeze()


def needs_postgres(item: pytest.Item) -> bool:
    """Whether a collected test asks for the PostgreSQL server (directly or through a
    fixture) or runs on the `postgres` database parameter."""
    if "postgres_url" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("database") == "postgres"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the broker `kafka` and every one that needs PostgreSQL
    `postgres`, before `-m` selects (tryfirst)."""
    for item in items:
        if needs_kafka(item) and item.get_closest_marker("kafka") is None:
            item.add_marker(pytest.mark.kafka)
        if needs_postgres(item) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The real PostgreSQL server's URL; under CI=true a missing server fails, never skips."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        message = f"no PostgreSQL at {POSTGRES_URL} ({exc}): run `scripts/postgres.sh start`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[PostgresLocation]:
    """A schema of the test's own on the real server, dropped with everything in it after."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield PostgresLocation.parse(f"{postgres_url}?schema={schema}")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # The test's schema, and the schemas its views and their generations made beside it.
        rows = conn.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name = %s OR schema_name LIKE %s",
            (schema, f"{schema}\\_%"),
        ).fetchall()
        for (name,) in rows:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs with its stores in SQLite and in PostgreSQL."""
    name: str = request.param
    if name == "postgres":
        request.getfixturevalue("postgres_url")
    return name


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The real broker's address; under CI=true a missing broker fails, never skips."""
    if not _broker_answers():
        message = f"no Kafka broker at {KAFKA_BOOTSTRAP}: run `scripts/kafka.sh start`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return KAFKA_BOOTSTRAP


@pytest.fixture
def make_settings(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Settings]]:
    """Settings for a backend with a private data dir and private topics; the topics are
    deleted when the test ends, so a whole run does not fill the broker's memory."""
    made: list[Settings] = []

    def make(backend: str, **overrides: object) -> Settings:
        if backend == "kafka" and request.node.get_closest_marker("kafka") is None:
            # Asked for at run time, so collection cannot see it: the test must say so.
            pytest.fail(f"{request.node.nodeid} uses Kafka: mark it @pytest.mark.kafka")
        settings = private_settings(backend, tmp_path, request, **overrides)
        if backend == "kafka":
            made.append(settings)
        return settings

    yield make
    if made:
        delete_topics(
            made[0].kafka_bootstrap,
            [
                name
                for s in made
                for name in (
                    s.topic,
                    s.dead_letter_topic,
                    s.alerts_topic,
                    s.checkpoints_topic,
                    s.access_topic,
                    s.access_checkpoints_topic,
                    s.notes_topic,
                )
            ],
        )


def private_settings(
    backend: str, under: Path, request: pytest.FixtureRequest, **overrides: object
) -> Settings:
    """Settings for a backend with a data dir under `under` and topics of its own."""
    suffix = uuid.uuid4().hex[:12]
    values: dict[str, object] = {
        "backend": backend,
        "data_dir": under / f"data-{suffix}",
        "topic": f"sgl.test.{suffix}",
        "dead_letter_topic": f"sgl.test.{suffix}.dlq",
        "alerts_topic": f"sgl.test.{suffix}.alerts",
        "checkpoints_topic": f"sgl.test.{suffix}.checkpoints",
        "access_topic": f"sgl.test.{suffix}.access",
        "access_checkpoints_topic": f"sgl.test.{suffix}.access.checkpoints",
        "notes_topic": f"sgl.test.{suffix}.notes",
        # The alerter appends alert.raised events on its own schedule; tests of other
        # things count a case's events exactly, so only the alerter's tests turn it on.
        "alerter": "off",
        # Tests poll a view every 20 ms with one token per server, near the default limit
        # of 50 a second; the limit itself is tested with its own low settings.
        "rate_limit": 1000.0,
        "rate_burst": 2000,
    }
    if backend == "kafka":
        values["kafka_bootstrap"] = request.getfixturevalue("kafka_bootstrap")
    values.update(overrides)
    return Settings.from_env({}, **values)


def topic_env(settings: Settings) -> dict[str, str]:
    """The `SGL_*` variables naming a ledger's topics, for a command run on it."""
    return {
        "SGL_TOPIC": settings.topic,
        "SGL_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "SGL_ALERTS_TOPIC": settings.alerts_topic,
        "SGL_CHECKPOINTS_TOPIC": settings.checkpoints_topic,
        "SGL_ACCESS_TOPIC": settings.access_topic,
        "SGL_ACCESS_CHECKPOINTS_TOPIC": settings.access_checkpoints_topic,
        "SGL_NOTES_TOPIC": settings.notes_topic,
    }


def delete_topics(bootstrap_servers: str, topics: list[str]) -> None:
    """Delete a test's topics; one the test never created is no error."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    except KafkaError:
        return  # the broker is the test's subject (an outage test may have stopped it)
    try:
        doomed = sorted(set(topics) & set(admin.list_topics()))
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on the embedded store and on real Kafka."""
    name: str = request.param
    if name == "kafka":
        request.getfixturevalue("kafka_bootstrap")
    return name


@pytest.fixture
def container(backend: str, make_settings: Callable[..., Settings]) -> Iterator[Container]:
    """A wired ledger on the backend under test, with the example agencies (and the ones
    today's policies name) registered."""
    built = bootstrap(make_settings(backend))
    built.ledger.submit(registrations())
    yield built
    built.close()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class IdempotentRetry(httpx.HTTPTransport):
    """Sends a GET or HEAD once more when the server closed the connection without answering
    it, as browsers and most HTTP libraries do for an idempotent request (RFC 9110, 9.2.2);
    a second failure, and any other request, is the test's to see. Under a loaded test
    machine the server thread has, rarely, closed a kept-alive connection as a poll reused it."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """The response; a GET or HEAD whose connection closed unanswered is sent again."""
        try:
            return super().handle_request(request)
        except httpx.RemoteProtocolError:
            if request.method not in ("GET", "HEAD"):
                raise
            return super().handle_request(request)


class LiveServer:
    """The real ASGI app served by uvicorn on loopback in a thread."""

    def __init__(
        self, container: Container, run_consumer: bool = True, port: int | None = None
    ) -> None:
        self.container = container
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(container, run_consumer=run_consumer),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.credentials = Credentials(container.settings)
        # Every answer this server gave the tests' clients: method, route path, status and
        # request id, so that stop() can find each recorded read on the access log.
        self.answered: list[tuple[str, str, int, str | None]] = []

    def start(self) -> LiveServer:
        """Start serving and wait until /healthz answers."""
        self._thread.start()
        wait_for(self._healthy, timeout=15, what="the API to answer /healthz")
        return self

    def client(self, timeout: float = 30) -> httpx.Client:
        """An HTTP client for this server that never reuses a connection idle for 1 s, and
        sends a GET or HEAD again if its connection closed unanswered (`IdempotentRetry`).

        The server closes a connection idle for 5 s; a client keeping it as long (httpx's
        default) can send on it just as it closes, most often when the machine stalls.
        """
        return httpx.Client(
            base_url=self.url,
            timeout=timeout,
            transport=IdempotentRetry(limits=httpx.Limits(keepalive_expiry=1.0)),
            auth=self.credentials.auth(),
            event_hooks={"response": [self._answered]},
        )

    def browser(self) -> httpx.Client:
        """A client that behaves as a browser on the workbench's pages: no credentials of its
        own (it signs in and keeps the cookies), no redirects followed, answers recorded."""
        return httpx.Client(
            base_url=self.url,
            timeout=30,
            transport=IdempotentRetry(limits=httpx.Limits(keepalive_expiry=1.0)),
            event_hooks={"response": [self._answered]},
        )

    def headers(self, role: Role, agency: str | None = None, **more: Any) -> dict[str, str]:
        """The headers of a request to this server by a role (`Credentials.headers`)."""
        return self.credentials.headers(role, agency, **more)

    def stop(self) -> None:
        """Shut the server down and wait for its thread; on the embedded store, check that
        every read the tests' clients were answered is on the access log."""
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self.credentials.close()
        if self.container.settings.backend == "sqlite":
            missing = unrecorded_reads(self.answered, self.container)
            assert not missing, f"answered reads missing from the access log: {missing}"

    def _answered(self, response: httpx.Response) -> None:
        request = response.request
        self.answered.append(
            (
                request.method,
                request.url.path,
                response.status_code,
                response.headers.get(REQUEST_ID_HEADER),
            )
        )

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False


# Answers that are never on the access log: no valid credential (401, or on a page the 303
# to the sign-in form), over the rate limit (429), and a read refused because its record could
# not be appended or the log is down (503).
UNRECORDED_STATUSES = (303, 401, 429, 503)


def unrecorded_reads(
    answered: list[tuple[str, str, int, str | None]], container: Container
) -> list[tuple[str, str, int, str | None]]:
    """The answers to recorded routes whose request id is not on the access log."""
    templates = [
        (method, template, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"))
        for method, template in RULES
    ]
    expected = []
    for method, path, status, request_id in answered:
        if status in UNRECORDED_STATUSES:
            continue
        route = next((t for m, t, rx in templates if m == method and rx.match(path)), None)
        if route is not None and RULES[(method, route)].recorded:
            expected.append((method, path, status, request_id))
    if not expected:
        return []
    found: set[str] = set()
    read_all(
        container.access_log,
        lambda record: found.add(orjson.loads(record.value or b"{}").get("request_id")),
    )
    return [answer for answer in expected if answer[3] not in found]


@pytest.fixture
def live_server(container: Container) -> Iterator[LiveServer]:
    """A real HTTP server over the container, with its consumer thread running."""
    server = LiveServer(container).start()
    yield server
    server.stop()


@pytest.fixture
def sqlite_server(make_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A live server of the test's own on the embedded store, with the example agencies (and
    those today's policies name) registered, its consumers running."""

    container = with_agencies(bootstrap(make_settings("sqlite")))
    live = LiveServer(container).start()
    yield live
    live.stop()
    container.close()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client pointed at the live server."""
    with live_server.client() as client:
        yield client
