"""Generate ledger/event_types.py (typed payloads and builders) from the schemas."""

from __future__ import annotations

import keyword
import sys
from pathlib import Path
from typing import Any

from ledger.schemas import ENVELOPE, SchemaRegistry

HEADER = '''"""Typed payloads and one builder per event type, newest schema versions.

Generated from schemas/ by `python -m sgl.codegen`; do not edit by hand.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from ledger.builders import Envelope, Practitioner, Role
'''


def render(registry: SchemaRegistry | None = None) -> str:
    """The module's source text."""
    registry = registry or SchemaRegistry()
    parts = [HEADER]
    names = []
    for event_type in registry.event_types:
        version = registry.latest(event_type)
        doc = registry.schema(event_type, version)
        assert doc is not None
        payload = doc.document["properties"]["payload"]
        cls = "".join(w.capitalize() for w in event_type.replace(".", "_").split("_")) + "Payload"
        func = event_type.replace(".", "_")
        names += [cls, func]
        required = set(payload.get("required", []))
        fields = []
        for name, spec in payload["properties"].items():
            kind = _annotation(spec, registry)
            if name not in required:
                kind = f"NotRequired[{kind}]"
            fields.append(f"    {name}: {kind}")
        parts.append(
            f"\n\nclass {cls}(TypedDict):\n"
            f'    """The payload of `{event_type}` v{version}."""\n\n' + "\n".join(fields)
        )
        parts.append(
            f"\n\n\ndef {func}(envelope: Envelope, payload: {cls}) -> dict[str, Any]:\n"
            f'    """{doc.document["title"]} (`{event_type}` v{version})."""\n'
            f'    return envelope.event("{event_type}", {version}, payload)'
        )
    assert not any(keyword.iskeyword(n) for n in names)
    parts.append("\n\n__all__ = [\n" + "".join(f'    "{n}",\n' for n in sorted(names)) + "]\n")
    return "".join(parts)


# Envelope definitions the builders module names: a field referring to one is typed by name.
_NAMED = {
    "#/$defs/practitioner": "Practitioner",
    "#/$defs/practitioner/properties/role": "Role",
}


def _annotation(spec: dict[str, Any], registry: SchemaRegistry) -> str:
    ref = spec.get("$ref", "")
    named = next((name for end, name in _NAMED.items() if ref.endswith(end)), None)
    if named is not None:
        return named
    if ref:
        urn, _, fragment = ref.partition("#")
        envelope = registry.schema(ENVELOPE, int(urn.rsplit(":", 1)[1]))
        assert envelope is not None
        target: dict[str, Any] = envelope.document
        for part in fragment.strip("/").split("/"):
            target = target[part]
        spec = {**target, **spec}
    if "anyOf" in spec:
        return " | ".join(_annotation(branch, registry) for branch in spec["anyOf"])
    values = spec["enum"] if "enum" in spec else [spec["const"]] if "const" in spec else None
    if values is not None:
        return "Literal[" + ", ".join(repr(v) for v in values) + "]"
    kind = spec.get("type")
    if isinstance(kind, list):
        return " | ".join(_simple(k) for k in kind)
    if kind == "array":
        return f"list[{_annotation(spec.get('items', {}), registry)}]"
    return _simple(kind)


def _simple(kind: object) -> str:
    return {
        "string": "str",
        "integer": "int",
        "boolean": "bool",
        "null": "None",
        "object": "dict[str, Any]",
        "number": "float",
    }.get(str(kind), "Any")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("ledger/event_types.py")
    target.write_text(render())
