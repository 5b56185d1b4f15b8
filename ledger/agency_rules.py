"""What the append path refuses about agencies: an agency an event names that is not in the
agency registry, a registry event off the registry's case (or another event on it),
an agency registered twice, and an update of an agency never registered.

The registry itself is a read model (projections.agencies); the ledger asks it through the
`AgencyRegister` port, wired in sgl.bootstrap, and never imports it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from importlib.resources import files
from typing import Any, Protocol

import orjson

from ledger.envelope import Event
from ledger.errors import Problem
from ledger.input_rules import values_at
from ledger.schemas import FieldPath, SchemaRegistry, pointer

# The reserved case id under which the registry's events are recorded.
REGISTRY_CASE = "SGL-REGISTRY"
REGISTERED = "agency.registered"
UPDATED = "agency.updated"
REGISTRY_TYPES = frozenset({REGISTERED, UPDATED})
# The ledger's own agency id: it records the alerts the ledger raises, and is no adapter's.
LEDGER_AGENCY = "safeguarding-ledger"
_AGENCY_ID: FieldPath = ("payload", "agency_id")
# The kinds of agency (envelope version 2's `agency_kind`): what rules and clocks speak of.
KINDS: tuple[str, ...] = tuple(
    orjson.loads(files("schemas").joinpath("envelope", "2.json").read_bytes())["$defs"][
        "agency_kind"
    ]["enum"]
)


class AgencyRegister(Protocol):
    """What the append path asks of the agency registry."""

    def unknown(self, agency_ids: Collection[str]) -> set[str]:
        """Those of the ids that are not registered (as far as the log has recorded)."""
        ...

    def remember(self, events: Sequence[Event]) -> None:
        """Registry events this process has just appended (acknowledged by the log)."""
        ...


def reserved_case_problems(document: dict[str, Any]) -> list[Problem]:
    """The registry's case holds registry events only (the registry events' schemas say the
    converse)."""
    if document["case_id"] == REGISTRY_CASE and document["type"] not in REGISTRY_TYPES:
        return [
            Problem(
                "/case_id",
                "reserved-case",
                f"{REGISTRY_CASE} is the agency registry's case: only "
                f"{' and '.join(sorted(REGISTRY_TYPES))} events are recorded on it",
            )
        ]
    return []


def agency_problems(
    documents: Sequence[tuple[int, dict[str, Any]]],
    schemas: SchemaRegistry,
    register: AgencyRegister,
) -> list[Problem]:
    """For schema-valid documents (with their index in the batch), each agency they name that
    is not registered, each registration of an id already registered, and each update of one
    that is not; an agency registered earlier in the same batch counts as registered."""
    # Where each agency was named, as path parts: a pointer is written only for a problem.
    named: list[tuple[int, dict[str, Any], list[tuple[list[str | int], str]]]] = []
    asked: set[str] = set()
    for index, document in documents:
        fields = schemas.agency_fields(document["type"], document["schema_version"])
        found = [
            (parts, value)
            for path in fields
            for parts, value in values_at(document, path)
            if isinstance(value, str)
        ]
        named.append((index, document, found))
        asked.update(value for _, value in found)
    if not asked:
        return []
    unknown = register.unknown(asked)
    registered_now: set[str] = set()
    problems: list[Problem] = []
    for index, document, found in named:
        if document["type"] == REGISTERED:
            subject = document["payload"]["agency_id"]
            if subject not in unknown or subject in registered_now:
                problems.append(
                    Problem(
                        pointer(list(_AGENCY_ID)),
                        "already-registered",
                        f"agency {subject!r} is already registered: change it with {UPDATED}",
                        index,
                    )
                )
            registered_now.add(subject)
        for parts, agency in found:
            if agency not in unknown or agency in registered_now:
                continue
            if document["type"] == REGISTERED and parts == list(_AGENCY_ID):
                continue
            problems.append(
                Problem(
                    pointer(parts),
                    "unregistered-agency",
                    f"unregistered agency {agency!r}: register it first "
                    f"({REGISTERED} on case {REGISTRY_CASE})",
                    index,
                )
            )
    return problems
