"""Policy files: TOML from a path or the bundled package data, checked by a JSON Schema.

The bundled policies and their schemas (`policies/*.toml`, `policies/*.schema.json`) are
package data, so an installed wheel finds them wherever it is installed. A file that breaks
its schema is refused with every problem named: the file, the field and the rule broken.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Sequence
from datetime import date, time
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from ledger.errors import LedgerError

POLICIES = "policies"
TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "array": "a list",
    "object": "a table",
    "boolean": "true or false",
}


class PolicyError(LedgerError):
    """A policy file that cannot be used; the message names the file, the field and the rule."""


def read_policy(path: Path | None, bundled: str) -> tuple[dict[str, Any], str]:
    """The parsed TOML of the file at `path`, or of the bundled policy; and its name."""
    source = files(POLICIES) / bundled if path is None else path
    try:
        return tomllib.loads(source.read_text(encoding="utf-8")), str(source)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{source}: {exc}") from exc


def check_policy(data: dict[str, Any], source: str, schema: str) -> None:
    """Refuse a policy document that breaks the named schema, naming every problem."""
    document, validator = _schema(schema)
    problems = _dates(data, [], data)
    if not problems:
        problems = _merged([_describe(e, data, document) for e in validator.iter_errors(data)])
    if problems:
        raise PolicyError(f"{source}: " + "; ".join(problems))


@functools.cache
def _schema(name: str) -> tuple[dict[str, Any], Any]:
    document = orjson.loads((files(POLICIES) / name).read_bytes())
    return document, jsonschema_rs.validator_for(document)


def _dates(node: object, path: list[str | int], data: dict[str, Any]) -> list[str]:
    """TOML dates and times, which no policy field takes (and JSON Schema cannot check)."""
    if isinstance(node, date | time):
        return [f"{_where(path, data)}: {node} is a TOML date or time; no field takes one [type]"]
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    return [p for key, value in items for p in _dates(value, [*path, key], data)]


def _merged(problems: list[tuple[str, str, str, str]]) -> list[str]:
    """One line per field and rule: the fields missing from one table are named together."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for where, rule, detail, hint in problems:
        grouped.setdefault((where, rule, hint), []).append(detail)
    lines = []
    for (where, rule, hint), details in grouped.items():
        detail = "; ".join(dict.fromkeys(details))
        lines.append(f"{where}: {detail}{': ' + hint if hint else ''} [{rule}]")
    return lines


def _describe(
    error: Any, data: dict[str, Any], schema: dict[str, Any]
) -> tuple[str, str, str, str]:
    """Where (`clock[0].limit.unit`), the rule broken, what is wrong, and the schema's hint."""
    kind, rule = error.kind, error.kind.name
    value = error.instance
    if rule == "required":
        detail = f"{kind.property!r} is missing"
    elif rule == "additionalProperties":
        detail = ", ".join(repr(k) for k in kind.unexpected) + " not allowed here"
    elif rule == "enum":
        detail = f"{value!r} is not one of {', '.join(map(str, kind.options))}"
    elif rule == "type":
        wanted = " or ".join(TYPE_NAMES.get(t, t) for t in kind.types)
        detail = f"must be {wanted}, not {value!r}"
    elif rule == "minimum":
        detail = f"must be at least {kind.limit}, not {value!r}"
    elif rule in ("minItems", "minLength"):
        detail = "must not be empty" if kind.limit == 1 else f"needs at least {kind.limit}"
    elif rule == "pattern":
        detail = f"{value!r} does not match {kind.pattern}"
    else:
        detail = str(error.message)
    # The description of the subschema broken says what it takes; the root's says what the
    # whole file is, no help for one field; an enum or a type says it all already.
    holder = list(error.schema_path)[:-1]
    hint = ""
    if holder and rule not in ("enum", "type", "minimum"):
        hint = str(_at(schema, holder).get("description", ""))
    return _where(list(error.instance_path), data), rule, detail, hint


def _where(path: Sequence[str | int], data: dict[str, Any]) -> str:
    """The field as the TOML file spells it (`clock[0].limit.unit`), with the item's name."""
    text, named, key = "", "", ""
    node: Any = data
    for part in path:
        node = node[part]
        if isinstance(part, int):
            text += f"[{part}]"
            if isinstance(node, dict) and isinstance(node.get("name"), str) and not named:
                named = f" ({key} {node['name']!r})"
        else:
            text, key = (f"{text}.{part}" if text else part), part
    return (text or "top level") + named


def _at(schema: dict[str, Any], path: Sequence[str | int]) -> dict[str, Any]:
    """The subschema at a schema path, following local `$ref`s."""
    node: Any = schema
    for part in path:
        if part == "$ref":
            target, node = node["$ref"], schema
            for step in target.removeprefix("#/").split("/"):
                node = node[step]
        else:
            node = node[part]
    return node if isinstance(node, dict) else {}
