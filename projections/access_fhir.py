"""Access records as FHIR R4 AuditEvents, as the IHE Basic Audit Log Patterns (BALP) profile a
RESTful read or query of one patient's data: the child is the patient, by the ledger's
pseudonymous case id (no name, no birth date), and the ledger is the observer.

Only a successful (2xx) read claims a BALP profile: of one child's case, without query
parameters a PatientRead (subtype `read`, action R), with them a PatientQuery (subtype
`search-type`, action E, the query as an entity); a ledger-wide report (no case) with query
parameters a Query, never a PatientQuery. A refused or failed read is a base AuditEvent. The
agents are the client (DICOM 110153, the credential and its network address), the user (the
requestor: the person the credential names, else its public id) and the server (110152, the
ledger).

A read whose answer showed several children (a case list's page) is, as BALP asks of a query
that returns several patients, one AuditEvent per child: rendered for one child's report, it
names that child as its patient and claims the patient profile; rendered alone, it names every
child it showed and claims no patient profile.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from ledger.access import cases_named
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


def audit_event(record: Mapping[str, Any], patient: str | None = None) -> dict[str, Any]:
    """The access record as a FHIR R4 AuditEvent (BALP PatientRead or PatientQuery); for the
    report of `patient`, one of the cases it names, as that child's AuditEvent."""
    named = cases_named(record)
    patients = [patient] if patient in named else named
    query = [(str(k), str(v)) for k, v in record.get("query") or ()]
    searched = bool(query)
    status = int(record["outcome"]["status"])
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": record["access_id"],
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
        "agent": [*_client_and_user(record), _server()],
        "source": {
            "site": LEDGER,
            "observer": {"display": LEDGER},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": _entities(record, patients, query),
    }
    profile = balp_profile(status, len(patients) == 1, searched)
    if profile is not None:
        event["meta"] = {"profile": [BALP + profile]}
    purpose = record.get("purpose")
    if purpose:
        event["purposeOfEvent"] = [_purpose(purpose)]
    return event


def balp_profile(status: int, of_case: bool, searched: bool) -> str | None:
    """The BALP profile a read claims: only a successful one, and a patient's only when it
    names one child; None for a base AuditEvent."""
    if not 200 <= status < 300:
        return None
    if of_case:
        return "PatientQuery" if searched else "PatientRead"
    return "Query" if searched else None


def _client_and_user(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The client (the credential, from its network address) and the user, the requestor:
    the person the credential names (else the token's public id, never its secret), assigned
    by its agency, with its role and purpose. None when no caller was known."""
    caller = record.get("caller") or {}
    if not caller.get("token_id") and not caller.get("agency"):
        return []
    agency = {"identifier": {"system": AGENCY_SYSTEM, "value": caller.get("agency")}}
    token_id = caller.get("token_id")
    client: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "who": {"display": f"client of {caller.get('agency')}"},
        "requestor": False,
    }
    if token_id:
        client["who"]["identifier"] = {"system": TOKEN_SYSTEM, "value": token_id}
    if caller.get("address"):
        client["network"] = {"address": caller["address"], "type": "2"}
    person = caller.get("person")
    named = person or token_id
    # A report that leaves token ids out (a practitioner's) names the user by role and agency.
    who: dict[str, Any] = {
        "display": f"{named or 'a user'} ({caller.get('role')}, {caller.get('agency')})"
    }
    if named:
        who["identifier"] = {"value": named, "assigner": agency}
        if not person:
            who["identifier"]["system"] = TOKEN_SYSTEM
    user: dict[str, Any] = {
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": caller.get("role")}]}],
        "who": who,
        "requestor": True,
    }
    if token_id:
        user["policy"] = [f"{TOKEN_SYSTEM}:{token_id}"]
    if record.get("purpose"):
        user["purposeOfUse"] = [_purpose(record["purpose"])]
    return [client, user]


def _server() -> dict[str, Any]:
    """The ledger, answering the read."""
    return {
        "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
        "who": {"identifier": {"system": AGENCY_SYSTEM, "value": LEDGER}, "display": LEDGER},
        "requestor": False,
    }


def _purpose(purpose: str) -> dict[str, Any]:
    return {"coding": [{"system": PURPOSE_SYSTEM, "code": purpose}]}


def _entities(
    record: Mapping[str, Any], patients: list[str], query: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Each child (a patient, by pseudonymous case id), the query if any, and the request."""
    found: list[dict[str, Any]] = [
        {
            "what": {
                "identifier": {"system": CASE_SYSTEM, "value": case_id},
                "display": f"case {case_id}",
            },
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": ENTITY_ROLE, "code": "1", "display": "Patient"},
        }
        for case_id in patients
    ]
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


def audit_bundle(
    records: Iterable[Mapping[str, Any]], patient: str | None = None
) -> dict[str, Any]:
    """The access records as a FHIR R4 Bundle (a collection) of AuditEvents (for the report of
    `patient`, that child's)."""
    events = [audit_event(r, patient) for r in records]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "total": len(events),
        "entry": [{"fullUrl": f"urn:uuid:{e['id']}", "resource": e} for e in events],
    }
