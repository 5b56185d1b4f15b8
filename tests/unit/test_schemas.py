"""The published schemas: valid JSON Schema, valid examples, and specific errors for bad events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest

from ledger.errors import Problem
from ledger.schemas import SchemaRegistry
from tests.factories import example, make_event

REGISTRY = SchemaRegistry(clock_skew=timedelta(minutes=5))
ALL = sorted(REGISTRY.docs)
EVENT_TYPES = sorted(REGISTRY.event_types)


def rules(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.pointer, p.rule) for p in problems}


@pytest.mark.parametrize(("name", "version"), ALL)
def test_every_schema_is_valid_draft_2020_12(name: str, version: int) -> None:
    """Each schema file is itself a valid draft 2020-12 schema with a title and description."""
    document = REGISTRY.docs[(name, version)].document
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"urn:sgl:schema:{name}:{version}"
    assert jsonschema_rs.meta.is_valid(document)
    assert document["title"] and document["description"]


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_every_example_is_a_valid_event(name: str) -> None:
    """Every example in every event schema passes validation."""
    for version in REGISTRY.event_types[name]:
        examples = REGISTRY.docs[(name, version)].document["examples"]
        assert examples, f"{name} v{version} has no example"
        for item in examples:
            assert REGISTRY.problems(item) == []


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_every_payload_field_has_a_description(name: str) -> None:
    """Adapters read the schema as documentation: no undocumented field."""
    for version in REGISTRY.event_types[name]:
        payload = REGISTRY.docs[(name, version)].document["properties"]["payload"]
        for field, spec in payload["properties"].items():
            assert spec.get("description"), f"{name} v{version} payload.{field}"


CASES: list[tuple[str, str, Any, str, str]] = [
    # (event type, payload field, bad value or None to delete, pointer, rule)
    ("case.opened", "date_of_birth", None, "/payload/date_of_birth", "required"),
    ("case.opened", "date_of_birth", "01/03/2006", "/payload/date_of_birth", "format"),
    ("case.opened", "referral_source", "3Z", "/payload/referral_source", "enum"),
    ("contact.recorded", "contact_type", None, "/payload/contact_type", "required"),
    ("contact.recorded", "child_seen", "yes", "/payload/child_seen", "type"),
    ("contact.recorded", "contact_type", "seance", "/payload/contact_type", "enum"),
    ("injury.observed", "count", 0, "/payload/count", "minimum"),
    ("injury.observed", "body_region", "elbow", "/payload/body_region", "enum"),
    (
        "injury.observed",
        "suspected_non_accidental",
        None,
        "/payload/suspected_non_accidental",
        "required",
    ),
    ("decision.recorded", "outcome", "maybe", "/payload/outcome", "enum"),
    (
        "decision.recorded",
        "decided_by",
        {"id": "Jane", "role": "lawyer"},
        "/payload/decided_by/id",
        "pattern",
    ),
    ("decision.recorded", "rests_on", ["not-a-uuid"], "/payload/rests_on/0", "format"),
]


@pytest.mark.parametrize(("name", "field", "value", "pointer", "rule"), CASES)
def test_invalid_payloads_name_the_field_and_rule(
    name: str, field: str, value: Any, pointer: str, rule: str
) -> None:
    """A broken payload field is reported by JSON pointer and the rule it broke."""
    event = example(name)
    if value is None:
        del event["payload"][field]
    else:
        event["payload"][field] = value
    assert (pointer, rule) in rules(REGISTRY.problems(event))


ENVELOPE_CASES: list[tuple[str, Any, str, str]] = [
    ("type", "injury.seen", "/type", "known-type"),
    ("type", None, "/type", "required"),
    ("schema_version", 9, "/schema_version", "known-version"),
    ("schema_version", "1", "/schema_version", "known-version"),
    ("event_id", "123", "/event_id", "format"),
    ("case_id", "Peter Connelly", "/case_id", "pattern"),
    ("agency", None, "/agency", "required"),
    ("occurred_at", "last tuesday", "/occurred_at", "format"),
    ("recorded_at", "2007-02-30T10:00:00Z", "/recorded_at", "format"),
    ("appended_at", "2007-01-01T00:00:00Z", "/appended_at", "unevaluatedProperties"),
]


@pytest.mark.parametrize(("field", "value", "pointer", "rule"), ENVELOPE_CASES)
def test_invalid_envelopes_name_the_field_and_rule(
    field: str, value: Any, pointer: str, rule: str
) -> None:
    """Envelope errors, including a client trying to set appended_at, are specific."""
    event = make_event("contact.recorded")
    if value is None:
        del event[field]
    else:
        event[field] = value
    assert (pointer, rule) in rules(REGISTRY.problems(event))


def test_recorded_before_occurred_is_rejected() -> None:
    """Nothing can be recorded before it happened."""
    event = make_event(occurred_at="2007-01-02T10:00:00Z", recorded_at="2007-01-01T10:00:00Z")
    assert rules(REGISTRY.problems(event)) == {("/recorded_at", "recorded-after-occurred")}


def test_recorded_in_the_future_beyond_skew_is_rejected() -> None:
    """A recorded_at past the ledger's clock plus the skew allowance is refused."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ahead = make_event(occurred_at="2025-12-31T00:00:00Z", recorded_at="2026-01-01T00:10:00Z")
    within = make_event(occurred_at="2025-12-31T00:00:00Z", recorded_at="2026-01-01T00:04:00Z")
    assert rules(REGISTRY.problems(ahead, now)) == {("/recorded_at", "not-in-future")}
    assert REGISTRY.problems(within, now) == []


def test_a_non_object_is_rejected_at_the_root() -> None:
    """A JSON value that is not an object is refused with an empty pointer."""
    assert rules(REGISTRY.problems([1, 2])) == {("", "type")}


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2007-06-20t15:00:00z", True),
        ("2007-06-20T15:00:00+01:00", True),
        ("2007-06-30T23:59:60Z", False),
        ("0000-01-02T00:00:00Z", False),
    ],
)
def test_rfc_3339_corners_are_accepted_or_named_never_a_crash(text: str, ok: bool) -> None:
    """Lower-case t/z is accepted; a leap second is refused as /recorded_at format."""
    event = make_event(occurred_at="2007-06-20T09:00:00Z", recorded_at=text)
    for now in (datetime(2026, 1, 1, tzinfo=UTC), None):  # the append path, then the consumer's
        problems = REGISTRY.problems(event, now)
        if ok:
            assert problems == []
        else:
            assert rules(problems) == {("/recorded_at", "format")}


def test_an_enum_error_names_every_allowed_value() -> None:
    """A value outside an enum is answered with the whole list of values, none cut short."""
    event = example("contact.recorded", REGISTRY.latest("contact.recorded"))
    event["payload"]["contact_type"] = "seance"
    (problem,) = [p for p in REGISTRY.problems(event) if p.rule == "enum"]
    schema = REGISTRY.schema("contact.recorded", REGISTRY.latest("contact.recorded"))
    assert schema is not None
    allowed = schema.document["properties"]["payload"]["properties"]["contact_type"]["enum"]
    assert len(allowed) > 3
    assert problem.detail == "contact_type must be one of: " + ", ".join(f'"{v}"' for v in allowed)
    assert "candidates" not in problem.detail
    assert "seance" not in problem.detail


SECRET = "Zqxv told the nurse "
CROSS_FIELD = {"not", "oneOf", "if", "minProperties", "maxProperties", "dependentRequired"}


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_no_refusal_echoes_what_was_sent(name: str) -> None:
    """Free text sent in any payload field (too long, mistyped, off its list or its pattern)
    is refused without the text in any detail: a refusal is logged and shown to others."""
    version = REGISTRY.latest(name)
    fields = REGISTRY.docs[(name, version)].document["properties"]["payload"]["properties"]
    refused = 0
    for field in fields:
        event = example(name, version)
        event["payload"][field] = SECRET * 200
        problems = REGISTRY.problems(event)
        refused += bool(problems)
        assert all("Zqxv" not in p.detail for p in problems), problems
    assert refused


def _cross_field_outside_rules(node: Any, inside: bool, at: str) -> list[str]:
    """Where a schema holds a cross-field keyword that is not part of a stated rule."""
    if isinstance(node, list):
        return [
            found
            for i, item in enumerate(node)
            for found in _cross_field_outside_rules(item, inside, f"{at}/{i}")
        ]
    if not isinstance(node, dict):
        return []
    inside = inside or "x-rule" in node
    found = [f"{at}/{k}" for k in sorted(CROSS_FIELD & node.keys()) if not inside]
    for key, sub in node.items():
        if key != "examples":
            found.extend(_cross_field_outside_rules(sub, inside, f"{at}/{key}"))
    return found


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_every_cross_field_construct_is_a_named_rule(name: str) -> None:
    """Each `not`, `oneOf`, `if`, `minProperties`, `maxProperties` and `dependentRequired` of
    a payload lies in an `allOf` entry naming its rule (`x-rule`) and saying it
    (`description`), so its refusal names the rule and says it plainly."""
    for version in REGISTRY.event_types[name]:
        document = REGISTRY.docs[(name, version)].document
        assert _cross_field_outside_rules(document["properties"]["payload"], False, "") == []


def _stated_rules(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [r for item in node for r in _stated_rules(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if "x-rule" in node else []
    return own + [r for sub in node.values() for r in _stated_rules(sub)]


def test_every_stated_rule_has_a_name_and_a_plain_description() -> None:
    """A stated rule's name is a lower-case slug and its description a sentence."""
    stated = [r for doc in REGISTRY.docs.values() for r in _stated_rules(doc.document)]
    assert len(stated) >= 5
    for rule in stated:
        assert rule["x-rule"].replace("-", "").isalpha() and rule["x-rule"].islower(), rule
        assert rule["description"].endswith("."), rule
