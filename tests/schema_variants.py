"""Invalid variants of every schema's example, derived from the schema itself.

Each variant spoils one payload field of a valid example and names the JSON pointer and rule
the ledger must report, so every schema, present and future, gets the same scrutiny.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ledger.schemas import SchemaRegistry

_WRONG_TYPE: dict[str, Any] = {
    "string": 12345,
    "boolean": "yes",
    "integer": "many",
    "object": "not an object",
    "array": "not an array",
}


@dataclass(frozen=True)
class Variant:
    """One spoiled event and what the ledger must say about it."""

    name: str
    event: dict[str, Any]
    pointer: str
    rule: str


def _resolve(spec: dict[str, Any], registry: SchemaRegistry) -> dict[str, Any]:
    ref = spec.get("$ref")
    if not ref:
        return spec
    urn, _, fragment = ref.partition("#")
    name, version = urn.split(":")[3], int(urn.split(":")[4])
    doc = registry.schema(name, version)
    assert doc is not None, ref
    target: dict[str, Any] = doc.document
    for part in fragment.strip("/").split("/") if fragment else []:
        target = target[part]
    return {**target, **{k: v for k, v in spec.items() if k != "$ref"}}


def _kind(spec: dict[str, Any]) -> str | None:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def variants(registry: SchemaRegistry, event_type: str, version: int) -> Iterator[Variant]:
    """Every variant of the type's first example: missing, mistyped, off-enum, unknown field."""
    doc = registry.schema(event_type, version)
    assert doc is not None
    example = doc.document["examples"][0]
    payload_schema = doc.document["properties"]["payload"]
    for field in payload_schema.get("required", []):
        event = copy.deepcopy(example)
        event["payload"].pop(field, None)
        yield Variant(f"missing-{field}", event, f"/payload/{field}", "required")
    enum_done = False
    for field, raw in payload_schema["properties"].items():
        spec = _resolve(raw, registry)
        kind = _kind(spec)
        if kind in _WRONG_TYPE:
            event = copy.deepcopy(example)
            event["payload"][field] = _WRONG_TYPE[kind]
            yield Variant(f"wrong-type-{field}", event, f"/payload/{field}", "type")
        if "enum" in spec and not enum_done:
            enum_done = True
            event = copy.deepcopy(example)
            event["payload"][field] = "NOT-A-CODE"
            yield Variant(f"bad-enum-{field}", event, f"/payload/{field}", "enum")
    event = copy.deepcopy(example)
    event["payload"]["zz_unknown"] = 1
    yield Variant("unknown-field", event, "/payload/zz_unknown", "additionalProperties")


def all_variants(registry: SchemaRegistry) -> list[tuple[str, Variant]]:
    """(event type, variant) for every version of every event type."""
    return [
        (f"{name}/v{version}", variant)
        for name, versions in registry.event_types.items()
        for version in versions
        for variant in variants(registry, name, version)
    ]
