"""Need to know: a practitioner sees of a case only what its agency knew, as of when it knew it;
a case its agency never touched answers as a case that does not exist; inquiry sees all."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Any

import httpx
import orjson
import pytest

from sgl import queries
from sgl.bootstrap import Container
from sgl.queries import Stores, Viewer
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, new_case_id

SC, POLICE, GP = "la-childrens-social-care", "police-north", "nhs-gp-north"
# Registered, and never touches the case.
HOUSING = "housing-north"
# The share of the GP's injury with social care happened at 09:00 on 5 March and was on the
# record from 09:30: social care knew the injury (since 09:00) from then.
BEFORE_SHARE, AT_SHARE = "2007-03-05T09:29:59Z", "2007-03-05T09:30:00Z"
NOW = None

Query = Callable[[Stores, str, "str | None", "Viewer | None"], dict[str, Any]]


def case_events(case_id: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Social care opens a case; the GP records an injury and shares it with social care,
    then corrects it; the police record a contact they never share."""
    opened = make_event(
        "case.opened",
        case_id,
        agency=SC,
        recorded_at="2007-03-01T09:00:00Z",
        occurred_at="2007-03-01T09:00:00Z",
    )
    opened["payload"]["lead_agency"] = SC
    injury = make_event(
        "injury.observed",
        case_id,
        agency=GP,
        occurred_at="2007-03-02T09:00:00Z",
        recorded_at="2007-03-02T10:00:00Z",
    )
    share = make_event(
        "information.shared",
        case_id,
        agency=GP,
        occurred_at="2007-03-05T09:00:00Z",
        recorded_at="2007-03-05T09:30:00Z",
        payload={
            "from_agency": GP,
            "to_agency": SC,
            "facts": [injury["event_id"]],
            "channel": "secure_email",
        },
    )
    contact = make_event(
        "contact.recorded",
        case_id,
        agency=POLICE,
        occurred_at="2007-03-06T09:00:00Z",
        recorded_at="2007-03-06T09:00:00Z",
    )
    # Recorded after social care was told of the injury: it never reached social care.
    correction = make_event(
        "correction.recorded",
        case_id,
        agency=GP,
        occurred_at="2007-03-07T09:00:00Z",
        recorded_at="2007-03-07T09:00:00Z",
        amends=injury["event_id"],
        payload={
            "corrected_payload": {**injury["payload"], "count": 4},
            "reason": "Recount at review.",
        },
    )
    events = [opened, injury, share, contact, correction]
    return events, {
        "opened": opened["event_id"],
        "injury": injury["event_id"],
        "share": share["event_id"],
        "contact": contact["event_id"],
        "correction": correction["event_id"],
    }


def post_by_agency(http: httpx.Client, events: list[dict[str, Any]]) -> None:
    """Post the events in order, each agency's run of them by that agency's publisher."""
    for _, run in groupby(events, key=lambda event: event["agency"]):
        posted = http.post("/v1/events", json=list(run))
        assert posted.status_code == 201, posted.text


def publish(
    server: LiveServer,
    case_id: str,
    built: tuple[list[dict[str, Any]], dict[str, str]] | None = None,
) -> dict[str, str]:
    """The case (as built, or a new one) on the ledger and in the view; its event ids by name."""
    events, ids = built or case_events(case_id)
    with server.client() as http:
        post_by_agency(http, events)
    wait_for(
        lambda: len(server.container.view.events(case_id)) == len(events),
        timeout=30,
        what="the case in the view",
    )
    return ids


# Every read a practitioner may make, as (name, query, HTTP path under the case).
READS: tuple[tuple[str, Query, str], ...] = (
    ("state", lambda s, c, t, v: queries.case_document(s, c, t, viewer=v), ""),
    ("history", lambda s, c, t, v: queries.case_history(s, c, t, viewer=v), "/history"),
    ("chronology", lambda s, c, t, v: queries.case_chronology(s, c, t, viewer=v), "/chronology"),
    (
        "changes",
        lambda s, c, t, v: queries.case_changes(s, c, "2007-01-01", t or "2099-12-31", viewer=v),
        "/changes",
    ),
    ("sightings", lambda s, c, t, v: queries.case_sightings(s, c, t, viewer=v), "/sightings"),
    (
        "knowledge",
        lambda s, c, t, v: queries.agency_knowledge(s, c, None, t, viewer=v),
        "/knowledge",
    ),
    ("clocks", lambda s, c, t, v: queries.clocks(s, c, t, viewer=v), "/clocks"),
    ("alerts", lambda s, c, t, v: queries.case_alerts(s, c, t, viewer=v), "/alerts"),
)
# Reads one agency's knowledge cannot answer: refused to a practitioner.
REFUSED: tuple[tuple[str, Callable[[Stores, str, Viewer], object]], ...] = (
    ("matrix", lambda s, c, v: queries.matrix(s, c, viewer=v)),
    ("gaps", lambda s, c, v: queries.gaps(s, c, viewer=v)),
    ("time-to-share", lambda s, c, v: queries.case_time_to_share(s, c, viewer=v)),
    ("audit", lambda s, c, v: queries.audit(s, c, viewer=v)),
    ("latency", lambda s, c, v: queries.latency(s, c, viewer=v)),
    ("ledger alerts", lambda s, c, v: queries.ledger_alerts(s, viewer=v)),
    ("ledger audit", lambda s, c, v: queries.audit(s, viewer=v)),
    ("ledger latency", lambda s, c, v: queries.latency(s, viewer=v)),
    ("ledger time-to-share", lambda s, c, v: queries.ledger_time_to_share(s, viewer=v)),
)


def params_of(path: str, as_of: str | None) -> dict[str, str]:
    """A read's query parameters over HTTP, as READS asks them."""
    if path == "/changes":
        return {"from": "2007-01-01", "to": as_of or "2099-12-31"}
    return {} if as_of is None else {"as_of": as_of}


def answer(
    query: Query, stores: Stores, case_id: str, as_of: str | None, viewer: Viewer | None
) -> bytes:
    """The read's document as JSON bytes, or its error's class and detail."""
    try:
        return orjson.dumps(query(stores, case_id, as_of, viewer))
    except queries.QueryError as error:
        return f"{type(error).__name__}: {error.detail}".encode()


def test_a_practitioner_sees_a_shared_fact_only_from_when_it_was_shared(
    live_server: LiveServer, container: Container
) -> None:
    """Just before the share, no read of social care's names the GP's injury; from the share
    on, the history, chronology and knowledge do; never the police's unshared contact nor the
    GP's later correction; inquiry sees them all."""
    stores = queries.ContainerStores(container)
    case_id = new_case_id()
    ids = publish(live_server, case_id)
    social_care = Viewer(SC)
    for name, query, _ in READS:
        before = answer(query, stores, case_id, BEFORE_SHARE, social_care)
        assert ids["opened"].encode() in before or name in ("clocks", "alerts", "sightings"), name
        assert ids["injury"].encode() not in before, name
        assert ids["share"].encode() not in before, name
        for as_of in (AT_SHARE, NOW):
            after = answer(query, stores, case_id, as_of, social_care)
            assert ids["contact"].encode() not in after, (name, as_of)
            assert ids["correction"].encode() not in after, (name, as_of)
            if name in ("history", "chronology", "knowledge"):
                assert ids["injury"].encode() in after, (name, as_of)
                assert ids["share"].encode() in after, (name, as_of)
    history = queries.case_history(stores, case_id, viewer=social_care)
    injury = next(e for e in history["entries"] if e["event_id"] == ids["injury"])
    # Told of the injury before its correction was recorded: the injury as it was told.
    assert injury["status"] == "as-recorded" and injury["payload"]["count"] == 2
    known = queries.agency_knowledge(stores, case_id, viewer=social_care)
    assert known["agency"] == SC
    assert {f["event_id"]: f["since"] for f in known["facts"]}[ids["injury"]] == (
        "2007-03-05T09:00:00Z"
    )
    assert queries.involved(stores, case_id, social_care)
    assert not queries.involved(stores, case_id, Viewer(HOUSING))
    state = queries.case_document(stores, case_id, viewer=social_care)
    assert state["events"] == 3  # opened, injury, share: not the contact or correction
    everything = orjson.dumps(queries.case_history(stores, case_id))
    assert all(event_id.encode() in everything for event_id in ids.values())
    # The GP knew its own correction, and the police nothing of the GP's.
    gp = orjson.dumps(queries.case_history(stores, case_id, viewer=Viewer(GP)))
    assert ids["correction"].encode() in gp and ids["contact"].encode() not in gp
    police = orjson.dumps(queries.case_history(stores, case_id, viewer=Viewer(POLICE)))
    assert ids["injury"].encode() not in police and ids["contact"].encode() in police


def test_a_case_never_touched_answers_as_a_case_that_does_not_exist(
    live_server: LiveServer, container: Container
) -> None:
    """Housing, never involved, gets for every read exactly the answer it got before the case
    existed, as does the GP as of a moment before it was involved; inquiry sees the case."""
    stores = queries.ContainerStores(container)
    case_id = new_case_id()
    asked = [
        (name, query, viewer, as_of)
        for name, query, _ in READS
        for viewer, as_of in (
            (Viewer(HOUSING), NOW),
            (Viewer(HOUSING), "2007-03-10"),
            (Viewer(GP), "2007-03-01T12:00:00Z"),
        )
    ]
    absent = {(n, v, t): answer(q, stores, case_id, t, v) for n, q, v, t in asked}
    assert all(found.startswith(b"NoSuchCase") for found in absent.values())
    publish(live_server, case_id)
    for name, query, viewer, as_of in asked:
        found = answer(query, stores, case_id, as_of, viewer)
        assert found == absent[(name, viewer, as_of)], (name, viewer, as_of)
        assert not answer(query, stores, case_id, as_of, None).startswith(b"NoSuchCase"), name


def test_reads_beyond_one_agency_are_refused_to_a_practitioner(container: Container) -> None:
    """Matrix, gaps, time to share, audit, latency and the ledger-wide reports are Forbidden
    to a practitioner whether or not the case exists; its knowledge is its own agency's."""
    stores = queries.ContainerStores(container)
    for name, query in REFUSED:
        with pytest.raises(queries.Forbidden, match="not answered to a practitioner"):
            query(stores, new_case_id(), Viewer(SC))
        # Whoever else asks gets past the refusal (a missing case, or an answer).
        try:
            query(stores, new_case_id(), None)
        except queries.NotFound:
            pass
        except queries.Forbidden:
            pytest.fail(f"{name} refused to inquiry")
    with pytest.raises(queries.Forbidden) as refused:
        queries.agency_knowledge(stores, new_case_id(), GP, viewer=Viewer(SC))
    assert refused.value.problems[0].pointer == "/agency"


REFUSED_PATHS = (
    "/knowledge/matrix",
    "/knowledge/gaps",
    "/knowledge/time-to-share",
    "/audit",
    "/latency",
)
LEDGER_PATHS = ("/v1/alerts", "/v1/audit", "/v1/latency", "/v1/knowledge/time-to-share")


def test_over_http_a_practitioner_reads_what_its_agency_knew(live_server: LiveServer) -> None:
    """With a practitioner's token: no route names the GP's injury before it reached social
    care, every one it may call names it after where its history would, none ever names the
    police's unshared contact; a never-touched case answers byte for byte as before it
    existed; the reads it may not make are 403; inquiry sees everything."""
    case_id = new_case_id()
    social_care = live_server.headers("practitioner", SC)
    housing = live_server.headers("practitioner", HOUSING)
    with live_server.client() as http:

        def get(path: str, headers: dict[str, str], as_of: str | None) -> httpx.Response:
            return http.get(
                f"/v1/cases/{case_id}{path}", params=params_of(path, as_of), headers=headers
            )

        absent = {(path, t): get(path, housing, t) for _, _, path in READS for t in (NOW, AT_SHARE)}
        no_log = get("/access-log", housing, NOW)
        built = case_events(case_id)
        contact_id = built[1]["contact"]
        unheld = http.get(f"/v1/events/{contact_id}/proof", headers=social_care)
        ids = publish(live_server, case_id, built)
        # The proof of an event carries its record: to social care the police's contact is
        # still an event the ledger does not hold; its own case.opened is not.
        unknown = http.get(f"/v1/events/{contact_id}/proof", headers=social_care)
        assert unheld.status_code == unknown.status_code == 404
        assert unknown.content == unheld.content
        own = http.get(f"/v1/events/{ids['opened']}/proof", headers=social_care)
        assert own.status_code in (200, 409), own.text
        assert http.get(f"/v1/events/{contact_id}/proof").status_code in (200, 409)
        for name, _, path in READS:
            before = get(path, social_care, BEFORE_SHARE)
            assert before.status_code == 200, (name, before.text)
            assert ids["injury"] not in before.text and ids["contact"] not in before.text, name
            after = get(path, social_care, AT_SHARE)
            assert after.status_code == 200, (name, after.text)
            assert ids["contact"] not in after.text and ids["correction"] not in after.text, name
            if name in ("history", "chronology", "knowledge"):
                assert ids["injury"] in after.text, name
            for as_of in (NOW, AT_SHARE):
                untouched = get(path, housing, as_of)
                expected = absent[(path, as_of)]
                assert untouched.status_code == expected.status_code == 404, name
                assert untouched.content == expected.content, name
                assert untouched.headers["content-type"] == expected.headers["content-type"]
            everything = get(path, {}, NOW)
            assert everything.status_code == 200, (name, everything.text)
        assert ids["contact"] in get("/history", {}, NOW).text
        for path in REFUSED_PATHS:
            refused = get(path, social_care, NOW)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["type"] == "urn:sgl:problem:forbidden"
        for path in LEDGER_PATHS:
            assert http.get(path, headers=social_care).status_code == 403, path
        # Who read the child's record: for the child's agencies, not for one never involved.
        assert get("/access-log", social_care, NOW).json()["count"] > 0
        untouched_log = get("/access-log", housing, NOW)
        assert untouched_log.status_code == no_log.status_code == 404
        assert untouched_log.content == no_log.content
        other = get("/knowledge", social_care, NOW)
        assert other.status_code == 200 and other.json()["agency"] == SC
        refused = http.get(
            f"/v1/cases/{case_id}/knowledge", params={"agency": GP}, headers=social_care
        )
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["pointer"] == "/agency"


def test_an_admin_proves_no_case_event(live_server: LiveServer) -> None:
    """An admin keeps the registry and knows no case, whatever its agency: the proof of social
    care's contact is, to an admin of social care, an event the ledger does not hold, while
    social care's publisher has it."""
    case_id = new_case_id()
    contact = make_event("contact.recorded", case_id, agency=SC)
    path = f"/v1/events/{contact['event_id']}/proof"
    publisher = live_server.headers("publisher", SC)
    with live_server.client() as http:
        post_by_agency(http, [contact])
        wait_for(
            lambda: http.get(path, headers=publisher).status_code in (200, 409),
            timeout=20,
            what="the contact known to social care's view",
        )
        refused = http.get(path, headers=live_server.headers("admin", SC))
    assert refused.status_code == 404, refused.text
    assert "holds no event" in refused.json()["detail"]
