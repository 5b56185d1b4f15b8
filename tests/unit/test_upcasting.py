"""Schema evolution: version 1 events read as version 2, and a mixed log folds like a new one."""

from __future__ import annotations

import copy
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.schemas import SchemaRegistry
from ledger.upcasting import UPCASTERS, upcast_payload
from projections.case_state import project
from projections.effective import effective_events
from tests.factories import as_events, example, make_event, new_case_id

REGISTRY = SchemaRegistry()

# (v1 child_seen, v1 child_seen_alone or None for absent) -> v2 child_seen
MAPPING = [
    ((False, None), "not_seen"),
    ((False, False), "not_seen"),
    ((True, None), "seen"),
    ((True, True), "seen_alone"),
    ((True, False), "seen_with_others"),
]


def v1_contact(case_id: str, seen: bool, alone: bool | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"contact_type": "home_visit", "child_seen": seen}
    if alone is not None:
        payload["child_seen_alone"] = alone
    return make_event("contact.recorded", case_id, payload=payload)


def as_v2(event: dict[str, Any]) -> dict[str, Any]:
    """The same contact written directly in version 2."""
    out = copy.deepcopy(event)
    out["schema_version"] = 2
    out["payload"] = upcast_payload("contact.recorded", 1, 2, event["payload"])
    return out


@pytest.mark.parametrize(("v1", "v2"), MAPPING)
def test_the_upcast_payload_is_a_valid_version_2_payload(
    v1: tuple[bool, bool | None], v2: str
) -> None:
    """Each version 1 shape maps to the version 2 value, which validates against v2."""
    event = as_v2(v1_contact(new_case_id(), *v1))
    assert event["payload"]["child_seen"] == v2
    assert REGISTRY.problems(event) == []


def test_every_old_version_has_an_upcaster() -> None:
    """For every type, each version below the newest has a step up."""
    for name, versions in REGISTRY.event_types.items():
        for version in versions[:-1]:
            assert (name, version) in UPCASTERS, (name, version)
    assert REGISTRY.latest("contact.recorded") == 2
    assert example("contact.recorded", 2)["schema_version"] == 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.one_of(st.none(), st.booleans()), st.booleans()),
        min_size=1,
        max_size=25,
    )
)
def test_a_log_that_mixes_versions_folds_like_the_all_new_log(
    contacts: list[tuple[bool, bool | None, bool]],
) -> None:
    """Any mix of v1 and v2 contacts folds to the state of the same contacts all in v2."""
    case_id = new_case_id()
    opened = make_event("case.opened", case_id)
    old = [v1_contact(case_id, seen, alone) for seen, alone, _ in contacts]
    mixed = [as_v2(e) if use_v2 else e for e, (_, _, use_v2) in zip(old, contacts, strict=True)]
    all_new = [as_v2(e) for e in old]
    fold_mixed = reduce(project, effective_events(as_events([opened, *mixed])), None)
    fold_new = reduce(project, effective_events(as_events([opened, *all_new])), None)
    assert fold_mixed == fold_new
    assert fold_new is not None
    assert fold_new.contacts_child_seen == sum(seen for seen, _, _ in contacts)
    assert fold_new.contacts_child_seen_alone == sum(
        bool(seen and alone) for seen, alone, _ in contacts
    )


def test_a_correction_of_a_version_1_event_is_read_in_version_2() -> None:
    """A correction's payload follows its target's recorded version and is upcast with it."""
    case_id = new_case_id()
    contact = v1_contact(case_id, True, None)
    fix = make_event(
        "correction.recorded",
        case_id,
        amends=contact["event_id"],
        payload={
            "corrected_payload": {
                "contact_type": "home_visit",
                "child_seen": True,
                "child_seen_alone": True,
            },
            "reason": "child was seen alone after all",
        },
    )
    events = effective_events(as_events([contact, fix]))
    assert events[0].recorded_version == 1 and events[0].schema_version == 2
    assert events[0].payload["child_seen"] == "seen_alone"


EXAMPLES_BY_ID = {
    item["event_id"]: item
    for doc in REGISTRY.docs.values()
    for item in doc.document.get("examples", [])
}
OLD_VERSIONS = [
    (name, version) for name, versions in REGISTRY.event_types.items() for version in versions[:-1]
]


@pytest.mark.parametrize(
    ("name", "version"), OLD_VERSIONS, ids=[f"{n}/v{v}" for n, v in OLD_VERSIONS]
)
def test_every_old_version_still_validates_and_folds_as_the_newest(name: str, version: int) -> None:
    """Each old version's examples are still accepted, upcast to a valid newest payload, and
    a case holding the old event folds to the state of the same event sent in the newest."""
    latest = REGISTRY.latest(name)
    doc = REGISTRY.schema(name, version)
    assert doc is not None
    for item in doc.document["examples"]:
        case_id = new_case_id()
        old = {**copy.deepcopy(item), "case_id": case_id}
        assert REGISTRY.problems(old) == []
        new = {
            **old,
            "schema_version": latest,
            "payload": upcast_payload(name, version, latest, old["payload"]),
        }
        assert REGISTRY.problems(new) == []
        before = [make_event("case.opened", case_id)]
        if "amends" in item:
            before.append({**EXAMPLES_BY_ID[item["amends"]], "case_id": case_id})
        fold_old = reduce(project, effective_events(as_events([*before, old])), None)
        fold_new = reduce(project, effective_events(as_events([*before, new])), None)
        assert fold_old == fold_new
