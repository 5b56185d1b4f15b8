"""The per-child access report: who read this child's record, when, why, and with what
outcome; every access record of the case, with no cap (`GET /v1/cases/{case_id}/access-log`
and `sgl access-log CASE`)."""

from __future__ import annotations

import time
from typing import Any

from ledger.log import EventLog
from projections.access_fhir import audit_bundle
from projections.access_index import AccessIndexStore
from sgl.bootstrap import Container
from sgl.queries import ContainerStores, Document, inclusion_proof
from sgl.queries.common import to_csv

FORMATS = ("json", "csv", "fhir")
FHIR_MEDIA = "application/fhir+json"
CSV_COLUMNS = (
    "recorded_at",
    "agency",
    "role",
    "person",
    "token_id",
    "via",
    "purpose",
    "method",
    "route",
    "query",
    "as_of",
    "status",
    "request_id",
    "access_id",
)
# How long a report waits for the index to take in the access records already appended (the
# reads just answered); past it, there is no report (`AccessLogBehind`): one missing reads
# would look complete.
CATCH_UP_SECONDS = 5.0
_POLL_SECONDS = 0.02


class AccessLogBehind(Exception):
    """The access index has not taken in every access record yet: a report now would miss
    reads."""

    def __init__(self, missing: int) -> None:
        super().__init__(
            f"{missing} access record(s) are not yet indexed: the report would miss reads "
            "(is the access index consumer running?)"
        )
        self.missing = missing


def behind(index: AccessIndexStore, access_log: EventLog) -> int:
    """Access records on the log that the index has not yet taken in."""
    ends = access_log.end_offsets()
    done = index.positions(access_log.topic, list(ends))
    return sum(end - (done.get(p, -1) + 1) for p, end in ends.items())


def access_report(
    index: AccessIndexStore,
    access_log: EventLog,
    case_id: str,
    wait: float = CATCH_UP_SECONDS,
) -> dict[str, Any]:
    """Every access record of the case, oldest first, once the index holds every record
    appended before now; AccessLogBehind when it still does not after `wait` seconds."""
    deadline = time.monotonic() + wait
    missing = behind(index, access_log)
    while missing and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        missing = behind(index, access_log)
    if missing:
        raise AccessLogBehind(missing)
    records = list(index.records(case_id))
    return {"case_id": case_id, "count": len(records), "behind": 0, "records": records}


def agency_report(report: dict[str, Any], agency: str) -> dict[str, Any]:
    """The report as a practitioner of the agency sees it: its own agency's reads only (who in
    it read the record, when, why), without any caller's network address or token id; being
    involved in a case is no ground to see who else read it."""
    records = [
        {**record, "caller": {**record["caller"], "token_id": None, "address": None}}
        for record in report["records"]
        if (record.get("caller") or {}).get("agency") == agency
    ]
    return {**report, "count": len(records), "records": records}


def access_csv(report: dict[str, Any]) -> str:
    """The report's records as CSV, one row per read, with a header row (`to_csv`: no cell
    can be taken for a spreadsheet formula)."""
    rows = []
    for record in report["records"]:
        caller = record.get("caller") or {}
        rows.append(
            {
                "recorded_at": record["recorded_at"],
                "agency": caller.get("agency"),
                "role": caller.get("role"),
                "person": caller.get("person"),
                "token_id": caller.get("token_id"),
                "via": caller.get("via"),
                "purpose": record.get("purpose"),
                "method": record["method"],
                "route": record["route"],
                "query": "&".join(f"{k}={v}" for k, v in record.get("query") or ()),
                "as_of": record.get("as_of"),
                "status": record["outcome"]["status"],
                "request_id": record["request_id"],
                "access_id": record["access_id"],
            }
        )
    return to_csv(CSV_COLUMNS, rows)


def access_fhir(report: dict[str, Any]) -> dict[str, Any]:
    """The report as a FHIR R4 Bundle of BALP AuditEvents, each naming the report's child."""
    return audit_bundle(report["records"], report["case_id"])


def access_proof(container: Container, access_id: str, size: int | None) -> Document:
    """The inclusion proof bundle of an access record in a checkpoint of the access log's
    partition (default: the latest), checked like an event's (`sgl proof verify`)."""
    stores = ContainerStores(container)
    stores.log = container.access_log
    stores.seal = container.access_seal
    return inclusion_proof(stores, access_id, size)
