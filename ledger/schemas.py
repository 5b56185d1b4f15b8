"""Load the JSON Schemas once, compile their validators, and turn violations into Problems."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import jsonschema_rs
import orjson

from ledger.date_rules import (
    condition_problems,
    earliest_possible,
    is_date_condition,
    order_problems,
)
from ledger.envelope import is_canonical_instant, parse_instant
from ledger.errors import Problem
from ledger.limits import MAX_DEPTH

ENVELOPE = "envelope"
RECORDS = "records"
"""The folder of the schemas of records the ledger keeps on logs of its own (inquiry notes),
laid out as the events' are (`records/<type>/<version>.json`): never events of the ledger."""
# The kinds of field the ledger checks beyond its schemas (see ledger.input_rules).
CHECKED_FORMATS = ("uuid", "date", "date-time")
INTEGER = "integer"
ANY_ITEM = "*"
ENVELOPE_URN = "urn:sgl:schema:envelope:"
AGENCY_DEF = "#/$defs/agency"

FieldPath = tuple[str, ...]
"""Property names from the event's root; ANY_ITEM stands for every item of an array."""


def pointer(parts: Iterator[str | int] | list[str | int]) -> str:
    """Render path parts as an RFC 6901 JSON pointer."""
    return "".join(["/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts])


@dataclass(frozen=True, slots=True)
class SchemaDoc:
    """One published schema: its type, version and JSON document."""

    type: str
    version: int
    document: dict[str, Any]


class SchemaRegistry:
    """Every event schema by type and version, with validators compiled once."""

    def __init__(
        self, directory: Traversable | None = None, clock_skew: timedelta = timedelta(0)
    ) -> None:
        root = directory or files("schemas")
        self.clock_skew = clock_skew
        self.docs = _load(root, skip=RECORDS)
        self.records = _load(root / RECORDS)
        resources = [
            (d.document["$id"], d.document) for d in (*self.docs.values(), *self.records.values())
        ]
        registry = jsonschema_rs.Registry(resources)
        self._registry = registry
        self._payload_validators: dict[tuple[str, int], Any] = {}
        self._validators = {
            key: jsonschema_rs.validator_for(doc.document, validate_formats=True, registry=registry)
            for key, doc in self.docs.items()
            if key[0] != ENVELOPE
        }
        self._versions: dict[str, list[int]] = {}
        for name, version in sorted(self._validators):
            self._versions.setdefault(name, []).append(version)
        self._record_validators = {
            key: jsonschema_rs.validator_for(doc.document, validate_formats=True, registry=registry)
            for key, doc in self.records.items()
        }
        by_id = {d.document["$id"]: d.document for d in self.docs.values()}
        self._by_id = by_id | {d.document["$id"]: d.document for d in self.records.values()}
        self._fields = {
            key: tuple(sorted(set(_typed_fields(self.docs[key].document, by_id))))
            for key in self._validators
        }
        self._agency_fields = {
            key: tuple(sorted(set(_agency_fields(self.docs[key].document, by_id))))
            for key in self._validators
        }

    def typed_fields(self, name: str, version: int) -> tuple[tuple[FieldPath, str], ...]:
        """Where an event of this type and version holds a UUID, a date, a date-time or an
        integer: (path, `uuid` | `date` | `date-time` | `integer`)."""
        return self._fields[(name, version)]

    def agency_fields(self, name: str, version: int) -> tuple[FieldPath, ...]:
        """Where an event of this type and version names an agency (the envelope's
        `agency`, and every payload field defined as an agency id, in arrays and nested
        objects too)."""
        return self._agency_fields[(name, version)]

    @property
    def event_types(self) -> Mapping[str, list[int]]:
        """Each event type with its schema versions, oldest first."""
        return self._versions

    def latest(self, name: str) -> int:
        """The newest schema version of an event type."""
        return self._versions[name][-1]

    def schema(self, name: str, version: int) -> SchemaDoc | None:
        """The schema document for a type and version, or None."""
        return self.docs.get((name, version))

    def problems(self, document: object, now: datetime | None = None) -> list[Problem]:
        """Every rule the document breaks; empty when it is a valid event."""
        if not isinstance(document, dict):
            return [Problem("", "type", "an event must be a JSON object")]
        kind, version = document.get("type"), document.get("schema_version")
        # A known type and version (nearly every event) is looked up at once; anything else
        # is named by _identify. A bool is an int to Python, and 1.0 equals 1: not versions.
        validator = (
            self._validators.get((kind, version))
            if type(kind) is str and type(version) is int
            else None
        )
        if validator is None:
            key, head = self._identify(document)
            if head:
                return head
            assert key is not None
            validator = self._validators[key]
        if validator.is_valid(document):
            return self._time_rules(document, now)
        errors = list(validator.iter_errors(document))
        problems = [
            _to_problem(e, self._by_id)
            for e in errors
            if not is_date_condition(list(e.schema_path), list(e.instance_path))
        ]
        if len(problems) < len(errors):
            # The envelope's date conditions, said by the field at fault and a named rule.
            problems = condition_problems(document) + problems
        return _collapse(problems)

    def record_problems(self, name: str, version: int, document: object) -> list[Problem]:
        """Every rule a record of one of the ledger's own logs (`records/`) breaks; empty when
        it is valid."""
        validator = self._record_validators[(name, version)]
        if validator.is_valid(document):
            return []
        return _collapse([_to_problem(e, self._by_id) for e in validator.iter_errors(document)])

    def payload_problems(self, name: str, version: int, payload: object, at: str) -> list[Problem]:
        """What a payload breaks of the given type's payload schema, with pointers under `at`."""
        key = (name, version)
        if key not in self._payload_validators:
            ref = {"$ref": f"urn:sgl:schema:{name}:{version}#/properties/payload"}
            self._payload_validators[key] = jsonschema_rs.validator_for(
                ref, validate_formats=True, registry=self._registry
            )
        validator = self._payload_validators[key]
        if validator.is_valid(payload):
            return []
        return [
            Problem(at + p.pointer, p.rule, p.detail)
            for p in _collapse(
                [_to_problem(e, self._by_id) for e in validator.iter_errors(payload)]
            )
        ]

    def _identify(
        self, document: Mapping[str, Any]
    ) -> tuple[tuple[str, int] | None, list[Problem]]:
        kind = document.get("type")
        version = document.get("schema_version")
        if kind is None:
            return None, [Problem("/type", "required", "the event type is missing")]
        if not isinstance(kind, str):
            return None, [Problem("/type", "type", "the event type must be a string")]
        versions = self.event_types.get(kind)
        if versions is None:
            known = ", ".join(self.event_types)
            return None, [
                Problem("/type", "known-type", f"unknown event type {kind!r}; known: {known}")
            ]
        if version is None:
            return None, [Problem("/schema_version", "required", "schema_version is missing")]
        if not isinstance(version, int) or isinstance(version, bool) or version not in versions:
            return None, [
                Problem(
                    "/schema_version",
                    "known-version",
                    f"{kind} has no schema version {version!r}; known: {versions}",
                )
            ]
        return (kind, version), []

    def _time_rules(self, document: Mapping[str, Any], now: datetime | None) -> list[Problem]:
        # Whole-second UTC texts order as their instants do, and each is one Python can hold:
        # no parsing on the hot path but of recorded_at, when it is held to now.
        fast = _all_canonical(document)
        if fast:
            instants = (
                {} if now is None else {"/recorded_at": parse_instant(document["recorded_at"])}
            )
        else:
            instants, problems = _instants(_instant_texts(document))
            if problems:
                return problems
        problems = order_problems(document)
        recorded_text = document["recorded_at"]
        earliest = earliest_possible(document)
        if earliest is not None and (
            recorded_text < earliest
            if fast
            else parse_instant(recorded_text) < parse_instant(earliest)
        ):
            problems.append(_recorded_early(document))
        if now is not None and instants["/recorded_at"] > now + self.clock_skew:
            problems.append(
                Problem(
                    "/recorded_at",
                    "not-in-future",
                    f"recorded_at is in the future "
                    f"(more than {self.clock_skew} ahead of the ledger)",
                )
            )
        return problems


def _load(root: Traversable, skip: str = "") -> dict[tuple[str, int], SchemaDoc]:
    """The schemas under a folder, one folder a type holding `<version>.json` files."""
    docs: dict[tuple[str, int], SchemaDoc] = {}
    if not root.is_dir():
        return docs  # a folder of event schemas alone (a test's, an older release's)
    for folder in sorted(root.iterdir(), key=lambda t: t.name):
        if not folder.is_dir() or folder.name == skip:
            continue
        for path in sorted(folder.iterdir(), key=lambda t: t.name):
            if path.name.endswith(".json"):
                version = int(path.name.removesuffix(".json"))
                doc = SchemaDoc(folder.name, version, orjson.loads(path.read_bytes()))
                docs[(doc.type, doc.version)] = doc
    return docs


def _nodes(
    root: dict[str, Any], by_id: Mapping[str, dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], FieldPath, dict[str, Any] | None]]:
    """Every node of a schema with the field path it describes, following references into the
    ledger's own schemas (with the document a node's reference points into, else None);
    iterative, and bounded by the path length the ledger accepts anyway."""
    pending: list[tuple[Any, dict[str, Any], FieldPath]] = [(root, root, ())]
    while pending:
        node, doc, path = pending.pop()
        if not isinstance(node, dict) or len(path) > MAX_DEPTH:
            continue
        ref = node.get("$ref")
        target_doc = None
        if isinstance(ref, str):
            target_doc, target = _resolve(ref, doc, by_id)
            pending.append((target, target_doc, path))
        yield node, path, target_doc
        for name, sub in node.get("properties", {}).items():
            pending.append((sub, doc, (*path, name)))
        if "items" in node:
            pending.append((node["items"], doc, (*path, ANY_ITEM)))
        for keyword in ("allOf", "anyOf", "oneOf"):
            pending.extend((sub, doc, path) for sub in node.get(keyword, []))


def _typed_fields(
    root: dict[str, Any], by_id: Mapping[str, dict[str, Any]]
) -> Iterator[tuple[FieldPath, str]]:
    """Every (path, kind) a schema declares: checked formats, and integers."""
    for node, path, _ in _nodes(root, by_id):
        if node.get("format") in CHECKED_FORMATS:
            yield path, node["format"]
        kinds = node.get("type")
        if kinds == INTEGER or (isinstance(kinds, list) and INTEGER in kinds):
            yield path, INTEGER


def _agency_fields(
    root: dict[str, Any], by_id: Mapping[str, dict[str, Any]]
) -> Iterator[FieldPath]:
    """Every path a schema defines as an agency id (a reference to an envelope's
    `$defs/agency`)."""
    for node, path, target_doc in _nodes(root, by_id):
        if (
            target_doc is not None
            and node["$ref"].endswith(AGENCY_DEF)
            and target_doc["$id"].startswith(ENVELOPE_URN)
        ):
            yield path


def _resolve(
    ref: str, doc: dict[str, Any], by_id: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any], Any]:
    """The schema document a reference points into, and the node it names."""
    base, _, fragment = ref.partition("#")
    target_doc = by_id[base] if base else doc
    node: Any = target_doc
    for part in fragment.split("/")[1:]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return target_doc, node


# What recorded_at must not precede, by occurred_precision (the earliest it can have happened).
_EARLIEST_NAME = {"range": "occurred_range.not_before", "disputed": "every account's occurred_at"}


def _recorded_early(document: Mapping[str, Any]) -> Problem:
    """The problem of an event recorded before the earliest it can have happened."""
    named = _EARLIEST_NAME.get(document.get("occurred_precision", ""), "occurred_at")
    return Problem(
        "/recorded_at",
        "recorded-after-occurred",
        f"recorded_at is earlier than {named}: nothing can be recorded before it happens",
    )


def _instant_texts(document: Mapping[str, Any]) -> dict[str, str]:
    """The envelope's instants by JSON pointer: recorded_at, and when it happened."""
    texts = {"/recorded_at": document["recorded_at"]}
    if "occurred_at" in document:
        texts["/occurred_at"] = document["occurred_at"]
    for name, text in document.get("occurred_range", {}).items():
        texts[f"/occurred_range/{name}"] = text
    for index, account in enumerate(document.get("occurred_accounts", ())):
        texts[f"/occurred_accounts/{index}/occurred_at"] = account["occurred_at"]
    return texts


def _all_canonical(document: Mapping[str, Any]) -> bool:
    """Whether every instant of the envelope (those _instant_texts names) is canonical."""
    if not is_canonical_instant(document["recorded_at"]):
        return False
    if "occurred_at" in document and not is_canonical_instant(document["occurred_at"]):
        return False
    bounds = document.get("occurred_range")
    if bounds is not None and not all(is_canonical_instant(t) for t in bounds.values()):
        return False
    accounts = document.get("occurred_accounts")
    return accounts is None or all(is_canonical_instant(a["occurred_at"]) for a in accounts)


def _instants(texts: Mapping[str, str]) -> tuple[dict[str, datetime], list[Problem]]:
    """Parse the envelope's instants; RFC 3339 allows some texts Python cannot hold."""
    instants: dict[str, datetime] = {}
    problems: list[Problem] = []
    for at, text in texts.items():
        try:
            instants[at] = parse_instant(text)
        except ValueError:
            problems.append(
                Problem(
                    at,
                    "format",
                    f"{text!r} cannot be stored: use RFC 3339 with an offset "
                    "(a leap second, :60, is not supported)",
                )
            )
    return instants, problems


def _to_problem(error: Any, by_id: Mapping[str, dict[str, Any]]) -> Problem:
    """The problem a schema error stands for: the field at fault, the rule broken, and what
    the rule wants, never the value sent (it may be free text about a child)."""
    keyword = str(error.schema_path[-1]) if error.schema_path else "schema"
    path: list[str | int] = list(error.instance_path)
    kind = error.kind
    named = _named_field(kind)
    stated = _stated_rule(error.absolute_keyword_location, by_id)
    if stated is not None:
        # A cross-field rule the schema names and says (see RULE_KEYWORD).
        rule, said = stated
        return Problem(pointer(path if named is None else [*path, named]), rule, said)
    if named is not None and isinstance(kind, jsonschema_rs.ValidationErrorKind.Not):
        return Problem(pointer([*path, named]), "not-allowed", f"{named!r} is not allowed here")
    if keyword == "required":
        path.append(kind.property)
        return Problem(pointer(path), keyword, f"{kind.property!r} is required")
    if keyword in ("unevaluatedProperties", "additionalProperties"):
        unexpected = [str(u) for u in getattr(kind, "unexpected", [])]
        if len(unexpected) == 1:
            return Problem(
                pointer([*path, unexpected[0]]), keyword, f"{unexpected[0]!r} is not allowed"
            )
        names = ", ".join(repr(u) for u in unexpected)
        return Problem(pointer(path), keyword, f"{_name(path)} may not hold {names}")
    return Problem(pointer(path), keyword, f"{_name(path)} must {_wanted(kind)}")


RULE_KEYWORD = "x-rule"
"""A schema states a cross-field rule as an `allOf` entry holding only that rule, named by this
keyword and said by the entry's `description`; the ledger reports a breach by that name and
description (at the field the rule names, if it names one)."""


def _stated_rule(
    location: str | None, by_id: Mapping[str, dict[str, Any]]
) -> tuple[str, str] | None:
    """(rule, description) of the innermost stated rule the failing keyword lies in, if any."""
    if not location:
        return None
    base, _, fragment = location.partition("#")
    node: Any = by_id.get(base)
    found = None
    for part in fragment.split("/")[1:]:
        if isinstance(node, dict) and RULE_KEYWORD in node:
            found = (str(node[RULE_KEYWORD]), str(node["description"]))
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return found
    return found


def _named_field(kind: Any) -> str | None:
    """The one field a failed `required` or `not: {required: [...]}` names, if any."""
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return str(kind.property)
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Not) and isinstance(kind.schema, dict):
        fields = kind.schema.get("required")
        if kind.schema.keys() == {"required"} and isinstance(fields, list) and len(fields) == 1:
            return str(fields[0])
    return None


def _name(path: list[str | int]) -> str:
    """How a detail names the value at a path: its field, or its item of a field."""
    if not path:
        return "the event"
    last = path[-1]
    if isinstance(last, int):
        return f"item {last} of {_name(path[:-1])}"
    return str(last)


_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_FORMAT_NAMES = {
    "date": "a date (YYYY-MM-DD)",
    "date-time": "an instant (RFC 3339 with an offset)",
    "uuid": "a UUID",
}


def _wanted(kind: Any) -> str:
    """What a keyword wants of a value, said after "must"; from the schema, never the value."""
    for form, say in _WANTS:
        if isinstance(kind, form):
            return say(kind)
    return f"keep its schema's {type(kind).__name__} rule"


def _alternatives(kind: Any) -> str:
    """What any one of an `anyOf` or `oneOf`'s forms wants."""
    forms = [" and ".join(_wanted(e.kind) for e in option) for option in kind.context]
    if all(f.startswith("be ") for f in forms):
        return "be " + " or ".join(f.removeprefix("be ") for f in forms)
    return " or ".join(forms)


_KINDS = jsonschema_rs.ValidationErrorKind
_WANTS: tuple[tuple[type, Callable[[Any], str]], ...] = (
    (_KINDS.Enum, lambda k: "be one of: " + ", ".join(_json(o) for o in k.options)),
    (_KINDS.Constant, lambda k: f"be {_json(k.expected_value)}"),
    (_KINDS.Type, lambda k: "be " + " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in k.types)),
    (
        _KINDS.Format,
        lambda k: f"be {_FORMAT_NAMES.get(k.format, 'in the format ' + repr(k.format))}",
    ),
    (_KINDS.Pattern, lambda k: f"match the pattern {k.pattern}"),
    (_KINDS.AnyOf, _alternatives),
    (_KINDS.OneOfNotValid, _alternatives),
    (_KINDS.OneOfMultipleValid, lambda k: "fit exactly one of its allowed forms, not several"),
    (_KINDS.MinLength, lambda k: f"be at least {k.limit} characters long"),
    (_KINDS.MaxLength, lambda k: f"be at most {k.limit} characters long"),
    (_KINDS.Minimum, lambda k: f"be at least {_json(k.limit)}"),
    (_KINDS.Maximum, lambda k: f"be at most {_json(k.limit)}"),
    (_KINDS.ExclusiveMinimum, lambda k: f"be more than {_json(k.limit)}"),
    (_KINDS.ExclusiveMaximum, lambda k: f"be less than {_json(k.limit)}"),
    (_KINDS.MinItems, lambda k: f"hold at least {k.limit} item(s)"),
    (_KINDS.MaxItems, lambda k: f"hold at most {k.limit} item(s)"),
    (_KINDS.MinProperties, lambda k: f"have at least {k.limit} field(s)"),
    (_KINDS.MaxProperties, lambda k: f"have at most {k.limit} field(s)"),
    (_KINDS.UniqueItems, lambda k: "not hold the same item twice"),
    (_KINDS.Required, lambda k: f"have {k.property!r}"),
)


def _json(value: Any) -> str:
    """A value from the schema as JSON text."""
    return orjson.dumps(value).decode()


def _collapse(problems: list[Problem]) -> list[Problem]:
    """Drop the echo of a failed property (`unevaluatedProperties` on a field already named)."""
    named = {p.pointer for p in problems if p.rule != "unevaluatedProperties"}
    kept = []
    seen = set()
    for p in problems:
        if p.rule == "unevaluatedProperties" and any(
            n == p.pointer or n.startswith(p.pointer + "/") for n in named
        ):
            continue
        if (p.pointer, p.rule) not in seen:
            seen.add((p.pointer, p.rule))
            kept.append(p)
    return kept
