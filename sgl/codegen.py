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

from ledger.builders import Envelope, Practitioner
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


def _annotation(spec: dict[str, Any], registry: SchemaRegistry) -> str:
    ref = spec.get("$ref", "")
    if ref.endswith("#/$defs/practitioner"):
        return "Practitioner"
    if ref:
        envelope = registry.schema(ENVELOPE, _envelope_version(ref))
        assert envelope is not None
        spec = {**envelope.document["$defs"][ref.rsplit("/", 1)[1]], **spec}
    if "enum" in spec:
        return "Literal[" + ", ".join(repr(v) for v in spec["enum"]) + "]"
    kind = spec.get("type")
    if isinstance(kind, list):
        return " | ".join(_simple(k) for k in kind)
    if kind == "array":
        return f"list[{_annotation(spec.get('items', {}), registry)}]"
    return _simple(kind)


def _envelope_version(ref: str) -> int:
    """The envelope version a `urn:sgl:schema:envelope:N#/$defs/...` reference names."""
    urn = ref.partition("#")[0]
    return int(urn.rsplit(":", 1)[1]) if urn.startswith(f"urn:sgl:schema:{ENVELOPE}:") else 1


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
