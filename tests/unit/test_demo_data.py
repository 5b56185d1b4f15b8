"""The demo's data as documents: Child B's story, its ids and dates, and both registries."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sgl.demo import demo_events, load_demo
from sgl.demo.agencies import CHILD_A, CHILD_B, REGISTRY_CASE, demo_registry
from sgl.demo.background import background_events
from sgl.demo.child_a import child_a
from sgl.demo.child_b import CASE, DATE_OF_BIRTH, child_b

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = json.loads((ROOT / "schemas" / "envelope" / "2.json").read_text())
KINDS = set(ENVELOPE["$defs"]["agency_kind"]["enum"])
AREA = re.compile(ENVELOPE["$defs"]["area"]["pattern"])
# Payload fields that name one agency, and those that name several.
AGENCY_FIELDS = ("from_agency", "to_agency", "lead_agency", "responsible_agency")
AGENCY_LISTS = ("invited_agencies", "attending_agencies")
# Child B's pseudonymous ids: its case, its people, its practitioners and its own records.
PERSON = re.compile(r"^PER-B-[A-Z]+$")
PRACTITIONER = re.compile(r"^P-B-\d{4}$")
RECORD = re.compile(r"^(EP|VIS|PP|ASM|ALG|MTG|PLAN)-B-[A-Z0-9]+$")


def named_agencies(event: dict[str, Any]) -> Iterator[str]:
    """Every agency an event names: its envelope's, its payload's and its accounts'."""
    yield event["agency"]
    payload = event["payload"]
    yield from (payload[f] for f in AGENCY_FIELDS if f in payload)
    for field in AGENCY_LISTS:
        yield from payload.get(field, [])
    for field in ("made_by", "withdrawn_by"):
        if "agency" in payload.get(field, {}):
            yield payload[field]["agency"]
    yield from (a["agency"] for a in event.get("occurred_accounts", []) if "agency" in a)


def strings_under(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) pair in a document, nested ones included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings_under(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from strings_under(v, key)
    elif isinstance(value, str):
        yield key, value


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_child_b_is_the_same_on_every_build() -> None:
    """Two builds are equal, and every event id is a UUID5, unique across the whole demo."""
    events = child_b()
    assert events == child_b()
    assert 120 <= len(events) <= 200
    assert all(uuid.UUID(e["event_id"]).version == 5 for e in events)
    everything = [e["event_id"] for e in demo_events(background_cases=50)]
    assert len(everything) == len(set(everything))
    assert {e["event_id"] for e in events} <= set(everything)


def test_registry_ids_depend_on_the_agency_alone() -> None:
    """A registration's id is fixed by its agency, so loading a registry again adds nothing."""
    first, again = demo_registry(), demo_registry()
    assert first == again
    ids = [e["event_id"] for e in first]
    assert len(ids) == len(set(ids)) == len(CHILD_A) + len(CHILD_B)
    assert all(e["case_id"] == REGISTRY_CASE for e in first)
    assert [e["payload"]["agency_id"] for e in first] == [e["agency"] for e in first]


def test_child_b_uses_pseudonymous_ids_only() -> None:
    """The case, its people, its practitioners and its records all have pseudonymous ids."""
    events = child_b()
    assert {e["case_id"] for e in events} == {CASE}
    assert re.fullmatch(r"CASE-B\d{4}", CASE)
    assert all(PRACTITIONER.match(e["recorded_by"]["id"]) for e in events)
    seen: dict[str, set[str]] = {"person": set(), "practitioner": set(), "record": set()}
    for event in events:
        for key, text in strings_under(event["payload"]):
            if key in ("person_id", "about_person_id"):
                assert PERSON.match(text), text
                seen["person"].add(text)
            elif key == "id":
                assert PRACTITIONER.match(text), text
                seen["practitioner"].add(text)
            elif key.endswith("_id") and key != "agency_id":
                assert RECORD.match(text), (key, text)
                seen["record"].add(text)
    assert all(seen.values()), "each kind of id is checked on at least one value"


def test_every_agency_child_b_names_is_registered_with_a_kind_and_an_area() -> None:
    """Child B names only agencies of its registry, each with a known kind and an ONS area;
    none of them is one of Child A's."""
    registry = {a["agency_id"]: a for a in CHILD_B}
    named = {agency for e in child_b() for agency in named_agencies(e)}
    assert named == set(registry), "every registered agency appears, and only those"
    assert all(a["kind"] in KINDS and AREA.match(a["area"]) for a in registry.values())
    assert not set(registry) & {a["agency_id"] for a in CHILD_A}
    assert len({a["area"] for a in CHILD_B}) == 3


def test_child_a_and_the_background_cases_name_only_registered_agencies() -> None:
    """Child A and the background cases name only Child A's registry's agencies."""
    registry = {a["agency_id"]: a for a in CHILD_A}
    named = {agency for e in child_a() for agency in named_agencies(e)}
    named |= {agency for e in background_events(200) for agency in named_agencies(e)}
    assert named == set(registry)
    assert all(a["kind"] in KINDS and AREA.match(a["area"]) for a in registry.values())
    assert len({a["area"] for a in CHILD_A}) == 1


def test_each_registry_is_recorded_before_any_event_that_names_its_agencies() -> None:
    """Registrations are dated before the first event (occurred or recorded) of their cases."""
    registered = {e["agency"]: e["recorded_at"] for e in demo_registry()}
    cases = child_a() + child_b() + list(background_events(200))
    for event in cases:
        for agency in named_agencies(event):
            assert registered[agency] < event["recorded_at"], (agency, event["type"])
            assert registered[agency] < event.get("occurred_at", event["recorded_at"])


def test_child_b_dates_are_in_a_sensible_order() -> None:
    """Nothing is recorded before it happened or before the child was born; every uncertain
    date is consistent; what ends something comes after what started it, in the log too."""
    events = child_b()
    born = datetime.fromisoformat(DATE_OF_BIRTH).date()
    for e in events:
        recorded = instant(e["recorded_at"])
        moments = [e["occurred_at"]] if "occurred_at" in e else []
        moments += [v for v in e.get("occurred_range", {}).values()]
        moments += [a["occurred_at"] for a in e.get("occurred_accounts", [])]
        assert moments or e["occurred_precision"] == "undated", e["type"]
        assert all(born < instant(m).date() and instant(m) <= recorded for m in moments)
        if "occurred_range" in e and len(e["occurred_range"]) == 2:
            assert e["occurred_range"]["not_before"] < e["occurred_range"]["not_after"]
    span = [instant(e["occurred_at"]).date() for e in events if "occurred_at" in e]
    assert 16 <= (max(span) - min(span)).days / 30.4 <= 19, "about eighteen months"
    assert events[-1]["type"] == "incident.notified"
    pairs = {
        "hospital.discharged": ("hospital.admitted", "episode_id"),
        "visit.cancelled": ("visit.planned", "visit_id"),
        "visit.no_access": ("visit.planned", "visit_id"),
        "police_protection.ended": ("police_protection.taken", "protection_id"),
        "allegation.withdrawn": ("allegation.made", "allegation_id"),
        "assessment.completed": ("assessment.started", "assessment_id"),
        "assessment.ended_incomplete": ("assessment.started", "assessment_id"),
    }
    started: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        for kind, key in pairs.values():
            if e["type"] == kind:
                started[(kind, e["payload"][key])] = e
        if e["type"] in pairs and pairs[e["type"]][1] in e["payload"]:
            kind, key = pairs[e["type"]]
            opening = started[(kind, e["payload"][key])]
            assert opening["occurred_at"] <= e["occurred_at"], (e["type"], e["payload"][key])
    visits = [e for e in events if e["type"] == "visit.planned"]
    assert all(v["occurred_at"] < v["payload"]["planned_for"] for v in visits)


def test_child_b_tells_the_story_its_walkthrough_asks_about() -> None:
    """Three areas and two transfers of the lead; a hospital's suspicion conveyed onwards as
    "no child protection concerns"; more than six months when only non-statutory services see
    the child; every kind of uncertain date; and the events of issue 15."""
    events = child_b()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
    areas = [by_type["case.opened"][0]["payload"]["responsible_area"]]
    areas += [e["payload"]["area"] for e in by_type["area.changed"]]
    assert len(set(areas)) == 3 and len(by_type["lead.changed"]) == 2
    assert len({e["agency"] for e in by_type["hospital.admitted"]}) == 3
    assert any(
        e["payload"]["discharged_to"] == "home"
        and e["payload"]["safeguarding_plan_in_place"] is False
        for e in by_type["hospital.discharged"]
    )
    suspected = next(
        e for e in by_type["injury.observed"] if e["payload"]["suspected_non_accidental"] is True
    )
    denied = next(
        e for e in by_type["referral.made"] if e["payload"]["conveyed"]["concern"] == "denied"
    )
    assert suspected["recorded_at"] < denied["recorded_at"]
    assert suspected["event_id"] not in denied["payload"]["facts"]
    assert denied["payload"]["from_agency"] != suspected["agency"]
    # The longest time between two sightings by statutory agencies, and who saw her meanwhile.
    statutory = {a["agency_id"] for a in CHILD_A + CHILD_B if a["statutory"]}
    sightings = [
        e
        for e in by_type["contact.recorded"]
        if e["payload"]["child_seen"] == "yes"
        and "source" not in e["payload"]
        and e.get("occurred_precision", "instant") == "instant"
    ]
    days = sorted((instant(e["occurred_at"]), e["agency"] in statutory) for e in sightings)
    statutory_days = [d for d, by_statutory in days if by_statutory]
    gap, since = max((b - a, a) for a, b in itertools.pairwise(statutory_days))
    others = [d for d, by_statutory in days if not by_statutory and since < d < since + gap]
    assert gap.days > 180 and len(others) >= 10
    precisions = {e.get("occurred_precision") for e in events}
    assert {"month", "range", "disputed", "undated"} <= precisions
    assert any(e.get("occurred_range", {}).keys() == {"not_before"} for e in events)
    payloads = [e["payload"] for e in events]
    assert any(p.get("count") == "not_known" for p in payloads)
    assert any(p.get("severity") == "not_known" for p in payloads)
    for kind in (
        "allegation.withdrawn",
        "whereabouts.found",
        "police_protection.ended",
        "assessment.ended_incomplete",
        "involvement.closed",
        "incident.notified",
    ):
        assert kind in by_type, kind
    # Social care in the last area closes its involvement while the charity and the faith
    # group, which opened theirs before, keep theirs open.
    closing = next(
        i
        for i, e in enumerate(events)
        if e["type"] == "involvement.closed"
        and e["agency"] == by_type["lead.changed"][-1]["payload"]["lead_agency"]
    )
    still_open = {e["agency"] for e in events[:closing] if e["type"] == "involvement.opened"} - {
        e["agency"] for e in events if e["type"] == "involvement.closed"
    }
    assert {a["agency_id"] for a in CHILD_B if not a["statutory"]} <= still_open


def test_the_walkthrough_gives_child_bs_counts() -> None:
    """docs/demo.md states how many events and agencies Child B has, as built."""
    events = child_b()
    page = (ROOT / "docs" / "demo.md").read_text()
    stated = re.search(rf"`{CASE}`[^|]*?(\d+) events from (\d+) agencies", page)
    assert stated, "docs/demo.md no longer says how many events and agencies Child B has"
    assert int(stated.group(1)) == len(events)
    assert int(stated.group(2)) == len({e["agency"] for e in events})
    assert date.fromisoformat(DATE_OF_BIRTH).strftime("%B %Y") in page


class Recorder:
    """Stands in for the ledger: keeps each batch it is given, appends nothing, and knows
    no agency and no earlier event."""

    agencies = None

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.log = self

    def lookup(self, event_ids: set[str]) -> dict[str, Any]:
        return {}

    def submit(self, batch: list[dict[str, Any]]) -> list[Any]:
        self.batches.append(batch)
        return []


def test_the_registry_is_appended_in_batches_of_its_own_before_the_cases() -> None:
    """load_demo submits every registration first, in batches holding no case event, then the
    cases: all of demo_events, each once."""
    recorder = Recorder()
    load_demo(recorder, background_cases=5)  # type: ignore[arg-type]
    kinds = [{e["case_id"] == REGISTRY_CASE for e in batch} for batch in recorder.batches]
    assert kinds[0] == {True} and kinds[-1] == {False}
    assert kinds == sorted(kinds, key=lambda k: k != {True}), "registry batches come first"
    assert all(len(k) == 1 for k in kinds), "no batch mixes registrations and case events"
    sent = [e["event_id"] for batch in recorder.batches for e in batch]
    assert sent == [e["event_id"] for e in demo_events(background_cases=5)]
