"""Prometheus metrics for the API process: appends, rejected events, server errors, request
latency, dead letters, alerts raised, consumer lag, consumers up, and follower cases failing."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ledger.errors import LedgerUnavailable
from sgl.responses import MEDIA_TYPE as PROBLEM

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

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


class _Read(Collector):
    """Reads its figures when scraped, so they are never stale."""

    def __init__(
        self,
        lags: dict[str, Callable[[], int]],
        dead_letters: Callable[[], int],
        alerts_raised: Callable[[], int],
        consumers_up: Callable[[], dict[str, bool]],
        cases_failing: Callable[[], dict[str, int]],
    ) -> None:
        self._lags = lags
        self._dead_letters = dead_letters
        self._alerts_raised = alerts_raised
        self._consumers_up = consumers_up
        self._cases_failing = cases_failing

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "sgl_consumer_lag_records",
            "Records on the log not yet applied, per view",
            labels=["view"],
        )
        for view, lag in self._lags.items():
            gauge.add_metric([view], _or_nan(lag))
        yield gauge
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
        lags: dict[str, Callable[[], int]],
        dead_letters: Callable[[], int] = lambda: 0,
        alerts_raised: Callable[[], int] = lambda: 0,
        consumers_up: Callable[[], dict[str, bool]] = dict,
        cases_failing: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.registry = CollectorRegistry()
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
        self.registry.register(
            _Read(lags, dead_letters, alerts_raised, consumers_up, cases_failing)
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


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
