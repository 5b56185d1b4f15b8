"""/metrics: request latency by route template, rejected events (POST /v1/events only), dead
letters and alerts raised; rejected events are logged by id and rule, never content."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from ledger.errors import LedgerUnavailable
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from sgl.bootstrap import bootstrap
from sgl.logs import configure_logging
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, meeting_held, new_case_id


def samples(http: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics shows, by name and labels."""
    text = http.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def post(http: httpx.Client, body: bytes, media: str = "application/json") -> httpx.Response:
    return http.post("/v1/events", content=body, headers={"content-type": media})


def test_latency_is_by_route_template_and_only_refused_events_count_as_rejected(
    http: httpx.Client,
) -> None:
    """A read's 404 is timed under its route's template, never its raw path, and is not a
    rejected event; POST /v1/events problems are, by status."""
    case_id = new_case_id()
    for _ in range(2):
        assert http.get(f"/v1/cases/{case_id}").status_code == 404
    assert http.get(f"/v1/cases/{case_id}?basis=sideways").status_code == 422
    assert http.get("/no/such/route").status_code == 404
    assert post(http, orjson.dumps(make_event())).status_code == 201
    assert post(http, orjson.dumps({"type": "nonsense"})).status_code == 422
    assert post(http, b"{not json").status_code == 400
    assert post(http, b"x", media="text/plain").status_code == 415
    found = samples(http)
    route = (("method", "GET"), ("route", "/v1/cases/{case_id}"))
    assert found[("sgl_request_seconds_count", route)] == 3
    assert found[("sgl_request_seconds_count", (("method", "POST"), ("route", "/v1/events")))] == 4
    assert found[("sgl_request_seconds_count", (("method", "GET"), ("route", "unmatched")))] == 1
    assert not [key for key in found if case_id in str(key)], "a raw path became a label"
    rejects = {
        dict(labels)["status"]: v for (n, labels), v in found.items() if n == "sgl_rejects_total"
    }
    assert rejects == {"400": 1, "415": 1, "422": 1}
    assert found[("sgl_events_total", (("status", "accepted"),))] == 1


def test_dead_letters_are_counted(make_settings: Callable[..., Settings]) -> None:
    """A record on the log that is not an event shows in sgl_dead_letters_total."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container).start()
    try:
        with server.client(timeout=10) as http:
            assert samples(http)[("sgl_dead_letters_total", ())] == 0
            assert isinstance(container.log, SQLiteEventLog)
            container.log.append_raw(b"\x00 not json", "CASE-X1")
            container.log.append_raw(orjson.dumps({**make_event(), "type": "x.y"}), "CASE-X1")
            wait_for(
                lambda: samples(http)[("sgl_dead_letters_total", ())] == 2,
                what="two dead letters counted",
            )
    finally:
        server.stop()
        container.close()


def test_alerts_raised_are_counted(make_settings: Callable[..., Settings]) -> None:
    """An alert the alerter raises shows in sgl_alerts_raised_total."""
    container = with_agencies(bootstrap(make_settings("sqlite", alerter="on")))
    server = LiveServer(container).start()
    try:
        with server.client(timeout=10) as http:
            assert samples(http)[("sgl_alerts_raised_total", ())] == 0
            case_id = new_case_id()
            absent_gp = meeting_held(
                case_id,
                "initial_cp_conference",
                ["la-childrens-social-care", "gp-practice-east"],
                ["la-childrens-social-care"],
            )
            assert post(http, orjson.dumps(absent_gp)).status_code == 201
            wait_for(
                lambda: samples(http)[("sgl_alerts_raised_total", ())] == 1,
                what="the alert counted",
            )
    finally:
        server.stop()
        container.close()


def test_a_scrape_while_the_log_is_down_answers_nan_for_what_the_log_gives(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lag and alerts raised are read from the log: NaN while it is unavailable, and the
    rest of the scrape still answers."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container, run_consumer=False).start()

    def down() -> dict[int, int]:
        raise LedgerUnavailable("the log is down")

    try:
        monkeypatch.setattr(container.log, "end_offsets", down)
        monkeypatch.setattr(container.alerts_log, "end_offsets", down)
        monkeypatch.setattr(container.access_log, "end_offsets", down)
        monkeypatch.setattr(container.notes_log, "end_offsets", down)
        with server.client(timeout=10) as http:
            assert http.get("/metrics").status_code == 200
            found = samples(http)
    finally:
        server.stop()
        container.close()
    lags = {k: v for k, v in found.items() if k[0] == "sgl_consumer_lag_records"}
    assert {dict(labels)["view"] for _, labels in lags} >= {
        "case_state",
        "clocks",
        "seal",
        "access_seal",
        "access_index",
        "notes_index",
    }
    assert all(math.isnan(v) for v in lags.values())
    assert math.isnan(found[("sgl_alerts_raised_total", ())])
    assert found[("sgl_dead_letters_total", ())] == 0


def test_a_method_no_route_knows_is_labelled_other(http: httpx.Client) -> None:
    """Whatever token a client sends as its method, the label is one of a few values."""
    assert http.request("BREW", "/v1/cases/CASE-M1").status_code == 405
    assert http.request("brew", "/v1/cases/CASE-M1").status_code == 405
    methods = {dict(labels).get("method") for (name, labels) in samples(http)}
    assert "BREW" not in methods and "brew" not in methods
    route = (("method", "other"), ("route", "/v1/cases/{case_id}"))
    assert samples(http)[("sgl_request_seconds_count", route)] == 2


@pytest.fixture
def json_logs(make_settings: Callable[..., Settings]) -> Iterator[Settings]:
    """JSON logs at info level, with module loggers made to take the configuration afresh."""
    settings = make_settings("sqlite", log_format="json", log_level="info")
    configure_logging(settings)
    for module in list(sys.modules.values()):
        proxy = getattr(module, "log", None)
        if isinstance(proxy, structlog._config.BoundLoggerLazyProxy):
            proxy.__dict__.pop("bind", None)
    yield settings
    structlog.reset_defaults()


def test_rejected_events_are_logged_by_id_and_rule_never_content(
    json_logs: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused event is logged with its event_id, pointer and rule; the value is not."""
    container = with_agencies(bootstrap(json_logs))
    server = LiveServer(container, run_consumer=False).start()
    try:
        good, bad, extra = make_event(), make_event(), make_event()
        bad["payload"]["contact_type"] = "PRIVATE-VALUE-9Q"
        extra["payload"]["PRIVATE-NAME-7K"] = "x"
        response = httpx.post(
            server.url + "/v1/events",
            content=orjson.dumps([good, bad, extra]),
            headers={"content-type": "application/json"}
            | server.headers("publisher", good["agency"]),
        )
        assert response.status_code == 422
        # The publisher is told which field broke which rule (its own field names included),
        # never the values it sent.
        assert "/payload/contact_type" in response.text, "the publisher is told what was wrong"
        assert "PRIVATE-VALUE-9Q" not in response.text
        assert "PRIVATE-NAME-7K" in response.text
    finally:
        server.stop()
        container.close()
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    (rejected,) = [line for line in lines if line["event"] == "events.rejected"]
    assert rejected["status"] == 422 and rejected["events"] == 3
    assert rejected["event_ids"] == [good["event_id"], bad["event_id"], extra["event_id"]]
    (named,) = [b for b in rejected["broken"] if b["item"] == 2]
    assert rejected["broken"] == [
        {"pointer": "/payload/contact_type", "rule": "enum", "item": 1},
        named,
    ]
    # A property name the publisher sent is content: the pointer stops at its parent.
    assert named["pointer"] == "/payload" and named["rule"].endswith("Properties")
    assert "PRIVATE-VALUE-9Q" not in orjson.dumps(lines).decode()
    assert "PRIVATE-NAME-7K" not in orjson.dumps(lines).decode()
