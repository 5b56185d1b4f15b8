"""Access records as FHIR R4 AuditEvents, as the IHE Basic Audit Log Patterns (BALP) profile a
RESTful read or query of one patient's data: the child is the patient, by the ledger's
pseudonymous case id (no name, no birth date), and the ledger is the observer.

A read without query parameters is a BALP PatientRead (subtype `read`, action R); one with
parameters a PatientQuery (subtype `search-type`, action E, the query as an entity).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from ledger.agency_rules import LEDGER_AGENCY as LEDGER

BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
ENTITY_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
BALP_ENTITY = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
PURPOSE_SYSTEM = "urn:sgl:purpose"
ROLE_SYSTEM = "urn:sgl:role"
AGENCY_SYSTEM = "urn:sgl:agency"
TOKEN_SYSTEM = "urn:sgl:token"  # noqa: S105 -- a naming system, not a secret
CASE_SYSTEM = "urn:sgl:case"


def outcome_code(status: int) -> str:
    """The AuditEvent outcome of an HTTP status: 0 success, 4 minor failure (the caller's: a
    4xx), 8 serious failure (the ledger's: a 5xx)."""
    if status < 400:
        return "0"
    return "4" if status < 500 else "8"


def audit_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """The access record as a FHIR R4 AuditEvent (BALP PatientRead or PatientQuery)."""
    query = [(str(k), str(v)) for k, v in record.get("query") or ()]
    searched = bool(query)
    status = int(record["outcome"]["status"])
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": record["access_id"],
        "meta": {"profile": [BALP + ("PatientQuery" if searched else "PatientRead")]},
        "type": {"system": EVENT_TYPE, "code": "rest", "display": "Restful Operation"},
        "subtype": [
            {
                "system": INTERACTION,
                "code": "search-type" if searched else "read",
                "display": "search type" if searched else "read",
            }
        ],
        "action": "E" if searched else "R",
        "recorded": record["recorded_at"],
        "outcome": outcome_code(status),
        "outcomeDesc": f"HTTP {status}",
        "agent": [*_requestor(record), _server()],
        "source": {
            "site": LEDGER,
            "observer": {"display": LEDGER},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": _entities(record, query),
    }
    purpose = record.get("purpose")
    if purpose:
        event["purposeOfEvent"] = [_purpose(purpose)]
    return event


def _requestor(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The caller, as the requestor: the person the credential names (else the token's
    public id, never its secret), assigned by its agency, with its role and purpose."""
    caller = record.get("caller") or {}
    if not caller.get("token_id"):
        return []
    person = caller.get("person")
    identifier: dict[str, Any] = {
        "value": person or caller["token_id"],
        "assigner": {"identifier": {"system": AGENCY_SYSTEM, "value": caller["agency"]}},
    }
    if not person:
        identifier["system"] = TOKEN_SYSTEM
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": caller["role"]}]}],
        "who": {
            "identifier": identifier,
            "display": f"{identifier['value']} ({caller['role']}, {caller['agency']})",
        },
        "requestor": True,
        "policy": [f"{TOKEN_SYSTEM}:{caller['token_id']}"],
    }
    if record.get("purpose"):
        agent["purposeOfUse"] = [_purpose(record["purpose"])]
    if caller.get("address"):
        agent["network"] = {"address": caller["address"], "type": "2"}
    return [agent]


def _server() -> dict[str, Any]:
    """The ledger, answering the read."""
    return {
        "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
        "who": {"display": LEDGER},
        "requestor": False,
    }


def _purpose(purpose: str) -> dict[str, Any]:
    return {"coding": [{"system": PURPOSE_SYSTEM, "code": purpose}]}


def _entities(record: Mapping[str, Any], query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The child (the patient, by pseudonymous case id), the query if any, and the request."""
    found: list[dict[str, Any]] = []
    if record.get("case_id"):
        found.append(
            {
                "what": {
                    "identifier": {"system": CASE_SYSTEM, "value": record["case_id"]},
                    "display": f"case {record['case_id']}",
                },
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": ENTITY_ROLE, "code": "1", "display": "Patient"},
            }
        )
    what = {"display": f"{record['method']} {record['route']}"}
    if query:
        found.append(
            {
                "what": what,
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": ENTITY_ROLE, "code": "24", "display": "Query"},
                "query": base64.b64encode(urlencode(query).encode()).decode(),
            }
        )
    else:
        found.append(
            {
                "what": what,
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": ENTITY_ROLE, "code": "4", "display": "Domain Resource"},
            }
        )
    found.append(
        {
            "what": {"identifier": {"value": record["request_id"]}},
            "type": {"system": BALP_ENTITY, "code": "XrequestId", "display": "X-Request-Id"},
        }
    )
    return found


def audit_bundle(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The access records as a FHIR R4 Bundle (a collection) of AuditEvents."""
    events = [audit_event(r) for r in records]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(events),
        "entry": [{"fullUrl": f"urn:uuid:{e['id']}", "resource": e} for e in events],
    }
