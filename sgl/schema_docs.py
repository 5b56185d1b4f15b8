"""Render docs/events.md from the schemas, so the event reference cannot drift."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from ledger.schemas import ENVELOPE, SchemaRegistry


def render(registry: SchemaRegistry | None = None) -> str:
    """The event catalogue as Markdown: the envelope, then each type's payload fields, then
    the records of the ledger's own logs (inquiry notes)."""
    registry = registry or SchemaRegistry()
    parts = [
        "# Event reference",
        "",
        "Generated from `schemas/` by `python -m sgl.schema_docs`; do not edit by hand.",
        "The schemas themselves are served at `GET /v1/schemas/{type}/{version}`.",
        "",
    ]
    for version in sorted((v for t, v in registry.docs if t == ENVELOPE), reverse=True):
        envelope = registry.schema(ENVELOPE, version)
        assert envelope is not None
        parts += [
            f"## Envelope version {version} (`{envelope.document['$id']}`)",
            "",
            envelope.document["description"],
            "",
            *_table(envelope.document, envelope.document, registry),
            "",
        ]
    for name, versions in registry.event_types.items():
        for version in versions:
            doc = registry.schema(name, version)
            assert doc is not None
            parts += [
                f"## `{name}` v{version}: {doc.document['title']}",
                "",
                doc.document["description"],
                "",
            ]
            required = doc.document.get("required", [])
            if required:
                parts += [
                    f"Also required in the envelope: {', '.join(f'`{r}`' for r in required)}.",
                    "",
                ]
            payload = doc.document["properties"]["payload"]
            parts += [*_table(payload, doc.document, registry, "payload."), ""]
    for (name, version), doc in sorted(registry.records.items()):
        # Records of the ledger's own logs are not events: no adapter sends one.
        parts += [
            f"## Record `{name}` v{version}: {doc.document['title']} (not an event of the ledger)",
            "",
            doc.document["description"],
            "",
            *_table(doc.document, doc.document, registry),
            "",
            *_table(doc.document["properties"]["about"], doc.document, registry, "about."),
            "",
            *_table(doc.document["properties"]["author"], doc.document, registry, "author."),
            "",
        ]
    return "\n".join(parts)


def _table(
    schema: dict[str, Any], home: dict[str, Any], registry: SchemaRegistry, prefix: str = ""
) -> list[str]:
    """Rows for the schema's properties; `home` is the document its local references name."""
    required = set(schema.get("required", []))
    rows = ["| field | required | type | description |", "|---|---|---|---|"]
    for field, spec in schema["properties"].items():
        resolved = _resolve(spec, home, registry)
        description = spec.get("description") or resolved.get("description", "")
        rows.append(
            f"| `{prefix}{field}` | {'yes' if field in required else ''} | "
            f"{_kinds(resolved, home, registry)} | {description.replace('|', '/')} |"
        )
    return rows


def _resolve(
    spec: dict[str, Any], home: dict[str, Any], registry: SchemaRegistry
) -> dict[str, Any]:
    ref = spec.get("$ref", "")
    if not ref:
        return spec
    urn, _, fragment = ref.partition("#")
    target: dict[str, Any] = home
    if urn:
        if not urn.startswith(f"urn:sgl:schema:{ENVELOPE}:"):
            return spec
        doc = registry.schema(ENVELOPE, int(urn.rsplit(":", 1)[1]))
        assert doc is not None, ref
        target = doc.document
    for part in fragment.strip("/").split("/"):
        target = target[part]
    return target


def _kinds(spec: dict[str, Any], home: dict[str, Any], registry: SchemaRegistry) -> str:
    if "anyOf" in spec:
        return " or ".join(
            _kinds(_resolve(b, home, registry), home, registry) for b in spec["anyOf"]
        )
    if spec.get("type") == "array" and "items" in spec:
        spec = {**spec, "items": _resolve(spec["items"], home, registry)}
    return _type(spec)


def _type(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return "one of " + ", ".join(f"`{_literal(v)}`" for v in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    kind = spec.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(k) for k in kinds if k)
    if spec.get("format"):
        text += f" ({spec['format']})"
    if kind == "array" and "items" in spec:
        text += " of " + _type(spec["items"])
    return text or "any"


def _literal(value: object) -> str:
    """An enum value as the JSON an adapter sends: true, false and null, not Python's names."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/events.md")
    target.write_text(render())
