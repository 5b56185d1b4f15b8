"""The API's documentation: /docs and /redoc work offline, and the OpenAPI document describes
what the server really accepts and answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import jsonschema_rs
import orjson
import pytest

from ledger.schemas import SchemaRegistry
from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from tests.conftest import LiveServer
from tests.factories import example, make_event, new_case_id


class _Links(HTMLParser):
    """Every address a page makes the browser load: src, href and ReDoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]


def page_assets(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    # Swagger UI is told where the OpenAPI document is in its script: `url: '/openapi.json'`.
    return parser.urls + re.findall(r"\burl: '([^']+)'", html)


@pytest.fixture
def offline_server(make_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A server on the embedded store, without consumers."""
    container = bootstrap(make_settings("sqlite"))
    server = LiveServer(container, run_consumer=False).start()
    yield server
    server.stop()
    container.close()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_everything_from_the_ledger_itself(
    offline_server: LiveServer, page: str
) -> None:
    """Each script, style, icon and the OpenAPI document a docs page loads is served by the
    app: same origin, 200, not empty; nothing from another host."""
    with offline_server.client(timeout=10) as http:
        response = http.get(page)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assets = page_assets(response.text)
        scripts = [a for a in assets if a.endswith(".js")]
        assert scripts, f"{page} loads no script: {assets}"
        assert any(a.endswith("/openapi.json") for a in assets)
        origin = urlsplit(offline_server.url).netloc
        for asset in assets:
            address = urljoin(offline_server.url + page, asset)
            assert urlsplit(address).netloc == origin, f"{page} loads {asset} from elsewhere"
            fetched = http.get(address)
            assert fetched.status_code == 200, asset
            assert len(fetched.content) > 100, asset
        assert "cdn" not in response.text.lower() and "googleapis" not in response.text


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A validator for a schema of the OpenAPI document, its references resolved in it."""
    return jsonschema_rs.validator_for(
        {**schema, "$schema": spec["jsonSchemaDialect"], "components": spec["components"]},
        validate_formats=True,
    )


def check_response(
    spec: dict[str, Any], path: str, method: str, response: httpx.Response
) -> dict[str, Any]:
    """The response's status and media type are documented, and its body fits the schema."""
    documented = spec["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {path} answers {status}, undocumented"
    media = response.headers["content-type"].split(";")[0]
    content = documented[status].get("content", {})
    assert media in content, f"{method.upper()} {path} {status} answers {media}: {content}"
    body: dict[str, Any] = response.json()
    validator(spec, content[media]["schema"]).validate(body)
    return body


def test_real_requests_and_responses_fit_the_openapi_document(
    http: httpx.Client, container: Any
) -> None:
    """A sample of what the server accepts and answers, checked against the document."""
    spec = http.get("/openapi.json").json()
    post = spec["paths"]["/v1/events"]["post"]
    body_schema = validator(spec, post["requestBody"]["content"]["application/json"]["schema"])

    def send(body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return http.post(
            "/v1/events", content=content, headers={"content-type": "application/json", **headers}
        )

    event = make_event()
    batch = [make_event(), make_event("injury.observed")]
    for body in (event, batch):
        assert body_schema.is_valid(body)
        assert check_response(spec, "/v1/events", "post", send(body))
    again = send(event)
    assert again.status_code == 200
    assert check_response(spec, "/v1/events", "post", again)["status"] == "duplicate"
    spoiled = make_event()
    spoiled["payload"]["contact_type"] = "smoke-signal"
    refused = send(spoiled)
    assert refused.status_code == 422 and not body_schema.is_valid(spoiled)
    assert check_response(spec, "/v1/events", "post", refused)["errors"][0]["rule"] == "enum"
    conflict = dict(event, payload={**event["payload"], "child_seen": False})
    assert check_response(spec, "/v1/events", "post", send(conflict))["status"] == 409
    assert check_response(spec, "/v1/events", "post", send(b"{not json"))["status"] == 400
    wrong_media = http.post("/v1/events", content=b"x", headers={"content-type": "text/plain"})
    assert check_response(spec, "/v1/events", "post", wrong_media)["status"] == 415
    too_big = b" " * (container.settings.max_body_bytes + 1)
    assert check_response(spec, "/v1/events", "post", send(too_big))["status"] == 413

    case = "/v1/cases/{case_id}"
    assert check_response(spec, case, "get", http.get(f"/v1/cases/{new_case_id()}"))
    assert check_response(spec, case, "get", http.get(f"/v1/cases/{event['case_id']}?basis=x"))
    assert check_response(spec, "/readyz", "get", http.get("/readyz"))["status"] == "ready"
    assert check_response(spec, "/healthz", "get", http.get("/healthz")) == {"status": "ok"}


def test_an_unavailable_log_answers_the_documented_503(
    make_settings: Callable[..., Settings],
) -> None:
    """The 503 of POST /v1/events is a documented problem."""
    container = bootstrap(make_settings("sqlite"))
    server = LiveServer(container, run_consumer=False).start()
    try:
        spec = httpx.get(server.url + "/openapi.json").json()
        container.log.close()
        event = make_event()
        response = httpx.post(
            server.url + "/v1/events",
            content=orjson.dumps(event),
            headers={"content-type": "application/json"}
            | server.headers("publisher", event["agency"]),
        )
        assert response.status_code == 503
        check_response(spec, "/v1/events", "post", response)
    finally:
        server.stop()


def test_every_route_documents_its_problems_and_no_fastapi_error_shape(
    offline_server: LiveServer,
) -> None:
    """Each operation with parameters documents 422 as a problem; each with a path parameter
    documents 404 as a problem; FastAPI's own validation error shape is gone."""
    spec = httpx.get(offline_server.url + "/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if operation.get("parameters"):
                assert responses["422"]["content"] == {
                    "application/problem+json": {"schema": problem}
                }
            if "{" in path:
                assert responses["404"]["content"]["application/problem+json"]["schema"] == problem
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        f"{method} {path} {status}"
                    )
    assert "HTTPValidationError" not in orjson.dumps(spec).decode()


def test_every_schema_example_is_one_documented_event() -> None:
    """The documented body takes each event type's example, as exactly one of the `oneOf`."""
    from sgl.openapi import complete

    registry = SchemaRegistry()
    spec = complete({"paths": {}}, registry, 10)
    event = validator(spec, {"$ref": "#/components/schemas/Event"})
    batch = validator(spec, {"$ref": "#/components/schemas/EventBatch"})
    examples = [example(name) for name in sorted(registry.event_types)]
    for document in examples:
        assert event.is_valid(document), document["type"]
    assert batch.is_valid(examples[:10]) and not batch.is_valid(examples[:11])
    assert not batch.is_valid([])
    assert not event.is_valid(dict(examples[0], type="no.such.type"))


def test_a_bad_choice_in_a_query_names_every_allowed_value(offline_server: LiveServer) -> None:
    """A query parameter outside its choices is a 422 problem listing all of them, its pointer
    `/name` as the query layer's are."""
    case = f"{offline_server.url}/v1/cases/{new_case_id()}"
    for address, pointer, allowed in (
        (f"{case}?basis=sideways", "/basis", ("'recorded'", "'appended'")),
        (f"{case}/chronology?format=xml", "/format", ("'json'", "'csv'")),
    ):
        response = httpx.get(address, headers=offline_server.headers("inquiry"))
        assert response.status_code == 422
        (error,) = response.json()["errors"]
        assert error["pointer"] == pointer
        assert error["detail"].startswith(f"{address.rsplit('=', 1)[1]!r} is not one of: ")
        assert all(value in error["detail"] for value in allowed), error["detail"]
