"""The bundled policies name kinds of agency and roles, never an agency: they load, validate,
and no agency id appears anywhere in policies/."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

from ledger.schemas import SchemaRegistry
from projections.clock_policy import load_clock_policy
from projections.rules import LEAD, load_rule_policy
from tests.agencies import CHILD_A_KINDS, EXAMPLE_KINDS

POLICIES = files("policies")
# The envelope's agency id pattern, and the kinds of agency the registry knows.
AGENCY_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_ENVELOPE = json.loads((files("schemas") / "envelope" / "2.json").read_text())
assert _ENVELOPE["$defs"]["agency"]["pattern"] == f"^{AGENCY_ID.pattern}$".replace("?:", "")
KINDS = _ENVELOPE["$defs"]["agency_kind"]["enum"]
# Hyphenated words the policy files may use in prose or schema text: none is an agency.
PROSE = {"non-accidental", "clock-policy", "rule-policy", "json-schema", "a-z", "a-z0"}


def strings(node: Any, keys: bool = True) -> Iterator[str]:
    """Every string in a parsed document: values, and keys unless told not to."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if keys:
                yield key
            yield from strings(value, keys)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item, keys)


def vocabulary() -> set[str]:
    """What a policy may say that looks like an agency id: kinds, the lead role, and the
    event catalogue's types, payload fields and coded values."""
    registry = SchemaRegistry()
    words = {*KINDS, LEAD, "working_days", "calendar_days", "weeks", "months", "hours"}
    for event_type in registry.event_types:
        words |= set(event_type.split("."))
        for version in range(1, registry.latest(event_type) + 1):
            doc = registry.schema(event_type, version)
            assert doc is not None
            words |= set(_coded(doc.document["properties"]["payload"]))
    for name in ("clock-policy.schema.json", "rule-policy.schema.json"):
        words |= set(_coded(json.loads((POLICIES / name).read_text())))
    return words


def _coded(schema: Any) -> Iterator[str]:
    """Property names, enum and const values of a schema (not its prose or examples)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            if key in ("enum", "const", "required"):
                yield from strings(value)
            if key not in ("examples", "description"):
                yield from _coded(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _coded(item)


def test_the_bundled_policies_load_and_validate() -> None:
    """Both policies pass their JSON Schemas and the checks against the catalogue."""
    clocks, rules = load_clock_policy(), load_rule_policy()
    assert clocks.clocks and rules.rules
    referral = next(c for c in clocks.clocks if c.name == "referral_decision")
    assert referral.start.where_kind == (("to_agency", "childrens_social_care"),)
    roles = {role for rule in rules.rules for role in rule.send_to}
    assert roles <= {LEAD, *KINDS} and LEAD in roles


def test_no_agency_id_appears_in_the_policies() -> None:
    """Every key and value of the policy files that could be an agency id is a kind, a role,
    a field or a coded value of the catalogue; no demo or example agency id is anywhere in
    policies/, comments included; hyphenated words are only the prose ones."""
    known = vocabulary()
    texts = {
        p.name: p.read_text() for p in POLICIES.iterdir() if p.name.endswith((".toml", ".json"))
    }
    assert {
        "clocks.toml",
        "rules.toml",
        "clock-policy.schema.json",
        "rule-policy.schema.json",
    } <= set(texts)
    for name, text in texts.items():
        if name.endswith(".toml"):
            suspects = {s for s in strings(tomllib.loads(text)) if AGENCY_ID.fullmatch(s)}
        else:
            suspects = {s for s in _coded(json.loads(text)) if AGENCY_ID.fullmatch(s)}
        assert suspects <= known, (name, sorted(suspects - known))
        hyphenated = set(re.findall(r"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)+\b", text))
        assert hyphenated <= PROSE, (name, sorted(hyphenated - PROSE))
        for agency in (*CHILD_A_KINDS, *EXAMPLE_KINDS):
            assert agency not in text, (name, agency)


def test_the_policy_schemas_know_exactly_the_registrys_kinds() -> None:
    """Where a policy takes a kind, its schema allows the envelope's agency kinds and nothing
    else (so an agency id there is refused); a role is `lead` or one of them."""
    clocks = json.loads((POLICIES / "clock-policy.schema.json").read_text())
    rules = json.loads((POLICIES / "rule-policy.schema.json").read_text())
    assert clocks["$defs"]["agency_kind"]["enum"] == KINDS
    assert rules["$defs"]["kind"]["enum"] == KINDS
    assert rules["$defs"]["role"]["enum"] == [LEAD, *KINDS]
