"""Prometheus metrics: appends, rejected events, server errors, request latency, dead letters,
alerts raised, consumer lag (per view and partition), publish-to-visible latency, records applied
per view, the sealers' positions and checkpoints, consumers up, and follower cases failing.

The API process serves them at its /metrics; a process running only consumers or sealers serves
them on an address of its own (`metrics_endpoint`, SGL_METRICS_HOST and SGL_METRICS_PORT).
What a store or the log can tell is read at scrape time; on the consumers' path there is one
histogram observation per batch. Labels are views and partitions only, never case ids.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from eventsourcing.persistence import PersistenceError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consumers.follower import CaseFollower
from consumers.loop import TrackedLoop
from consumers.runner import ProjectionRunner
from consumers.sealer import Sealer
from ledger.errors import LedgerUnavailable
from ledger.log import EventLog, LogRecord
from sgl.responses import MEDIA_TYPE as PROBLEM

if TYPE_CHECKING:
    from sgl.bootstrap import Container

log = structlog.get_logger("sgl.metrics")

EVENTS_PATH = "/v1/events"
# Refusals before a request is admitted to its route's rule: never on the access log.
UNADMITTED = frozenset({401, 429})
UNMATCHED = "unmatched"
# A client may send any token as its method: only these become label values, so a label's
# values stay few.
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
OTHER_METHOD = "other"
# Request latency buckets, in seconds: a read of a small case takes a few milliseconds, a
# batch of thousands of events or a ledger-wide report may take seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Publish-to-visible buckets, in seconds: a consumer keeping up shows an event within a poll
# (0.2 s) and a batch; one catching up (after a restart, an outage, a rebuild) minutes or more.
VISIBLE_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
)
# A store or the log not answering leaves its figures NaN (or absent); the scrape still answers.
UNAVAILABLE = (LedgerUnavailable, PersistenceError)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


class Tracked(Protocol):
    """A store that records the log positions it has taken in."""

    def positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The last offset taken in from each partition that has one."""
        ...


class Seal(Tracked, Protocol):
    """A sealer's store: its positions are the records sealed; it holds signed checkpoints."""

    def checkpoint(self, partition: int) -> dict[str, Any] | None:
        """The partition's latest checkpoint, if any."""
        ...

    def checkpoints(
        self, partition: int | None = None, *, unpublished: bool = False
    ) -> list[dict[str, Any]]:
        """Checkpoints (those not yet on the checkpoints topic, with unpublished)."""
        ...


@dataclass(frozen=True)
class Followed:
    """A view and the log it follows; `store` gives the view's current generation, and
    `seal` the same store when the view is a sealer's."""

    view: str
    log: EventLog
    store: Callable[[], Tracked]
    seal: Callable[[], Seal] | None = None


class _Read(Collector):
    """Reads its figures when scraped, so they are never stale and cost nothing between
    scrapes."""

    def __init__(
        self,
        followed: Sequence[Followed],
        loops: Callable[[], list[TrackedLoop[Any]]],
        dead_letters: Callable[[], int],
        alerts_raised: Callable[[], int],
        consumers_up: Callable[[], dict[str, bool]],
        cases_failing: Callable[[], dict[str, int]],
    ) -> None:
        self._followed = followed
        self._loops = loops
        self._dead_letters = dead_letters
        self._alerts_raised = alerts_raised
        self._consumers_up = consumers_up
        self._cases_failing = cases_failing

    def collect(self) -> Iterator[Metric]:
        yield from self._positions()
        loops = self._loops()
        applied = CounterMetricFamily(
            "sgl_view_applied_records",
            "Log records this process's consumer of the view has taken in, each batch in the "
            "view's own transaction (dead letters included): its rate is the apply rate",
            labels=["view"],
        )
        for loop in loops:
            applied.add_metric([loop.name], loop.records)
        yield applied
        signed = CounterMetricFamily(
            "sgl_seal_checkpoints_signed",
            "Checkpoints this process's sealer signed, per sealer and partition",
            labels=["view", "partition"],
        )
        for loop in loops:
            if isinstance(loop, Sealer):
                for partition, count in sorted(loop.signed.items()):
                    signed.add_metric([loop.name, str(partition)], count)
        yield signed
        up = GaugeMetricFamily(
            "sgl_consumer_up",
            "1 while a consumer this process runs is running, 0 once it has stopped",
            labels=["consumer"],
        )
        for consumer, running in self._consumers_up().items():
            up.add_metric([consumer], int(running))
        yield up
        failing = GaugeMetricFamily(
            "sgl_follower_cases_failing",
            "Cases whose last refresh raised, per follower of the case view (clocks, alerts)",
            labels=["view"],
        )
        for view, count in self._cases_failing().items():
            failing.add_metric([view], count)
        yield failing
        yield CounterMetricFamily(
            "sgl_dead_letters",
            "Records the case-state consumer of this process set aside: not valid events, "
            "event_ids reused for other bytes, events that failed to apply",
            value=self._dead_letters(),
        )
        yield CounterMetricFamily(
            "sgl_alerts_raised",
            "Alerts published on the alerts feed (by any alerter of this ledger)",
            value=_or_nan(self._alerts_raised),
        )

    def _positions(self) -> Iterator[Metric]:
        """Each view's lag, and each sealer's position and checkpoints, from the view's tracked
        positions and the log's end offsets (asked once per log per scrape)."""
        lag = GaugeMetricFamily(
            "sgl_consumer_lag_records",
            "Records on the log not yet applied, per view (all partitions)",
            labels=["view"],
        )
        by_partition = GaugeMetricFamily(
            "sgl_consumer_partition_lag_records",
            "Records on the log not yet applied, per view and partition",
            labels=["view", "partition"],
        )
        sealed = GaugeMetricFamily(
            "sgl_seal_records",
            "Records sealed in each partition's Merkle tree (the next offset to seal)",
            labels=["view", "partition"],
        )
        checkpointed = GaugeMetricFamily(
            "sgl_seal_checkpointed_records",
            "Records the partition's latest signed checkpoint covers (its size)",
            labels=["view", "partition"],
        )
        unpublished = GaugeMetricFamily(
            "sgl_seal_checkpoints_unpublished",
            "Checkpoints signed but not yet on the checkpoints topic",
            labels=["view"],
        )
        ends: dict[int, dict[int, int] | None] = {}
        for followed in self._followed:
            key = id(followed.log)
            if key not in ends:
                ends[key] = _ends(followed.log)
            log_ends = ends[key]
            try:
                if log_ends is None:
                    raise LedgerUnavailable(f"the end offsets of {followed.log.topic}")
                done = followed.store().positions(followed.log.topic, list(log_ends))
                behind = {p: end - (done.get(p, -1) + 1) for p, end in log_ends.items()}
                seal = followed.seal() if followed.seal is not None else None
                signed = {} if seal is None else _checkpointed(seal, list(log_ends))
                waiting = None if seal is None else len(seal.checkpoints(unpublished=True))
            except UNAVAILABLE:
                lag.add_metric([followed.view], math.nan)
                continue
            lag.add_metric([followed.view], sum(behind.values()))
            for partition, count in sorted(behind.items()):
                by_partition.add_metric([followed.view, str(partition)], count)
            if waiting is None:
                continue
            for partition in sorted(log_ends):
                sealed.add_metric([followed.view, str(partition)], done.get(partition, -1) + 1)
            for partition, size in sorted(signed.items()):
                checkpointed.add_metric([followed.view, str(partition)], size)
            unpublished.add_metric([followed.view], waiting)
        yield from (lag, by_partition, sealed, checkpointed, unpublished)


def _ends(log: EventLog) -> dict[int, int] | None:
    """The log's end offsets, or None while it is unavailable."""
    try:
        return log.end_offsets()
    except LedgerUnavailable:
        return None


def _checkpointed(seal: Seal, partitions: Sequence[int]) -> dict[int, int]:
    """Per partition with a signed checkpoint, the size of the latest."""
    latest = {p: seal.checkpoint(p) for p in partitions}
    return {p: int(c["size"]) for p, c in latest.items() if c is not None}


def _or_nan(read: Callable[[], int]) -> float:
    """A figure read from the log, or NaN while the log is unavailable: the scrape still
    answers with every other metric."""
    try:
        return read()
    except LedgerUnavailable:
        return math.nan


class Metrics:
    """The metrics one API process exposes at /metrics."""

    def __init__(
        self,
        followed: Sequence[Followed],
        dead_letters: Callable[[], int] = lambda: 0,
        alerts_raised: Callable[[], int] = lambda: 0,
        consumers_up: Callable[[], dict[str, bool]] = dict,
        cases_failing: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.registry = CollectorRegistry()
        self._loops: list[TrackedLoop[Any]] = []
        self.appended = Counter(
            "sgl_events_total",
            "Events answered by the append path, by status",
            ["status"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "sgl_rejects_total",
            "Requests to POST /v1/events refused with a problem, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.server_errors = Counter(
            "sgl_server_errors_total",
            "Requests answered 500 because something failed unexpectedly, by route template",
            ["route"],
            registry=self.registry,
        )
        self.unadmitted = Counter(
            "sgl_unadmitted_total",
            "Requests refused before the route's rule applies (401 no valid credential, 429 "
            "over the rate limit), which are not on the access log, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sgl_request_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.visible = Histogram(
            "sgl_publish_to_visible_seconds",
            "From the log's append time of the newest record of a batch to the batch "
            "committed in the view, per view",
            ["view"],
            buckets=VISIBLE_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(
            _Read(
                followed,
                lambda: list(self._loops),
                dead_letters,
                alerts_raised,
                consumers_up,
                cases_failing,
            )
        )

    def watch(self, loop: TrackedLoop[Any]) -> None:
        """Report a consumer loop this process runs: records applied, checkpoints signed, and
        each batch's publish-to-visible latency (one observation per batch)."""
        visible = self.visible.labels(loop.name)

        def observe(records: Sequence[LogRecord]) -> None:
            newest = max(record.appended_at for record in records)
            # Kafka stamps the broker's clock (LogAppendTime): a clock behind this host's must
            # not make a negative latency.
            visible.observe(max(0.0, time.time() - newest.timestamp()))

        loop.observers.append(observe)
        self._loops.append(loop)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


def followed_by(container: Container) -> list[Followed]:
    """Each view of the ledger with the log it follows: lag and sealer positions are read from
    the view's own positions at scrape time (no loop needed, so every process shows them)."""
    return [
        Followed(container.views.name, container.log, container.views.current),
        Followed(container.clocks.name, container.log, container.clocks.current),
        *(
            [Followed(container.alerts.name, container.log, container.alerts.current)]
            if container.settings.alerter == "on"
            else []
        ),
        *(
            Followed(seal.name, log, seal.current, seal.current)
            for seal, log in (
                (container.seal, container.log),
                (container.access_seal, container.access_log),
            )
        ),
        Followed(container.access_index.name, container.access_log, container.access_index.current),
        Followed(container.notes_index.name, container.notes_log, container.notes_index.current),
    ]


def loop_metrics(
    container: Container, loops: Sequence[TrackedLoop[Any]], threads: Mapping[str, threading.Thread]
) -> Metrics:
    """The metrics of a process running these consumer loops (each in its thread, by loop
    name) and no API: the ledger's figures read at scrape time, and the loops' own."""
    metrics = Metrics(
        followed_by(container),
        dead_letters=lambda: sum(
            loop.dead_lettered for loop in loops if isinstance(loop, ProjectionRunner)
        ),
        alerts_raised=lambda: sum(container.alerts_log.end_offsets().values()),
        consumers_up=lambda: {name: thread.is_alive() for name, thread in threads.items()},
        cases_failing=lambda: {
            loop.name: len(loop.failing) for loop in loops if isinstance(loop, CaseFollower)
        },
    )
    for loop in loops:
        metrics.watch(loop)
    return metrics


@contextmanager
def metrics_endpoint(metrics: Metrics, host: str, port: int) -> Iterator[str | None]:
    """Serve the metrics at http://host:port/metrics while the block runs (every path answers
    them); yields that address, or None when port is 0 (no endpoint) or the port is taken.

    A port taken is logged (`metrics.unavailable`) and the block runs without an endpoint: a
    consumer keeps the ledger's views current, which matters more than its figures."""
    if port == 0:
        yield None
        return
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        log.warning(
            "metrics.unavailable",
            address=f"{host}:{port}",
            reason=exc.strerror,
            hint="give each process on one host its own SGL_METRICS_PORT (0 for none)",
        )
        yield None
        return
    address = f"http://{host}:{server.server_port}/metrics"
    log.info("metrics.listening", address=address)
    try:
        yield address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class RequestMetrics:
    """ASGI middleware: times every request by its route template, and counts the problems
    POST /v1/events answers as rejected events."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; observe its status, media type and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500, "problem": False}

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["problem"] = (b"content-type", PROBLEM.encode()) in [
                    (k.lower(), v) for k, v in message.get("headers", [])
                ]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        except Exception:
            # The app's last handler answers it with a 500 problem, outside this middleware.
            answer.update(status=500, problem=True)
            raise
        finally:
            route = route_template(scope)
            method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
            if answer["status"] == 500:
                self.metrics.server_errors.labels(route).inc()
            if answer["status"] in UNADMITTED and answer["problem"]:
                self.metrics.unadmitted.labels(str(answer["status"])).inc()
            if route == EVENTS_PATH and method == "POST" and answer["problem"]:
                self.metrics.rejected.labels(str(answer["status"])).inc()


def route_template(scope: Scope) -> str:
    """The route a request matched, as its template (never the raw path, which holds ids)."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    if "endpoint" in scope:
        # A mounted app (the documentation's assets): the mount, not the file asked for.
        return f"{scope.get('root_path', '')}/{{path}}"
    return UNMATCHED
