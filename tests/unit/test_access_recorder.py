"""The access recorder: a recorded read's record is appended before its response starts; a
read whose record cannot be appended is refused (503) and its body never leaves."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import anyio
import httpx
import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from ledger.errors import LedgerUnavailable
from ledger.log import PendingRecord
from projections.access_fhir import audit_event
from sgl.access_log import AccessRecorder
from sgl.access_rules import Rule
from sgl.identity import Access, Caller

CASE = "3f1c2a9e-5b7d-4c1e-8a2f-6d0b9e4c7a15"
OTHER = "8d4e7b21-0c9f-4a3b-9e6d-2f1a5c8b7e04"
SECRET = "the case's data"


CASE_RULE = Rule("case", frozenset({"inquiry"}), recorded=True)
OPEN_RULE = Rule("public", frozenset(), recorded=False)


class Journal:
    """An access log standing in for the real one: keeps what is appended, or fails."""

    topic = "access"

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.records: list[dict[str, Any]] = []
        self.fail = False
        self.appends = 0
        # How long an append takes (a disk sync, a broker's acknowledgement).
        self.takes = 0.0

    def append(self, records: Sequence[PendingRecord]) -> list[Any]:
        """Append, noting when (or fail as an unwritable store does)."""
        if self.fail:
            raise LedgerUnavailable("the access log is read-only")
        self.appends += 1
        time.sleep(self.takes)
        self.events.append("appended")
        self.records += [orjson.loads(r.value) for r in records]
        return []


def app_with(journal: Journal) -> FastAPI:
    """A small app whose authorization stand-in grants an inquiry team, recording case reads."""

    async def authorize(request: Request) -> None:
        caller = Caller("tok123", "test-inquiry-panel", "inquiry", person="reader-7")
        request.state.access = Access(caller, "practice-review")
        request.state.rule = CASE_RULE if request.url.path.startswith("/v1/cases") else OPEN_RULE

    app = FastAPI(dependencies=[Depends(authorize)])

    @app.get("/v1/cases")
    def listed(request: Request, q: str | None = None) -> list[str]:
        request.state.cases_shown = [CASE, OTHER]
        return [CASE, OTHER]

    @app.get("/v1/cases/{case_id}")
    def case(case_id: str, as_of: str | None = None) -> dict[str, str]:
        return {"case_id": case_id, "secret": SECRET}

    @app.get("/v1/cases/{case_id}/stream")
    def stream(case_id: str) -> StreamingResponse:
        return StreamingResponse(iter([SECRET.encode(), b"!"]))

    @app.get("/v1/cases/{case_id}/broken")
    def broken(case_id: str) -> None:
        raise RuntimeError("a bug")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(AccessRecorder, access_log=journal)
    return app


class Client:
    """Sends requests to the app in process, noting in the journal when each response starts."""

    def __init__(self, journal: Journal) -> None:
        app = app_with(journal)

        async def noted(scope: Any, receive: Any, send: Any) -> None:
            async def noting(message: Any) -> None:
                if message["type"] == "http.response.start":
                    journal.events.append("response started")
                await send(message)

            await app(scope, receive, noting)

        self.transport = httpx.ASGITransport(app=noted, raise_app_exceptions=False)

    def get(self, path: str, **options: Any) -> httpx.Response:
        """The app's answer to a GET."""

        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=self.transport, base_url="http://t") as http:
                return await http.get(path, **options)

        return anyio.run(send)

    def get_together(self, paths: list[str]) -> list[httpx.Response]:
        """The app's answers to GETs sent all at once."""
        answers: list[httpx.Response] = []

        async def send() -> None:
            async with (
                httpx.AsyncClient(transport=self.transport, base_url="http://t") as http,
                anyio.create_task_group() as group,
            ):
                for path in paths:

                    async def one(path: str = path) -> None:
                        answers.append(await http.get(path))

                    group.start_soon(one)

        anyio.run(send)
        return answers


def client(journal: Journal) -> Client:
    """A client of a small app recording into the journal."""
    return Client(journal)


def test_a_recorded_read_is_appended_before_its_response_starts() -> None:
    journal = Journal([])
    answer = client(journal).get(
        f"/v1/cases/{CASE}", params={"as_of": "2025-01-31"}, headers={"X-Request-Id": "req-1"}
    )
    assert answer.status_code == 200
    assert answer.json()["secret"] == SECRET
    assert journal.events == ["appended", "response started"]
    (record,) = journal.records
    assert record["case_id"] == CASE
    assert record["route"] == "/v1/cases/{case_id}"
    assert record["query"] == [["as_of", "2025-01-31"]]
    assert record["as_of"] == "2025-01-31"
    assert record["outcome"] == {"status": 200}
    assert record["purpose"] == "practice-review"
    assert record["request_id"] == "req-1" == answer.headers["X-Request-Id"]
    assert record["caller"] == {
        "token_id": "tok123",
        "agency": "test-inquiry-panel",
        "role": "inquiry",
        "person": "reader-7",
        "via": "token",
        "address": "127.0.0.1",
    }


def test_an_unrecorded_read_is_refused_503_without_its_body() -> None:
    journal = Journal([])
    journal.fail = True
    for path in (f"/v1/cases/{CASE}", f"/v1/cases/{CASE}/stream"):
        answer = client(journal).get(path)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:sgl:problem:access-unrecorded"
        assert SECRET not in answer.text
        assert CASE not in answer.text


def test_a_route_not_recorded_is_not_appended() -> None:
    journal = Journal([])
    journal.fail = True
    assert client(journal).get("/healthz").status_code == 200
    assert journal.records == []


def test_a_failed_read_is_recorded_as_a_500() -> None:
    journal = Journal([])
    assert client(journal).get(f"/v1/cases/{CASE}/broken").status_code == 500
    assert [r["outcome"] for r in journal.records] == [{"status": 500}]


def test_a_request_id_that_is_not_a_plain_token_is_replaced() -> None:
    journal = Journal([])
    answer = client(journal).get(f"/v1/cases/{CASE}", headers={"X-Request-Id": "a b\x7f<"})
    (record,) = journal.records
    assert record["request_id"] != "a b\x7f<"
    assert answer.headers["X-Request-Id"] == record["request_id"]


def test_a_read_renders_as_a_balp_patient_read_and_a_query_as_a_patient_query() -> None:
    journal = Journal([])
    client(journal).get(f"/v1/cases/{CASE}")
    client(journal).get(f"/v1/cases/{CASE}", params={"as_of": "2025-01-31"})
    read, query = (audit_event(r) for r in journal.records)
    assert read["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientRead")
    assert (read["subtype"][0]["code"], read["action"]) == ("read", "R")
    assert query["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientQuery")
    assert (query["subtype"][0]["code"], query["action"]) == ("search-type", "E")
    assert read["type"]["code"] == "rest"
    assert read["outcome"] == "0"
    client_agent, user, server = read["agent"]
    assert [a["requestor"] for a in read["agent"]] == [False, True, False]
    assert client_agent["type"]["coding"][0]["code"] == "110153"
    assert client_agent["who"]["identifier"]["value"] == "tok123"
    assert client_agent["network"] == {"address": "127.0.0.1", "type": "2"}
    assert user["who"]["identifier"]["value"] == "reader-7"
    assert user["purposeOfUse"][0]["coding"][0]["code"] == "practice-review"
    assert "network" not in user and "type" not in user
    assert server["type"]["coding"][0]["code"] == "110152"
    assert server["who"]["display"] == "safeguarding-ledger"
    patient = read["entity"][0]
    assert patient["what"]["identifier"]["value"] == CASE
    assert patient["role"]["code"] == "1"
    assert any(e.get("role", {}).get("code") == "24" for e in query["entity"])
    assert read["source"]["observer"]["display"] == "safeguarding-ledger"


def test_concurrent_reads_share_appends_and_each_is_recorded() -> None:
    journal = Journal([])
    journal.takes = 0.05
    cases = [f"CASE-{i:03d}" for i in range(20)]
    answers = client(journal).get_together([f"/v1/cases/{case}" for case in cases])
    assert [a.status_code for a in answers] == [200] * 20
    assert sorted(r["case_id"] for r in journal.records) == cases
    # While one append is under way the others wait for the next: far fewer than 20.
    assert journal.appends < 10


def test_a_record_keeps_declared_query_values_only_and_never_a_token() -> None:
    journal = Journal([])
    client(journal).get(
        f"/v1/cases/{CASE}",
        params=[
            ("as_of", "2025-01-31"),
            ("access_token", "sgl_abcdef123456_secret"),
            ("colour", "blue"),
            ("purpose", "practice-review"),
        ],
    )
    (record,) = journal.records
    assert record["query"] == [
        ["as_of", "2025-01-31"],
        ["access_token", "[redacted]"],
        ["colour", "[redacted]"],
        ["purpose", "practice-review"],
    ]
    assert "secret" not in orjson.dumps(record).decode()


def test_a_declared_parameter_named_like_a_token_is_redacted_and_as_of_only_when_declared() -> None:
    journal = Journal([])
    client(journal).get(f"/v1/cases/{CASE}/stream", params={"as_of": "2025-01-31"})
    (record,) = journal.records
    assert record["query"] == [["as_of", "[redacted]"]]
    assert record["as_of"] is None


def test_only_a_successful_read_of_a_case_claims_a_balp_patient_profile() -> None:
    journal = Journal([])
    client(journal).get(f"/v1/cases/{CASE}/broken")
    (failed,) = (audit_event(r) for r in journal.records)
    assert "meta" not in failed
    assert failed["outcome"] == "8"
    refused = {**journal.records[0], "outcome": {"status": 403}}
    assert "meta" not in audit_event(refused)
    ledger_wide = {**journal.records[0], "case_id": None, "outcome": {"status": 200}}
    assert "meta" not in audit_event(ledger_wide)
    searched = audit_event({**ledger_wide, "query": [["as_of", "2025-01-31"]]})
    assert searched["meta"]["profile"] == [
        "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Query"
    ]


def test_a_list_names_every_case_it_showed_and_a_read_of_one_case_none_besides() -> None:
    journal = Journal([])
    client(journal).get("/v1/cases", params={"q": "3f1c"})
    client(journal).get(f"/v1/cases/{CASE}")
    listed, read = journal.records
    assert listed["schema_version"] == read["schema_version"] == 2
    assert listed["case_id"] is None
    assert listed["cases_shown"] == [CASE, OTHER]
    assert listed["query"] == [["q", "3f1c"]]
    assert read["case_id"] == CASE
    assert read["cases_shown"] == []


def test_a_list_renders_for_one_childs_report_as_that_childs_audit_event() -> None:
    journal = Journal([])
    client(journal).get("/v1/cases", params={"q": "3f1c"})
    client(journal).get("/v1/cases")
    searched, plain = journal.records

    def patients(event: dict[str, Any]) -> list[str]:
        return [
            e["what"]["identifier"]["value"]
            for e in event["entity"]
            if e.get("role", {}).get("code") == "1"
        ]

    for_other = audit_event(searched, OTHER)
    assert patients(for_other) == [OTHER]
    assert for_other["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientQuery")
    assert patients(audit_event(plain, CASE)) == [CASE]
    assert audit_event(plain, CASE)["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientRead")
    # Alone (or for a case it did not show), it names every child and claims no patient profile.
    alone = audit_event(searched)
    assert patients(alone) == [CASE, OTHER]
    assert alone["meta"]["profile"][0].endswith("IHE.BasicAudit.Query")
    assert patients(audit_event(searched, "not-shown")) == [CASE, OTHER]
    assert "meta" not in audit_event(plain)
