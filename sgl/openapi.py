"""The OpenAPI document: the event schemas as the body of POST /v1/events, receipts, and the
RFC 9457 problems every route answers with."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI

from ledger.notes import NOTE_RECORD, NOTE_VERSION
from ledger.schemas import SchemaRegistry
from sgl.access_rules import Rule, Scope
from sgl.exports import XLSX_MEDIA
from sgl.identity import PURPOSE_HEADER
from sgl.responses import MEDIA_TYPE as PROBLEM_MEDIA

REF = "#/components/schemas/"
CSV_MEDIA = "text/csv"
# A clock report's header fields, sent as response headers with its CSV (left out when null).
CLOCK_REPORT_HEADERS: dict[str, Any] = {
    name: {"description": f"With CSV: the report's `{field}`", "schema": {"type": "string"}}
    for field, name in (
        ("data_end", "X-SGL-Data-End"),
        ("measured_to", "X-SGL-Measured-To"),
        ("open_runs_measured_to", "X-SGL-Open-Runs-Measured-To"),
    )
}
# The chronology's workbook is sent as a file to keep.
WORKBOOK_DISPOSITION: dict[str, Any] = {
    "description": 'With XLSX: `attachment; filename="<case_id>-chronology-<as_of>.xlsx"`',
    "schema": {"type": "string"},
}
_URN = "urn:sgl:schema:"
SECURITY_SCHEME = "bearer"
_FORBIDDEN: dict[Scope, str] = {
    "public": "",
    "authenticated": "The purpose stated is unknown, or an inquiry or auditor stated none",
    "publish": "Only a publisher (its own agency's events) or the admin (the registry's) may "
    "publish; nothing was appended",
    "case": "The caller's role may not read this case, or an inquiry or auditor stated no "
    "purpose or an unknown one (the refusal is on the access log)",
    "ledger": "Only inquiry and auditor read across the ledger, stating a known purpose",
    "access_log": "The caller may not read this case's access log, or stated no purpose or an "
    "unknown one",
    "annotate": "Only an inquiry writes notes, stating a known purpose; nothing was appended",
}

PROBLEM_ERROR: dict[str, Any] = {
    "type": "object",
    "description": "One broken rule: where (a JSON pointer into the request), which rule, what.",
    "required": ["pointer", "rule", "detail"],
    "properties": {
        "pointer": {"type": "string", "description": "RFC 6901 pointer to the offending value"},
        "rule": {"type": "string", "description": "The rule broken, e.g. `required`, `enum`"},
        "detail": {"type": "string"},
        "item": {"type": "integer", "minimum": 0, "description": "The batch item, if a batch"},
    },
    "additionalProperties": False,
}
PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem: every error the API answers is one.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:sgl:problem:KIND"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": REF + "ProblemError"}},
    },
    "additionalProperties": False,
}
RECEIPT: dict[str, Any] = {
    "type": "object",
    "description": "Proof that an event is in the log, and where; `duplicate` answers a repeat "
    "with the original receipt.",
    "required": ["event_id", "status", "partition", "offset", "appended_at"],
    "properties": {
        "event_id": {"type": "string", "format": "uuid"},
        "status": {"enum": ["accepted", "duplicate"]},
        "partition": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "appended_at": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}
RECEIPTS: dict[str, Any] = {
    "type": "object",
    "description": "The receipts of a batch, in the batch's order.",
    "required": ["receipts"],
    "properties": {"receipts": {"type": "array", "items": {"$ref": REF + "Receipt"}}},
    "additionalProperties": False,
}

_EVENTS_PROBLEMS = {
    "400": "The body is not JSON the ledger accepts: not UTF-8, malformed, nested more than "
    "64 deep, or an object holds a key twice",
    "408": "The body did not arrive within SGL_BODY_TIMEOUT_SECONDS",
    "409": "An event_id already in the ledger was sent with other content; nothing appended",
    "413": "The body is over the size limit (SGL_MAX_BODY_BYTES)",
    "415": "The body is not application/json, or names a charset other than utf-8",
    "422": "An event breaks its schema or a ledger rule, or the batch is too large; nothing "
    "appended",
    "503": "The log is unavailable; retry with the same event_ids (see Retry-After)",
}


class DocumentedApp(FastAPI):
    """A FastAPI app whose OpenAPI document carries the event schemas and the problems."""

    def __init__(
        self,
        schemas: SchemaRegistry,
        max_batch_items: int,
        *,
        rules: Mapping[tuple[str, str], Rule],
        purposes: Sequence[str],
        **kwargs: Any,
    ) -> None:
        self.event_schemas = schemas
        self.max_batch_items = max_batch_items
        self.access_rules = rules
        self.purposes = tuple(purposes)
        super().__init__(**kwargs)

    def openapi(self) -> dict[str, Any]:
        """The document, completed once and then cached."""
        if self.openapi_schema is None:
            spec = complete(super().openapi(), self.event_schemas, self.max_batch_items)
            self.openapi_schema = document_access(spec, self.access_rules, self.purposes)
        return self.openapi_schema


def complete(spec: dict[str, Any], schemas: SchemaRegistry, max_batch_items: int) -> dict[str, Any]:
    """Add the event, receipt and problem schemas, document POST /v1/events, and make every
    route's 404 and 422 a problem."""
    # OpenAPI 3.1's default dialect, said outright: the event schemas are JSON Schema 2020-12.
    spec["jsonSchemaDialect"] = "https://json-schema.org/draft/2020-12/schema"
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    # FastAPI's own 422 shape is never sent: a validation error is a problem here.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(Problem=PROBLEM, ProblemError=PROBLEM_ERROR)
    components.update(Receipt=RECEIPT, Receipts=RECEIPTS)
    events = []
    for (name, version), doc in sorted(schemas.docs.items()):
        component = _component_name(name, version)
        components[component] = _rebased(doc.document, component)
        if name != "envelope":
            events.append({"$ref": REF + component})
    components["Event"] = {
        "description": "One event: the envelope and the payload of its type and version.",
        "oneOf": events,
    }
    _note_components(components, schemas)
    components["EventBatch"] = {
        "description": "A batch: all appended, or none when any item is invalid.",
        "type": "array",
        "minItems": 1,
        "maxItems": max_batch_items,
        "items": {"$ref": REF + "Event"},
    }
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            _problem_responses(path, operation)
    post = spec.get("paths", {}).get("/v1/events", {}).get("post")
    if post is not None:
        _document_append(post)
    return spec


def document_access(
    spec: dict[str, Any], rules: Mapping[tuple[str, str], Rule], purposes: Sequence[str]
) -> dict[str, Any]:
    """Declare the bearer scheme, each route's security (none where public), the purpose a
    route takes, and the 401, 403 and 429 problems of every route that needs a token."""
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A ledger token (`sgl token create`), the operator's SGL_ADMIN_TOKEN, "
        "or an access token from the agency's OpenID Connect provider",
    }
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            rule = rules.get((method.upper(), path))
            if rule is None or rule.scope == "public":
                operation["security"] = []
                continue
            operation["security"] = [{SECURITY_SCHEME: []}]
            responses = operation.setdefault("responses", {})
            responses["401"] = problem(
                "No valid credentials: the token is missing, malformed, unknown, revoked or "
                "expired (WWW-Authenticate: Bearer)"
            )
            responses["403"] = problem(_FORBIDDEN[rule.scope])
            responses["429"] = problem("This credential's rate limit is spent (see Retry-After)")
            responses["429"]["headers"] = {
                "Retry-After": {
                    "description": "Seconds until the credential may call again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
            if rule.takes_purpose():
                operation.setdefault("parameters", []).extend(_purpose_parameters(purposes))
    return spec


def _purpose_parameters(purposes: Sequence[str]) -> list[dict[str, Any]]:
    """The purpose of a request: the header or the query parameter (inquiry and auditor
    state one with every request)."""
    schema = {"type": "string", "enum": list(purposes)}
    said = "The purpose of the request; inquiry and auditor must state one (here or in {})"
    return [
        {
            "name": PURPOSE_HEADER,
            "in": "header",
            "required": False,
            "description": said.format("the `purpose` parameter"),
            "schema": schema,
        },
        {
            "name": "purpose",
            "in": "query",
            "required": False,
            "description": said.format(PURPOSE_HEADER),
            "schema": schema,
        },
    ]


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI response answered with a problem."""
    return {"description": description, "content": {PROBLEM_MEDIA: {"schema": _ref("Problem")}}}


def _ref(component: str) -> dict[str, str]:
    return {"$ref": REF + component}


def _problem_responses(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    # Every route refuses a query parameter it does not take, so every route may answer 422.
    responses["422"] = problem(
        "A path or query parameter is not valid, or the route does not take it"
    )
    if "{" in path:
        responses.setdefault("404", problem("There is no such resource"))
    responses["500"] = problem("An unexpected failure; the error is logged and counted")
    if any(p.get("name") == "format" for p in operation.get("parameters", [])):
        ok = responses.get("200", {}).setdefault("content", {})
        ok[CSV_MEDIA] = {"schema": {"type": "string", "description": "CSV with a header row"}}
        if path.endswith(("/clocks", "/latency", "/audit")):
            responses["200"]["headers"] = CLOCK_REPORT_HEADERS
        if path.endswith("/chronology"):
            ok[XLSX_MEDIA] = {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "With format=xlsx: one sheet, Chronology, a row per event",
                }
            }
            responses["200"]["headers"] = {"Content-Disposition": WORKBOOK_DISPOSITION}


def _document_append(post: dict[str, Any]) -> None:
    post["requestBody"] = {
        "required": True,
        "description": "One event, or a JSON array of events (a batch).",
        "content": {
            "application/json": {
                "schema": {"oneOf": [_ref("Event"), _ref("EventBatch")]},
            }
        },
    }
    receipt_or_receipts = {"oneOf": [_ref("Receipt"), _ref("Receipts")]}
    post["responses"] = {
        "201": {
            "description": "Appended: a receipt for one event, receipts for a batch",
            "content": {"application/json": {"schema": receipt_or_receipts}},
        },
        "200": {
            "description": "Everything sent was already in the ledger: the original receipts",
            "content": {"application/json": {"schema": receipt_or_receipts}},
        },
        **{status: problem(text) for status, text in _EVENTS_PROBLEMS.items()},
        "500": post["responses"]["500"],
    }


def _note_components(components: dict[str, Any], schemas: SchemaRegistry) -> None:
    """The inquiry note as kept (`note.recorded.v1`), what an inquiry sends, what a write
    answers and what a read of a case's notes answers."""
    for (name, version), doc in sorted(schemas.records.items()):
        component = _component_name(name, version)
        components[component] = _rebased(doc.document, component)
    note = REF + _component_name(NOTE_RECORD, NOTE_VERSION)
    components["NoteBody"] = {
        "type": "object",
        "description": "A note as an inquiry sends it; the ledger sets every other field.",
        "required": ["about", "text"],
        "additionalProperties": False,
        "properties": {
            "about": {"$ref": note + "/properties/about"},
            "text": {"$ref": note + "/properties/text"},
            "supersedes": {"$ref": note + "/$defs/note_id"},
        },
    }
    components["NoteWritten"] = {
        "type": "object",
        "description": "The note as kept on the notes log, and its receipt (its event_id is "
        "the note's id).",
        "required": ["note", "receipt"],
        "additionalProperties": False,
        "properties": {"note": {"$ref": note}, "receipt": _ref("Receipt")},
    }
    position = {
        "type": "object",
        "required": ["partition", "offset"],
        "properties": {
            "partition": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0},
        },
        "additionalProperties": False,
    }
    components["CaseNotes"] = {
        "type": "object",
        "description": "Every note of a case, oldest first.",
        "required": ["case_id", "count", "notes"],
        "additionalProperties": False,
        "properties": {
            "case_id": {"type": "string"},
            "count": {"type": "integer", "minimum": 0},
            "notes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["note", "superseded_by", "log_position"],
                    "additionalProperties": False,
                    "properties": {
                        "note": {"$ref": note},
                        "superseded_by": {
                            "description": "The latest note amending or withdrawing this one",
                            "anyOf": [{"$ref": note + "/$defs/note_id"}, {"type": "null"}],
                        },
                        "log_position": position,
                    },
                },
            },
        },
    }


def _component_name(name: str, version: int) -> str:
    return f"{name}.v{version}"


def _rebased(document: dict[str, Any], component: str) -> dict[str, Any]:
    """A schema moved under #/components/schemas: its $id dropped (it would change the base of
    its references) and every reference pointed at the components."""
    moved = copy.deepcopy(document)
    moved.pop("$id", None)
    moved.pop("$schema", None)

    def rebase(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                node["$ref"] = _rebased_ref(ref, component)
            for value in node.values():
                rebase(value)
        elif isinstance(node, list):
            for value in node:
                rebase(value)

    rebase(moved)
    return moved


def _rebased_ref(ref: str, component: str) -> str:
    base, _, fragment = ref.partition("#")
    if not base:
        return REF + component + fragment
    if not base.startswith(_URN):
        raise ValueError(f"a schema refers outside the ledger's schemas: {ref}")
    name, _, version = base.removeprefix(_URN).rpartition(":")
    return REF + _component_name(name, int(version)) + fragment
