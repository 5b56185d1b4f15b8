"""Render docs/events.md from the schemas, so the event reference cannot drift."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ledger.schemas import ENVELOPE, SchemaRegistry


def render(registry: SchemaRegistry | None = None) -> str:
    """The event catalogue as Markdown: the envelope, then each type's payload fields."""
    registry = registry or SchemaRegistry()
    envelope = registry.schema(ENVELOPE, 1)
    assert envelope is not None
    parts = [
        "# Event reference",
        "",
        "Generated from `schemas/` by `python -m sgl.schema_docs`; do not edit by hand.",
        "The schemas themselves are served at `GET /v1/schemas/{type}/{version}`.",
        "",
        "## Envelope (every event)",
        "",
        *_table(envelope.document, registry),
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
            parts += [*_table(doc.document["properties"]["payload"], registry, "payload."), ""]
    return "\n".join(parts)


def _table(schema: dict[str, Any], registry: SchemaRegistry, prefix: str = "") -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| field | required | type | description |", "|---|---|---|---|"]
    for field, spec in schema["properties"].items():
        resolved = _resolve(spec, registry)
        description = spec.get("description") or resolved.get("description", "")
        rows.append(
            f"| `{prefix}{field}` | {'yes' if field in required else ''} | "
            f"{_type(resolved)} | {description.replace('|', '/')} |"
        )
    return rows


def _resolve(spec: dict[str, Any], registry: SchemaRegistry) -> dict[str, Any]:
    ref = spec.get("$ref", "")
    if not ref:
        return spec
    urn, _, fragment = ref.partition("#")
    prefix = f"urn:sgl:schema:{ENVELOPE}:"
    version = urn.removeprefix(prefix) if urn.startswith(prefix) else "1" if not urn else ""
    doc = registry.schema(ENVELOPE, int(version)) if version.isdigit() else None
    if doc is None:
        return spec
    target: dict[str, Any] = doc.document
    for part in fragment.strip("/").split("/"):
        target = target[part]
    return target


def _type(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return "one of " + ", ".join(f"`{v}`" for v in spec["enum"])
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


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/events.md")
    target.write_text(render())
