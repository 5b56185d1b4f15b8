"""Every read on the record: each read of case data the tests make is found in the access log,
with its caller, purpose, route, parameters and outcome; a read whose record cannot be
appended is refused (503) with no case data; `sgl verify` verifies the access log's trees and
checkpoints and catches a tampered access record."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from ledger.settings import Settings
from projections.access_fhir import BALP
from sgl.bootstrap import Container, build_log
from sgl.cli import cli
from sgl.web import routes_cases
from tests.agencies import with_agencies
from tests.conftest import LiveServer, topic_env, unrecorded_reads, wait_for
from tests.credentials import INQUIRY_AGENCY, PURPOSE, post_by_caller
from tests.factories import case_events, new_case_id
from tests.integration.test_web_session import sign_in


@pytest.fixture
def ledger(container: Container) -> Container:
    """A ledger with the test agencies."""
    return with_agencies(container)


@pytest.fixture
def server(ledger: Container) -> Iterator[LiveServer]:
    """The real app on loopback, its consumers running."""
    served = LiveServer(ledger).start()
    yield served
    served.stop()


def a_case(server: LiveServer) -> tuple[str, list[dict[str, Any]]]:
    """A case published over HTTP, its events in the case view."""
    case_id = new_case_id()
    events = case_events(case_id)
    with server.client() as http:
        for posted in post_by_caller(http, events):
            assert posted.status_code in (200, 201, 207), posted.text
        # The case view follows the log: wait until the case answers.
        wait_for(
            lambda: http.get(f"/v1/cases/{case_id}").status_code == 200,
            what="the case to be in the case view",
        )
    return case_id, events


def report(server: LiveServer, http: httpx.Client, case_id: str, **params: str) -> httpx.Response:
    """The case's access report, asked by an auditor."""
    answer = http.get(
        f"/v1/cases/{case_id}/access-log",
        params=params,
        headers=server.headers("auditor", purpose="audit"),
    )
    assert answer.status_code == 200, answer.text
    return answer


def test_every_read_is_found_in_the_access_log(server: LiveServer) -> None:
    case_id, _ = a_case(server)
    reads = [
        (f"/v1/cases/{case_id}", {}),
        (f"/v1/cases/{case_id}/history", {"as_of": "2031-01-31"}),
        (f"/v1/cases/{case_id}/chronology", {"format": "csv", "type": "injury.observed"}),
        (f"/v1/cases/{case_id}/sightings", {}),
        (f"/v1/cases/{new_case_id()}", {}),  # another case: not in this one's report
    ]
    with server.client() as http:
        before = report(server, http, case_id).json()["records"]
        answered = []
        for path, params in reads:
            answer = http.get(path, params=params)
            answered.append(answer)
        # A read refused for its purpose is on the record too (403); a request with no valid
        # credential (401) is not: anyone could flood the sealed log with them.
        unstated = http.get(
            f"/v1/cases/{case_id}/history", headers=server.headers("inquiry", purpose=None)
        )
        anonymous = httpx.get(f"{server.url}/v1/cases/{case_id}/history", timeout=30)
        forged = httpx.get(
            f"{server.url}/v1/cases/{case_id}/history",
            headers={"Authorization": "Bearer sgl_000000000000_" + "x" * 43},
            timeout=30,
        )
        metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
        found = report(server, http, case_id).json()
        # The report's own read (the one before these) is on the record too.
        later = report(server, http, case_id).json()
    made = [(r.request.url.path, r) for r in answered[:-1]]
    records = found["records"][len(before) :]
    assert found["behind"] == 0
    assert found["count"] == len(found["records"])
    # The first report read, then each read of this case in order, then the refused one.
    assert [r["route"] for r in records] == [
        "/v1/cases/{case_id}/access-log",
        "/v1/cases/{case_id}",
        "/v1/cases/{case_id}/history",
        "/v1/cases/{case_id}/chronology",
        "/v1/cases/{case_id}/sightings",
        "/v1/cases/{case_id}/history",
    ]
    assert [a.status_code for _, a in made] == [200, 200, 200, 200]
    asked = records[0]
    assert (asked["caller"]["role"], asked["purpose"]) == ("auditor", "audit")
    for record, (path, answer) in zip(records[1:5], made, strict=True):
        assert record["case_id"] == case_id
        assert record["outcome"]["status"] == answer.status_code
        assert record["request_id"] == answer.headers["X-Request-Id"]
        assert record["method"] == "GET"
        assert record["caller"]["agency"] == INQUIRY_AGENCY
        assert record["caller"]["role"] == "inquiry"
        assert record["purpose"] == PURPOSE
        assert path.startswith(f"/v1/cases/{case_id}")
    history, chronology = records[2], records[3]
    assert history["as_of"] == "2031-01-31"
    assert (unstated.status_code, anonymous.status_code, forged.status_code) == (403, 401, 401)
    assert records[5]["outcome"]["status"] == 403
    assert (records[5]["caller"]["role"], records[5]["purpose"]) == ("inquiry", None)
    assert all(r["outcome"]["status"] != 401 for r in found["records"])
    assert 'sgl_unadmitted_total{status="401"} 2.0' in metrics
    assert ["type", "injury.observed"] in chronology["query"]
    assert len(later["records"]) == len(found["records"]) + 1


def test_the_report_renders_as_csv_and_as_a_fhir_bundle(server: LiveServer) -> None:
    case_id, _ = a_case(server)
    with server.client() as http:
        http.get(f"/v1/cases/{case_id}/history")
        document = report(server, http, case_id).json()
        table = report(server, http, case_id, format="csv")
        bundle = report(server, http, case_id, format="fhir")
    assert table.headers["content-type"].startswith("text/csv")
    rows = table.text.splitlines()
    assert rows[0].startswith("recorded_at,agency,role,person,token_id")
    assert len(rows) == 1 + len(document["records"]) + 1  # and the JSON report's own read
    assert bundle.headers["content-type"] == "application/fhir+json"
    fhir = bundle.json()
    assert fhir["resourceType"] == "Bundle"
    assert fhir["total"] == len(rows) - 1 + 1  # and the CSV report's own read
    events = [e["resource"] for e in fhir["entry"]]
    assert {e["resourceType"] for e in events} == {"AuditEvent"}
    for event in events:
        assert event["entity"][0]["what"]["identifier"]["value"] == case_id
        assert event["type"]["code"] == "rest"
        assert [a["requestor"] for a in event["agent"]] == [False, True, False]
        assert [a["type"]["coding"][0]["code"] for a in event["agent"] if "type" in a] == [
            "110153",
            "110152",
        ]


def shown_on(page: httpx.Response) -> list[str]:
    """The case ids of the rows of a case list page, in its order."""
    assert page.status_code == 200, page.text
    return re.findall(r'<tr data-case="([^"]+)"', page.text)


def test_a_case_list_page_is_in_the_report_of_each_case_it_showed(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = sorted(a_case(server)[0] for _ in range(3))
    care = case_events(made[0])[0]["agency"]
    monkeypatch.setattr(routes_cases, "PAGE_SIZE", 2)
    with server.browser() as browser:
        assert sign_in(browser, server.credentials.token("inquiry"), PURPOSE).status_code == 303
        first = browser.get("/cases")
        second = browser.get("/cases", params={"page": "2"})
        searched = browser.get("/cases", params={"q": made[1]})
    with server.browser() as browser:
        assert sign_in(browser, server.credentials.token("practitioner", care)).status_code == 303
        own = browser.get("/cases")
    # The ledger holds these three cases only: two on the first page, one on the second.
    assert (shown_on(first), shown_on(second), shown_on(searched)) == (
        made[:2],
        made[2:],
        made[1:2],
    )
    assert shown_on(own) == made[:2]
    views = {first: made[:2], second: made[2:], searched: made[1:2], own: made[:2]}
    with server.client() as http:
        reports = {case_id: report(server, http, case_id).json() for case_id in made}
        tables = {case_id: report(server, http, case_id, format="csv").text for case_id in made}
        bundles = {case_id: report(server, http, case_id, format="fhir").json() for case_id in made}
        as_care = http.get(
            f"/v1/cases/{made[0]}/access-log", headers=server.headers("practitioner", care)
        )
    for view, cases in views.items():
        request_id = view.headers["X-Request-Id"]
        for case_id in made:
            found = [r for r in reports[case_id]["records"] if r["request_id"] == request_id]
            rows = [row for row in tables[case_id].splitlines() if request_id in row]
            events = {e["resource"]["id"]: e["resource"] for e in bundles[case_id]["entry"]}
            if case_id not in cases:
                # A case on another page, or searched out, was not shown: not in its report.
                assert (found, rows) == ([], []), (case_id, view.url)
                continue
            (record,) = found
            assert (record["route"], record["method"], record["case_id"]) == ("/cases", "GET", None)
            assert record["cases_shown"] == cases
            assert record["outcome"]["status"] == 200
            assert record["query"] == [[k, v] for k, v in view.url.params.multi_items()]
            assert len(rows) == 1 and ",/cases," in rows[0]
            event = events[record["access_id"]]
            patients = [e for e in event["entity"] if e.get("role", {}).get("code") == "1"]
            assert [p["what"]["identifier"]["value"] for p in patients] == [case_id]
            profile = "PatientQuery" if record["query"] else "PatientRead"
            assert event["meta"]["profile"] == [f"{BALP}{profile}"]
    callers = {
        r["request_id"]: (r["caller"]["agency"], r["caller"]["role"], r["purpose"])
        for r in reports[made[0]]["records"]
    }
    assert callers[first.headers["X-Request-Id"]] == (INQUIRY_AGENCY, "inquiry", PURPOSE)
    assert callers[own.headers["X-Request-Id"]] == (care, "practitioner", None)
    # A practitioner's report of the case has its own agency's list view, and no other's.
    assert as_care.status_code == 200, as_care.text
    theirs = {r["request_id"] for r in as_care.json()["records"]}
    assert own.headers["X-Request-Id"] in theirs
    assert first.headers["X-Request-Id"] not in theirs


@contextmanager
def unwritable(ledger: Container) -> Iterator[None]:
    """The access log's store made unwritable: the embedded file's connection closed, or the
    Kafka log's producer stopped; a working one is put back after."""
    ledger.access_log.close()
    try:
        yield
    finally:
        ledger.access_log = build_log(ledger.settings, "access")


def test_a_read_whose_record_cannot_be_appended_is_refused(ledger: Container) -> None:
    served = LiveServer(ledger).start()
    try:
        case_id, events = a_case(served)
        with unwritable(ledger), served.client() as http:
            answer = http.get(f"/v1/cases/{case_id}/history")
            health = http.get("/healthz")
    finally:
        served.stop()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert answer.json()["type"] == "urn:sgl:problem:access-unrecorded"
    assert not any(e["event_id"] in answer.text for e in events)
    assert case_id not in answer.text
    assert health.status_code == 200  # a route not recorded is not held up


def _env(settings: Settings) -> dict[str, str]:
    """The environment of a command on this ledger's data directory and topics."""
    return {
        "SGL_DATA_DIR": str(settings.data_dir),
        **topic_env(settings),
    }


@pytest.mark.parametrize("backend", ["sqlite"])
def test_verify_verifies_the_access_log_and_catches_a_tampered_record(
    server: LiveServer, ledger: Container, tmp_path: Path
) -> None:
    case_id, _ = a_case(server)
    with server.client() as http:
        for _ in range(3):
            http.get(f"/v1/cases/{case_id}/history")
    with server.browser() as browser:
        sign_in(browser, server.credentials.token("inquiry"), PURPOSE)
        assert shown_on(browser.get("/cases")) == [case_id]
    server.stop()
    # Whatever the server's sealers left unsigned is signed now.
    ledger.sealer().run_until_caught_up(30)
    ledger.access_sealer().run_until_caught_up(30)
    env = _env(ledger.settings)
    ok = CliRunner().invoke(cli, ["verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "access log verified:" in ok.output
    # An access record's inclusion proof holds offline, like an event's.
    reader = ledger.access_log.reader({})
    try:
        (first,) = reader.poll(1, 5)
    finally:
        reader.close()
    access_id = orjson.loads(first.value or b"")["access_id"]
    saved = tmp_path / "proof.json"
    proof = CliRunner().invoke(cli, ["proof", "get", access_id, "--access"], env=env)
    assert proof.exit_code == 0, proof.output
    saved.write_text(proof.stdout)
    key = str(ledger.settings.signing_key_path.with_suffix(".pub"))
    held = CliRunner().invoke(cli, ["proof", "verify", str(saved), "--key", key], env=env)
    assert held.exit_code == 0 and "holds" in held.output, held.output
    sealed = sum(ledger.access_log.end_offsets().values())
    with sqlite3.connect(ledger.settings.access_log_db) as db:
        (position, value) = db.execute(
            "SELECT position, value FROM log ORDER BY position DESC LIMIT 1"
        ).fetchone()
        forged = orjson.loads(value)
        forged["purpose"] = "complaint"
        db.execute("UPDATE log SET value = ? WHERE position = ?", (orjson.dumps(forged), position))
    assert position == sealed - 1
    bad = CliRunner().invoke(cli, ["verify", "--json"], env=env)
    assert bad.exit_code == 1
    result = orjson.loads(bad.stdout)
    assert result["access_log"]["first"] == (
        f"partition 0, offset {position}: differs from the record as sealed"
    )
    assert result["problems"] == []  # the ledger itself holds


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sgl_access_log_prints_the_report(server: LiveServer, ledger: Container) -> None:
    case_id, _ = a_case(server)
    with server.client() as http:
        http.get(f"/v1/cases/{case_id}/sightings")
        expected = report(server, http, case_id).json()["count"] + 1
    server.stop()
    ledger.access_indexer().run_until_caught_up(30)
    env = _env(ledger.settings)
    table = CliRunner().invoke(cli, ["access-log", case_id, "--format", "csv"], env=env)
    assert table.exit_code == 0, table.output
    assert len(table.stdout.splitlines()) == 1 + expected
    document = CliRunner().invoke(cli, ["access-log", case_id, "--format", "json"], env=env)
    assert orjson.loads(document.stdout)["count"] == expected
    assert "not yet indexed" not in document.stderr


def test_a_proof_read_is_in_its_case_report(server: LiveServer) -> None:
    case_id, events = a_case(server)
    event_id = events[0]["event_id"]
    proofs: list[httpx.Response] = []
    with server.client() as http:

        def proved() -> bool:
            proofs.append(http.get(f"/v1/events/{event_id}/proof"))
            return proofs[-1].status_code == 200

        # The bundle is answered once the sealer's next checkpoint covers the event.
        wait_for(proved, timeout=30, every=0.5, what="the event to be in a checkpoint")
        records = report(server, http, case_id).json()["records"]
    read = [r for r in records if r["request_id"] == proofs[-1].headers["X-Request-Id"]]
    assert len(read) == 1
    assert read[0]["route"] == "/v1/events/{event_id}/proof"
    assert read[0]["case_id"] == case_id
    assert read[0]["path_params"] == {"event_id": event_id}
    assert read[0]["outcome"]["status"] == 200


def test_a_practitioner_sees_only_its_own_agencys_reads(server: LiveServer) -> None:
    case_id, events = a_case(server)
    care, hospital = events[0]["agency"], events[4]["agency"]
    assert care != hospital
    as_care = server.headers("practitioner", care)
    as_hospital = server.headers("practitioner", hospital)
    path = f"/v1/cases/{case_id}/history"
    with server.client() as http:
        reads = [
            http.get(path, headers=as_care),
            http.get(path, headers=as_hospital),
            http.get(path),  # the inquiry's
        ]
        assert [r.status_code for r in reads] == [200, 200, 200]
        seen = http.get(f"/v1/cases/{case_id}/access-log", headers=as_care)
        table = http.get(
            f"/v1/cases/{case_id}/access-log", params={"format": "csv"}, headers=as_care
        )
        everything = report(server, http, case_id).json()["records"]
    assert seen.status_code == 200, seen.text
    own = seen.json()["records"]
    assert {r["caller"]["agency"] for r in own} == {care}
    assert {r["request_id"] for r in own} >= {reads[0].headers["X-Request-Id"]}
    assert seen.json()["count"] == len(own)
    for record in own:
        assert record["caller"]["token_id"] is None and record["caller"]["address"] is None
    assert reads[1].headers["X-Request-Id"] not in seen.text
    assert reads[2].headers["X-Request-Id"] not in seen.text
    assert hospital not in table.text and INQUIRY_AGENCY not in table.text
    # The auditor sees every read, with its token id and network address.
    callers = {r["request_id"]: r["caller"] for r in everything}
    for read in reads:
        caller = callers[read.headers["X-Request-Id"]]
        assert caller["token_id"] and caller["address"] == "127.0.0.1"
    assert {care, hospital, INQUIRY_AGENCY} <= {c["agency"] for c in callers.values()}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_no_report_while_the_access_index_is_behind(ledger: Container) -> None:
    # No consumers: the access index takes in nothing, so the read below stays unindexed.
    served = LiveServer(ledger, run_consumer=False).start()
    case_id = new_case_id()
    try:
        with served.client() as http:
            http.get(f"/v1/cases/{case_id}")
            answer = http.get(
                f"/v1/cases/{case_id}/access-log",
                headers=served.headers("auditor", purpose="audit"),
            )
    finally:
        served.stop()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert answer.json()["type"] == "urn:sgl:problem:access-log-behind"
    printed = CliRunner().invoke(cli, ["access-log", case_id], env=_env(ledger.settings))
    assert printed.exit_code == 1
    assert "not yet indexed" in printed.output
    ledger.access_indexer().run_until_caught_up(30)
    caught_up = CliRunner().invoke(cli, ["access-log", case_id], env=_env(ledger.settings))
    assert caught_up.exit_code == 0, caught_up.output


def test_every_answered_read_of_the_tests_is_checked_against_the_access_log(
    server: LiveServer, ledger: Container
) -> None:
    """Each LiveServer, stopping on the embedded store, looks up every recorded read its
    clients were answered on the access log (tests/conftest.py): here, what it finds and
    what it would name missing."""
    case_id, _ = a_case(server)
    with server.client() as http:
        assert http.get(f"/v1/cases/{case_id}/history").status_code == 200
        assert http.get(f"/v1/cases/{new_case_id()}").status_code == 404
        assert http.get("/v1/agencies").status_code == 200
    reads = [a for a in server.answered if a[0] == "GET" and a[1].startswith("/v1/cases/")]
    assert len(reads) >= 2 and all(a[3] for a in reads)
    assert unrecorded_reads(server.answered, ledger) == []
    forged = ("GET", f"/v1/cases/{case_id}", 200, "not-a-request-the-server-saw")
    unrecorded = ("GET", "/v1/agencies", 200, "not-a-request-the-server-saw")
    assert unrecorded_reads([*server.answered, forged, unrecorded], ledger) == [forged]
