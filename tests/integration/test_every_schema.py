"""Every schema, over HTTP and through the client, on both backends: examples accepted,
every derived invalid variant rejected with its field and rule, and nothing appended."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from ledger.agency_rules import LEDGER_AGENCY
from ledger.append import Ledger
from ledger.client import LedgerClient
from ledger.errors import InvalidEvent
from ledger.publish_rules import alert_event_id
from ledger.schemas import SchemaRegistry
from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap
from tests.agencies import with_agencies
from tests.conftest import BACKENDS, LiveServer
from tests.credentials import ANY_PUBLISHER, REGISTRY_TYPES, post_by_caller
from tests.schema_variants import Variant, all_variants

REGISTRY = SchemaRegistry()
VARIANTS = all_variants(REGISTRY)
EXAMPLES_BY_ID = {
    example["event_id"]: example
    for doc in REGISTRY.docs.values()
    for example in doc.document.get("examples", [])
}


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Container, LiveServer]]:
    """One server per backend for the whole module: hundreds of requests, one setup."""
    values: dict[str, Any] = {
        "backend": request.param,
        "data_dir": tmp_path_factory.mktemp(request.param),
        # One publisher sends every schema's examples and broken variants in seconds: a bulk
        # load's rate limit, not an adapter's everyday one.
        "rate_limit": 10_000.0,
        "rate_burst": 10_000,
    }
    if request.param == "kafka":
        values["kafka_bootstrap"] = request.getfixturevalue("kafka_bootstrap")
        suffix = uuid.uuid4().hex[:12]
        values |= {"topic": f"sgl.test.{suffix}", "dead_letter_topic": f"sgl.test.{suffix}.dlq"}
    container = with_agencies(bootstrap(Settings.from_env({}, **values)))
    server = LiveServer(container, run_consumer=False).start()
    yield container, server
    server.stop()
    container.close()


def _fresh(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a new event id; one the ledger records (an alert), as an adapter would
    send it: no credential acts for the ledger's own agency."""
    fresh = {**event, "event_id": str(uuid.uuid4())}
    if event.get("agency") == LEDGER_AGENCY:
        fresh["agency"] = ANY_PUBLISHER
    return fresh


def _fresh_example(event: dict[str, Any]) -> dict[str, Any]:
    """The example with a new event id; a registration, of a new agency (ids register once)."""
    fresh = _fresh(event)
    if event["type"] == "agency.registered":
        agency_id = f"{event['payload']['agency_id']}-{uuid.uuid4().hex[:8]}"
        fresh |= {"agency": agency_id, "payload": {**event["payload"], "agency_id": agency_id}}
    return fresh


def _names(problems: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(p["pointer"], p["rule"]) for p in problems}


@pytest.mark.parametrize("name", sorted(REGISTRY.event_types))
def test_every_example_is_accepted_over_http(
    served: tuple[Container, LiveServer], name: str
) -> None:
    """Each schema's examples are appended (with fresh ids) and answered with a receipt.

    An example amendment goes after the example it amends, and an example withholding after
    the examples it withholds, which are appended as they stand; an example answer after its
    alert, raised as the ledger raises alerts. The alert examples are the ledger's own: an
    adapter sending one is refused (403).
    """
    container, server = served
    for version in REGISTRY.event_types[name]:
        doc = REGISTRY.schema(name, version)
        assert doc is not None
        for example in doc.document["examples"]:
            batch = [_fresh_example(example)]
            if "amends" in example:
                batch.insert(0, EXAMPLES_BY_ID[example["amends"]])
            if example["type"] == "information.withheld":
                batch[:0] = [EXAMPLES_BY_ID[fact] for fact in example["payload"]["facts"]]
            if example["type"] == "alert.answered":
                _raise_alert(container, example)
            # Each agency's events by its publisher; the example itself is in the last batch.
            with server.client() as http:
                *earlier, response = post_by_caller(http, batch)
            assert all(r.status_code in (200, 201) for r in earlier), [r.text for r in earlier]
            if example["type"] == "alert.raised":
                assert response.status_code == 403, response.text
                assert ("/type", "ledger-raises-alerts") in _names(response.json()["errors"])
            else:
                assert response.status_code == 201, response.text


def _raise_alert(container: Container, answer: dict[str, Any]) -> None:
    """The alert an example answer answers, raised on its case through the alerter's own
    append path (again: nothing new)."""
    raised = max(
        (e for e in EXAMPLES_BY_ID.values() if e["type"] == "alert.raised"),
        key=lambda e: int(e["schema_version"]),
    )
    alert_id = answer["payload"]["alert_id"]
    alert = {**raised, "event_id": alert_event_id(alert_id), "case_id": answer["case_id"]}
    alert["payload"] = {**raised["payload"], "alert_id": alert_id}
    Ledger(container.log, container.schemas).submit([alert])


@pytest.mark.parametrize(
    ("schema", "variant"), VARIANTS, ids=[f"{s}:{v.name}" for s, v in VARIANTS]
)
def test_invalid_variant_is_rejected_over_http(
    served: tuple[Container, LiveServer], schema: str, variant: Variant
) -> None:
    """422 problem+json naming the spoiled field and its rule; the log is unchanged."""
    container, server = served
    ends = container.log.end_offsets()
    with server.client() as http:
        response = http.post(
            "/v1/events",
            content=orjson.dumps(_fresh(variant.event)),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422, response.text
    assert (variant.pointer, variant.rule) in _names(response.json()["errors"])
    assert container.log.end_offsets() == ends


@pytest.mark.parametrize(
    ("schema", "variant"), VARIANTS, ids=[f"{s}:{v.name}" for s, v in VARIANTS]
)
def test_invalid_variant_is_rejected_by_the_client(
    served: tuple[Container, LiveServer],
    schema: str,
    variant: Variant,
    client_for: Callable[[LiveServer, dict[str, Any]], LedgerClient],
) -> None:
    """The client raises InvalidEvent carrying the same pointer and rule."""
    container, server = served
    ends = container.log.end_offsets()
    event = _fresh(variant.event)
    with pytest.raises(InvalidEvent) as caught:
        client_for(server, event).publish(event)
    assert (variant.pointer, variant.rule) in {(p.pointer, p.rule) for p in caught.value.problems}
    assert container.log.end_offsets() == ends


@pytest.fixture(scope="module")
def client_for() -> Iterator[Callable[[LiveServer, dict[str, Any]], LedgerClient]]:
    """One client per server and caller for the module: the publisher of the event's agency
    (any publisher for an event naming none; the admin for a registry event)."""
    clients: dict[tuple[str, str], LedgerClient] = {}

    def get(server: LiveServer, event: dict[str, Any]) -> LedgerClient:
        agency = event.get("agency")
        if event.get("type") in REGISTRY_TYPES:
            token = server.credentials.token("admin")
        else:
            token = server.credentials.token(
                "publisher", agency if isinstance(agency, str) else None
            )
        if (server.url, token) not in clients:
            clients[server.url, token] = LedgerClient(server.url, token, retries=0)
        return clients[server.url, token]

    yield get
    for client in clients.values():
        client.close()
