"""The agency registry: refusals at the door, its store in the case view, its routes and
commands, and queries that name an agency."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from click.testing import CliRunner

from consumers.registry_gate import RegistryGate
from ledger.errors import BatchRejected, LedgerUnavailable
from sgl.bootstrap import Container
from sgl.cli import cli
from sgl.registry import registration
from tests.agencies import REGISTERED_AT, agency
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, new_case_id

SOCIAL_CARE = "example-childrens-social-care"


def _problems(response: httpx.Response) -> list[tuple[str, str, int | None]]:
    return [(e["pointer"], e["rule"], e.get("item")) for e in response.json()["errors"]]


def _log_size(container: Container) -> int:
    return sum(container.log.end_offsets().values())


def test_an_unregistered_agency_anywhere_refuses_the_batch_naming_each_field(
    http: httpx.Client, container: Container
) -> None:
    """A payload agency and an agency in a list, then the envelope agency itself (an adapter
    whose token was issued for a misspelt id): each named by pointer and item, with the rule;
    nothing of either batch is appended."""
    case_id = new_case_id()
    before = _log_size(container)
    referral = make_event("referral.made", case_id, agency=SOCIAL_CARE)
    referral["payload"] |= {"from_agency": SOCIAL_CARE, "to_agency": "no-such-agency"}
    meeting = make_event("meeting.held", case_id)
    meeting["payload"]["invited_agencies"] = ["example-police", "nobody-registered"]
    fine = make_event("contact.recorded", case_id)
    response = http.post("/v1/events", json=[fine, referral, meeting])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert sorted(_problems(response)) == [
        ("/payload/invited_agencies/1", "unregistered-agency", 2),
        ("/payload/to_agency", "unregistered-agency", 1),
    ]
    misspelt = make_event("contact.recorded", case_id, agency="exampel-hospital")
    response = http.post("/v1/events", json=[misspelt, {**misspelt, "event_id": str(uuid4())}])
    assert response.status_code == 422, response.text
    assert _problems(response) == [
        ("/agency", "unregistered-agency", 0),
        ("/agency", "unregistered-agency", 1),
    ]
    assert "'exampel-hospital'" in response.text
    assert _log_size(container) == before


def test_an_agency_registered_earlier_in_the_batch_counts(container: Container) -> None:
    """A registration and an event naming the new agency, in one batch of the ledger's append
    path (as the demo loads its agencies and cases), are both accepted; the same batch again
    is two duplicates. (Over HTTP no one caller sends both: the admin registers, the agency's
    publisher publishes.)"""
    new = agency(f"test-{new_case_id().lower()}")
    contact = make_event("contact.recorded", agency=new["agency_id"])
    batch = [registration(new, REGISTERED_AT), contact]
    assert [r.status for r in container.ledger.submit(batch)] == ["accepted", "accepted"]
    assert [r.status for r in container.ledger.submit(batch)] == ["duplicate", "duplicate"]


def test_registry_rules_refuse_with_the_rule_named(
    http: httpx.Client, container: Container
) -> None:
    """Registering an id twice (another event id), updating an id never registered, and
    recording a case's event on the registry's case are refused; nothing is appended."""
    before = _log_size(container)
    twice = registration(agency("example-police"), REGISTERED_AT)
    twice["event_id"] = "0f5d7f00-0000-4000-8000-000000000001"
    update = make_event("agency.updated", "SGL-REGISTRY")
    update["payload"]["agency_id"] = "never-registered"
    on_registry = make_event("contact.recorded", "SGL-REGISTRY")
    response = http.post("/v1/events", json=[on_registry])
    assert response.status_code == 422, response.text
    assert ("/case_id", "reserved-case", 0) in set(_problems(response))
    off_registry = make_event("agency.updated", new_case_id())
    refused = http.post("/v1/events", json=[off_registry])
    assert refused.status_code == 422 and _problems(refused)[0][0] == "/case_id"
    registry_only = http.post("/v1/events", json=[twice, update])
    assert registry_only.status_code == 422
    assert sorted(_problems(registry_only)) == [
        ("/payload/agency_id", "already-registered", 0),
        ("/payload/agency_id", "unregistered-agency", 1),
    ]
    assert _log_size(container) == before


def test_a_registration_counts_at_once_without_the_consumer(container: Container) -> None:
    """With no consumer running, an agency registered a moment ago is known to the next
    append (the registry is read past the view's position), and is in the registry store
    once the consumer has run."""
    new = agency("test-just-registered")
    container.ledger.submit([registration(new, REGISTERED_AT)])
    [receipt] = container.ledger.submit(
        [make_event("contact.recorded", agency="test-just-registered")]
    )
    assert receipt.status == "accepted"
    with pytest.raises(BatchRejected):
        container.ledger.submit([make_event("contact.recorded", agency="test-not-registered")])
    assert container.view.agencies.record("test-just-registered") is None
    container.runner().run_until_caught_up(60)
    found = container.view.agencies.record("test-just-registered")
    assert found is not None and found.kind == "other"


def test_the_registry_routes_and_as_of(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """GET /v1/agencies lists the registry (as of a date too), /v1/agencies/{id} shows one
    or answers 404, and the registry's case is never a case."""
    update = make_event("agency.updated", "SGL-REGISTRY", recorded_at="2010-01-01T00:00:00Z")
    update["payload"] = {"agency_id": "example-police", "name": "Example Police (renamed)"}
    update["occurred_at"] = "2010-01-01T00:00:00Z"
    container.ledger.submit([update])
    url = live_server.url

    def renamed() -> bool:
        shown = http.get(f"{url}/v1/agencies/example-police").json()
        return bool(shown.get("name") == "Example Police (renamed)")

    wait_for(renamed, what="the update in the registry")
    listed = http.get(f"{url}/v1/agencies").json()["agencies"]
    assert {"example-hospital", "example-faith"} <= {a["agency_id"] for a in listed}
    faith = next(a for a in listed if a["agency_id"] == "example-faith")
    assert faith == {
        "agency_id": "example-faith",
        "name": "Example Faith Group",
        "kind": "faith",
        "statutory": False,
        "area": "E08000001",
        "parent": None,
    }
    before = http.get(f"{url}/v1/agencies/example-police", params={"as_of": "2009-12-31"})
    assert before.json()["name"] == "Example Police Child Protection Team"
    assert http.get(f"{url}/v1/agencies", params={"as_of": "1999-12-31"}).json()["agencies"] == []
    missing = http.get(f"{url}/v1/agencies/no-such-agency")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert http.get(f"{url}/v1/cases/SGL-REGISTRY").status_code == 404
    assert "SGL-REGISTRY" not in container.view.case_ids()


def test_queries_refuse_an_unregistered_agency(http: httpx.Client, container: Container) -> None:
    """Knowledge, gaps and the chronology's filter answer 422 naming /agency for an agency not
    in the registry, never an empty answer; the chronology names agencies."""
    case_id = new_case_id()
    assert http.post("/v1/events", json=[make_event("case.opened", case_id)]).status_code == 201
    wait_for(lambda: http.get(f"/v1/cases/{case_id}").status_code == 200, what="the case")
    for path, params in (
        (f"/v1/cases/{case_id}/knowledge", {"agency": "exampel-police"}),
        (f"/v1/cases/{case_id}/knowledge/gaps", {"agency": "exampel-police"}),
        (f"/v1/cases/{case_id}/chronology", {"agency": "exampel-police"}),
    ):
        refused = http.get(path, params=params)
        assert refused.status_code == 422, (path, refused.text)
        assert _problems(refused) == [("/agency", "registered-agency", None)]
    rows = http.get(f"/v1/cases/{case_id}/chronology").json()["events"]
    assert rows[0]["agency"] == "example-childrens-social-care"
    assert rows[0]["agency_name"] == "Example Council Children's Social Care"
    csv = http.get(f"/v1/cases/{case_id}/chronology", params={"format": "csv"}).text
    assert ",Example Council Children's Social Care," in csv.replace('"', "")


def test_a_rebuilt_view_has_the_registry(container: Container) -> None:
    """`sgl rebuild` rebuilds the registry with the case view."""
    container.runner().run_until_caught_up(60)
    before = container.view.agencies.records()
    container.rebuild()
    assert container.view.agencies.records() == before and before


def test_sgl_agencies_import_list_and_show(live_server: LiveServer, container: Container) -> None:
    """Import registers what is new and skips what is registered (again: nothing new); list
    and show print the registry."""
    runner = CliRunner()
    settings = container.settings
    args = ["--data-dir", str(settings.data_dir), "--backend", settings.backend]
    payloads: list[dict[str, Any]] = [agency("example-police"), agency("test-imported")]
    path = settings.data_dir / "agencies.json"
    path.write_bytes(orjson.dumps(payloads))
    token = live_server.credentials.token("admin")
    command = [*args, "agencies", "import", str(path), "--url", live_server.url]
    first = runner.invoke(cli, command, env={"SGL_TOKEN": token})
    assert first.exit_code == 0, first.output
    assert "1 agencies registered, 1 already registered" in first.output
    assert token not in first.output
    again = runner.invoke(cli, [*command, "--token", token])
    assert "0 agencies registered, 2 already registered" in again.output
    wait_for(
        lambda: container.view.agencies.record("test-imported") is not None,
        what="the imported agency in the registry",
    )
    listed = runner.invoke(cli, [*args, "agencies", "list"])
    assert "test-imported" in listed.output and "Example Faith Group" in listed.output
    shown = runner.invoke(cli, [*args, "agencies", "show", "test-imported", "--json"])
    assert orjson.loads(shown.output)["name"] == "Test test-imported"
    assert runner.invoke(cli, [*args, "agencies", "show", "no-such-agency"]).exit_code == 1


def test_sgl_agencies_update_changes_the_record_from_now_on(
    live_server: LiveServer, container: Container
) -> None:
    """An update is a new fact: the agency reads as changed now and as it was before the
    change at an earlier date; an update naming nothing to change, or an unknown agency,
    changes nothing."""
    runner = CliRunner()
    settings = container.settings
    args = ["--data-dir", str(settings.data_dir), "--backend", settings.backend]
    url = ["--url", live_server.url, "--token", live_server.credentials.token("admin")]
    before = container.log.end_offsets()
    nothing = runner.invoke(cli, [*args, "agencies", "update", "example-police", *url])
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output
    unknown = runner.invoke(
        cli, [*args, "agencies", "update", "no-such-agency", "--area", "E08000002", *url]
    )
    assert unknown.exit_code != 0 and "unregistered" in unknown.output.lower()
    assert container.log.end_offsets() == before
    moved = runner.invoke(
        cli,
        [
            *args,
            "agencies",
            "update",
            "example-police",
            "--area",
            "E08000002",
            "--not-statutory",
            *url,
        ],
    )
    assert moved.exit_code == 0, moved.output
    wait_for(
        lambda: (
            (found := container.view.agencies.record("example-police")) is not None
            and found.area == "E08000002"
        ),
        what="the update in the registry",
    )
    now = container.view.agencies.record("example-police")
    assert now is not None and now.statutory is False and now.kind == "police"
    earlier = container.view.agencies.record("example-police", REGISTERED_AT)
    assert earlier is not None and (earlier.area, earlier.statutory) == ("E08000001", True)


def test_a_registration_the_store_takes_in_during_the_check_still_counts(
    container: Container,
) -> None:
    """The race the gate must not lose: its first look at the store misses a registration,
    the consumer then applies it (so the log past the store starts after it), and the id is
    still found, for the append path and for a kind lookup alike."""
    container.ledger.submit([registration(agency("test-raced"), REGISTERED_AT)])
    store = container.view.agencies
    real_known, real_record = store.known, store.record

    def catch_up() -> None:
        container.runner().run_until_caught_up(30)

    def stale_known(ids: Any) -> set[str]:
        answer = real_known(ids)
        catch_up()
        return answer

    def stale_record(agency_id: str, as_of: str | None = None) -> Any:
        answer = real_record(agency_id, as_of)
        catch_up()
        return answer

    store.known = stale_known  # type: ignore[method-assign]
    assert container.agencies.unknown({"test-raced"}) == set()
    store.known = real_known  # type: ignore[method-assign]
    container.ledger.submit([registration(agency("test-raced-too"), REGISTERED_AT)])
    store.record = stale_record  # type: ignore[method-assign]
    found = container.agencies.record("test-raced-too")
    assert found is not None and found.name == "Test test-raced-too"


def test_a_registry_read_that_runs_out_of_time_is_unavailable_not_a_refusal(
    container: Container,
) -> None:
    """When the log past the registry store cannot be read to its end in time, an id not
    found yet is 'retry shortly' (503 at the API, a retry in a consumer), never 'unregistered';
    read to the end, a registration counts and an id never registered is unknown."""
    container.ledger.submit([registration(agency("test-slow"), REGISTERED_AT)])
    hurried = RegistryGate(container.log, container.views, container.schemas, wait=0)
    with pytest.raises(LedgerUnavailable, match="retry shortly"):
        hurried.unknown({"test-slow"})
    with pytest.raises(LedgerUnavailable, match="retry shortly"):
        hurried.record("test-slow")
    patient = RegistryGate(container.log, container.views, container.schemas)
    assert patient.unknown({"test-slow", "never-registered"}) == {"never-registered"}
    found = patient.record("test-slow")
    assert found is not None and found.agency_id == "test-slow"
    assert patient.record("never-registered") is None
