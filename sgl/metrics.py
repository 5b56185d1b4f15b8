"""Prometheus metrics for the API process: appends, rejects, dead letters, consumer lag."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _Lag(Collector):
    """Reads each view's lag when scraped, so the figure is never stale."""

    def __init__(self, lags: dict[str, Callable[[], int]]) -> None:
        self._lags = lags

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "sgl_consumer_lag_records",
            "Records on the log not yet applied, per view",
            labels=["view"],
        )
        for view, lag in self._lags.items():
            gauge.add_metric([view], lag())
        yield gauge


class Metrics:
    """The counters one API process exposes at /metrics."""

    def __init__(self, lags: dict[str, Callable[[], int]]) -> None:
        self.registry = CollectorRegistry()
        self.appended = Counter(
            "sgl_events_total",
            "Events answered by the append path, by status",
            ["status"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "sgl_rejects_total",
            "Requests answered with a problem, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.registry.register(_Lag(lags))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
