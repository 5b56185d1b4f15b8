"""Corrections and retractions at the door: the target must exist, in the same case."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.errors import BatchRejected, InvalidEvent
from sgl.bootstrap import Container
from tests.factories import make_event, new_case_id


def correction(target: dict[str, Any], **payload: Any) -> dict[str, Any]:
    corrected = {**target["payload"], **payload}
    return make_event(
        "correction.recorded",
        target["case_id"],
        agency=target["agency"],
        amends=target["event_id"],
        payload={"corrected_payload": corrected, "reason": "recount"},
    )


def retraction(target: dict[str, Any]) -> dict[str, Any]:
    return make_event(
        "entry.retracted",
        target["case_id"],
        agency=target["agency"],
        amends=target["event_id"],
        payload={"reason": "entered on the wrong case"},
    )


def problems_of(container: Container, events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    ends = container.log.end_offsets()
    with pytest.raises(InvalidEvent) as caught:
        container.ledger.submit(events)
    assert container.log.end_offsets() == ends, "nothing is appended"
    return {(p.pointer, p.rule) for p in caught.value.problems}


def test_a_correction_and_a_retraction_of_events_in_the_ledger_are_accepted(
    container: Container,
) -> None:
    """Targets appended by earlier requests are found, on both backends."""
    injury = make_event("injury.observed")
    contact = make_event("contact.recorded", injury["case_id"])
    container.ledger.submit([injury, contact])
    receipts = container.ledger.submit([correction(injury, count=3), retraction(contact)])
    assert [r.status for r in receipts] == ["accepted", "accepted"]


def test_a_target_earlier_in_the_same_batch_is_found_but_not_a_later_one(
    container: Container,
) -> None:
    """Order inside a batch matters: an amendment must follow its target."""
    injury = make_event("injury.observed")
    assert len(container.ledger.submit([injury, correction(injury, count=2)])) == 2
    later = make_event("injury.observed")
    assert problems_of(container, [correction(later, count=2), later]) == {
        ("/amends", "target-exists")
    }


def test_an_unknown_target_is_refused(container: Container) -> None:
    """Naming an event the ledger does not hold is a 422 on /amends."""
    ghost = make_event("injury.observed")
    assert problems_of(container, [retraction(ghost)]) == {("/amends", "target-exists")}


def test_a_target_in_another_case_is_refused(container: Container) -> None:
    """An amendment cannot reach across cases."""
    injury = make_event("injury.observed")
    container.ledger.submit([injury])
    stray = retraction(injury)
    stray["case_id"] = new_case_id()
    assert problems_of(container, [stray]) == {("/amends", "same-case")}


def test_amends_on_an_ordinary_event_is_refused(container: Container) -> None:
    """Only corrections and retractions may name `amends`."""
    injury = make_event("injury.observed")
    container.ledger.submit([injury])
    sneaky = make_event("contact.recorded", injury["case_id"], amends=injury["event_id"])
    assert problems_of(container, [sneaky]) == {("/amends", "amendment-type")}


def test_an_amendment_of_an_amendment_is_refused(container: Container) -> None:
    """Corrections name the original event, never another correction."""
    injury = make_event("injury.observed")
    first = correction(injury, count=2)
    container.ledger.submit([injury, first])
    again = retraction(first)
    assert problems_of(container, [again]) == {("/amends", "amends-original")}


def test_a_corrected_payload_must_fit_the_target_type(container: Container) -> None:
    """The corrected payload is validated against the amended event's own schema."""
    injury = make_event("injury.observed")
    container.ledger.submit([injury])
    bad = correction(injury, count=0, body_region="elbow")
    assert problems_of(container, [bad]) == {
        ("/payload/corrected_payload/count", "minimum"),
        ("/payload/corrected_payload/body_region", "enum"),
    }


def test_a_batch_with_one_bad_amendment_appends_nothing(container: Container) -> None:
    """Amendment rules are part of the batch's all-or-nothing validation, by item index."""
    good = make_event("injury.observed")
    ghost = make_event("injury.observed")
    ends = container.log.end_offsets()
    with pytest.raises(BatchRejected) as caught:
        container.ledger.submit([good, retraction(ghost)])
    assert [(p.item, p.rule) for p in caught.value.problems] == [(1, "target-exists")]
    assert container.log.end_offsets() == ends
