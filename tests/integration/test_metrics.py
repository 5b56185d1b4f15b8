"""/metrics: request latency by route template, rejected events (POST /v1/events only), dead
letters, alerts raised, lag per view and partition, publish-to-visible latency, records applied
per view and the sealer's position; rejected events are logged by id and rule, never content."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
import structlog
from eventsourcing.persistence import PersistenceError
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


def series(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, *labels: str
) -> dict[tuple[str, ...], float]:
    """The samples of one metric, by the values of the labels named (in that order)."""
    return {
        tuple(dict(labels_of)[label] for label in labels): value
        for (n, labels_of), value in found.items()
        if n == name
    }


def test_lag_is_per_view_and_partition_then_applied_records_and_latency_follow_the_consumer(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    """Before any consumer runs, each view's lag per partition is the log's end offset there
    (summing to the view's lag); once the consumers run, every partition's lag is 0, the
    records each view took in are counted, and each batch's publish-to-visible latency is
    observed (seconds, not the milliseconds of the log's clock)."""
    container = with_agencies(bootstrap(make_settings(backend)))
    try:
        idle = LiveServer(container, run_consumer=False).start()
        try:
            with idle.client(timeout=10) as http:
                batch = [make_event() for _ in range(12)]
                assert post(http, orjson.dumps(batch)).status_code == 201
                found = samples(http)
        finally:
            idle.stop()
        ends = container.log.end_offsets()
        by_partition = series(found, "sgl_consumer_partition_lag_records", "view", "partition")
        for view in ("case_state", "clocks", "seal"):
            lags = {p: v for (name, p), v in by_partition.items() if name == view}
            assert lags == {str(p): end for p, end in ends.items()}
            assert series(found, "sgl_consumer_lag_records", "view")[(view,)] == sum(ends.values())
        assert not [key for key in found if any(e["case_id"] in str(key) for e in batch)]

        server = LiveServer(container).start()
        try:
            with server.client(timeout=10) as http:

                def caught_up() -> bool:
                    lags = series(
                        samples(http), "sgl_consumer_partition_lag_records", "view", "partition"
                    )
                    return bool(lags) and all(v == 0 for v in lags.values())

                wait_for(caught_up, what="every view caught up on every partition")
                found = samples(http)
        finally:
            server.stop()
    finally:
        container.close()
    applied = series(found, "sgl_view_applied_records_total", "view")
    assert applied[("case_state",)] == sum(ends.values())
    assert applied[("seal",)] == sum(ends.values())
    visible = series(found, "sgl_publish_to_visible_seconds_count", "view")
    assert visible[("case_state",)] >= 1 and visible[("seal",)] >= 1
    within = series(found, "sgl_publish_to_visible_seconds_bucket", "view", "le")
    assert within[("case_state", "60.0")] == visible[("case_state",)]
    assert series(found, "sgl_publish_to_visible_seconds_sum", "view")[("case_state",)] > 0


def test_the_sealer_shows_its_position_and_checkpoints_per_partition(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    """Records sealed per partition reach the log's end; the latest checkpoint's size, the
    checkpoints this process signed and those not yet published agree with the seal."""
    container = with_agencies(bootstrap(make_settings(backend, checkpoint_every=4)))
    server = LiveServer(container).start()
    try:
        with server.client(timeout=10) as http:
            assert post(http, orjson.dumps([make_event() for _ in range(15)])).status_code == 201
            ends = container.log.end_offsets()
            sealed = {("seal", str(p)): float(end) for p, end in ends.items()}

            def settled() -> bool:
                found = samples(http)
                records = series(found, "sgl_seal_records", "view", "partition")
                waiting = series(found, "sgl_seal_checkpoints_unpublished", "view")
                return all(records.get(k) == v for k, v in sealed.items()) and waiting == {
                    ("seal",): 0,
                    ("access_seal",): 0,
                }

            wait_for(settled, what="the sealer at the log's end, its checkpoints published")
            found = samples(http)
    finally:
        server.stop()
    try:
        checkpointed = series(found, "sgl_seal_checkpointed_records", "view", "partition")
        signed = series(found, "sgl_seal_checkpoints_signed_total", "view", "partition")
        for partition in ends:
            checkpoints = container.seal.checkpoints(partition)
            key = ("seal", str(partition))
            if not checkpoints:
                assert key not in checkpointed and key not in signed
                continue
            assert checkpointed[key] == checkpoints[-1]["size"] <= ends[partition]
            assert signed[key] == len(checkpoints)
        assert sum(signed.values()) >= sum(end // 4 for end in ends.values()) > 0
        assert ("access_seal",) in series(found, "sgl_seal_checkpoints_unpublished", "view")
    finally:
        container.close()


def test_a_store_that_does_not_answer_leaves_its_lag_nan_and_the_log_is_asked_once(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view whose store fails shows NaN lag and no partitions, the others answer; one scrape
    asks each log for its end offsets once, however many views follow it."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container, run_consumer=False).start()
    asked: list[int] = []
    end_offsets = container.log.end_offsets

    def counted() -> dict[int, int]:
        asked.append(1)
        return end_offsets()

    def failing(topic: str, partitions: object) -> dict[int, int]:
        raise PersistenceError("the database is restarting")

    try:
        monkeypatch.setattr(container.log, "end_offsets", counted)
        monkeypatch.setattr(container.view, "positions", failing)
        with server.client(timeout=10) as http:
            found = samples(http)
        ends = end_offsets()
    finally:
        server.stop()
        container.close()
    assert len(asked) == 1
    assert math.isnan(series(found, "sgl_consumer_lag_records", "view")[("case_state",)])
    by_partition = series(found, "sgl_consumer_partition_lag_records", "view", "partition")
    assert not [key for key in by_partition if key[0] == "case_state"]
    assert by_partition[("clocks", "0")] == ends[0] > 0


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
