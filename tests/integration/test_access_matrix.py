"""Who may call what: every route of the app (found from the app itself, so a new route is in
the matrix the moment it exists) called by each role, by no one, and without a purpose;
revocation and expiry on the next request; the rate limit; the operator's admin token."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from fastapi.routing import APIRoute, iter_route_contexts

from ledger.settings import Settings
from sgl.access_rules import RULES, MissingRules, Rule
from sgl.api import create_app
from sgl.bootstrap import Container, bootstrap
from sgl.identity import PURPOSE_HEADER, ROLES, Role
from sgl.logs import configure_logging
from sgl.web import PageRoute
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.credentials import Credentials
from tests.factories import new_case_id

PROBLEM = "application/problem+json"
# A value for each path parameter a route may have: a route with another parameter fails
# the matrix until it is given one here.
PATH_VALUES = {
    "case_id": new_case_id(),
    "agency_id": "test-agency-unknown",
    "event_id": str(uuid.uuid4()),
    "name": "contact.recorded",
    "version": "1",
}
PUBLISHER_AGENCY = "test-matrix-agency"
REFUSED = (401, 403, 429)
# The rate of the rate-limit tests: one request in 100 s, so no bucket refills while a test
# runs, however slowly the machine answers.
SLOW = 0.01


def routes(container: Container, documented: bool = False) -> list[tuple[str, str]]:
    """Every (method, path template) the app answers through an API route (or only those in
    its OpenAPI document)."""
    app = create_app(container, run_consumer=False)
    found = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path is not None:
            if documented and not route.include_in_schema:
                continue
            found.update((method, context.path) for method in route.methods or ())
    return sorted(found)


def pages(container: Container) -> set[tuple[str, str]]:
    """The (method, path template) of every page of the workbench: refused as pages are (a
    sign-in redirect, a page naming the rule) rather than as problems."""
    app = create_app(container, run_consumer=False)
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, PageRoute) and context.path is not None
        for method in context.original_route.methods or ()
    }


# The sign-in form answers a post without a token with its own 401 (the form again), whoever
# posts it: the form's answer, not the authorization step's.
FORM_REFUSES = {("POST", "/login")}


def rule_of(response: httpx.Response) -> str:
    """The rule a refusal names: the problem's first, or the page's."""
    if response.headers["content-type"].startswith("text/html"):
        found = re.search(r"<code>[^<]*</code> \(([\w-]+)\)", response.text)
        assert found is not None, response.text
        return found.group(1)
    rule: str = response.json()["errors"][0]["rule"]
    return rule


def address(path: str) -> str:
    """A path template with every parameter filled in."""

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        assert name in PATH_VALUES, f"give path parameter {name!r} a value in PATH_VALUES"
        return PATH_VALUES[name]

    return re.sub(r"\{(\w+)\}", value, path)


def call(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """The route called once; a POST sends an empty batch (refused by the rules, never
    appended), so a permitted publish is a 422 and a refused one a 403."""
    if method == "POST":
        return client.post(address(path), json=[], headers=headers)
    return client.request(method, address(path), headers=headers)


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A server on the embedded store, without consumers (what a route answers past its
    rule does not matter here, only whether the rule let the call through)."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    live = LiveServer(container, run_consumer=False).start()
    yield live
    live.stop()
    container.close()


def plain_client(server: LiveServer) -> httpx.Client:
    """A client that sends only the headers it is given (no credentials of its own)."""
    return httpx.Client(base_url=server.url, timeout=30)


def role_headers(server: LiveServer, role: Role) -> dict[str, str]:
    """A role's token (its purpose too, where it states one)."""
    agency = PUBLISHER_AGENCY if role in ("publisher", "practitioner") else None
    return server.headers(role, agency)


def test_every_route_answers_each_role_as_its_rule_says(server: LiveServer) -> None:
    """Each role is let through exactly the routes whose rule names it: a 403 problem
    otherwise, never a 401 or 429 for a current token."""
    found = routes(server.container)
    assert len(found) >= 30, found
    wrong: list[str] = []
    with plain_client(server) as client:
        for role in ROLES:
            headers = role_headers(server, role)
            for method, path in found:
                rule = RULES[(method, path)]
                status = call(client, method, path, headers).status_code
                allowed = rule.scope == "public" or role in rule.roles
                if (method, path) in FORM_REFUSES:
                    continue
                if (allowed and status in REFUSED) or (not allowed and status != 403):
                    wrong.append(f"{role} {method} {path}: {status}")
    assert not wrong, "\n".join(wrong)


def test_no_token_is_a_401_on_every_route_but_the_public_ones(server: LiveServer) -> None:
    """Without credentials, or with a token that is not one, every non-public route is a 401
    problem with a Bearer challenge, whatever its parameters; public routes need none."""
    nonsense = {"Authorization": f"Bearer sgl_{'0' * 12}_{'A' * 43}"}
    page_routes = pages(server.container)
    with plain_client(server) as client:
        for method, path in routes(server.container):
            public = RULES[(method, path)].scope == "public"
            for headers in ({}, nonsense, {"Authorization": "Basic dXNlcjpwYXNz"}):
                response = call(client, method, path, headers)
                if public:
                    if (method, path) not in FORM_REFUSES:
                        assert response.status_code not in REFUSED, (method, path)
                    continue
                if (method, path) in page_routes:
                    # A page sends whoever is not signed in to the sign-in form, and back.
                    assert response.status_code == 303, (method, path, headers)
                    assert response.headers["location"].startswith("/login?next="), path
                    continue
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["content-type"] == PROBLEM
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert response.json()["type"] == "urn:sgl:problem:unauthenticated"
        # Refusing credentials comes before judging parameters: nothing is revealed.
        response = client.get(f"/v1/cases/{new_case_id()}?unknown=1&as_of=garbage")
        assert response.status_code == 401


def test_inquiry_and_auditor_state_a_known_purpose_with_every_request(
    server: LiveServer,
) -> None:
    """Without a purpose, or with one not on the list, an inquiry or auditor is refused (403
    naming the rule) on every route needing a token; the query parameter works as the header
    does, and a purpose is no parameter a route refuses."""
    with plain_client(server) as client:
        for role in ("inquiry", "auditor"):
            bare = server.headers(role, purpose=None)
            for method, path in routes(server.container):
                rule: Rule = RULES[(method, path)]
                if rule.scope == "public" or role not in rule.roles:
                    continue
                missing = call(client, method, path, bare)
                assert missing.status_code == 403, (role, path, missing.text)
                assert rule_of(missing) == "purpose-required"
                unknown = call(client, method, path, bare | {PURPOSE_HEADER: "curiosity"})
                assert unknown.status_code == 403, (role, path)
                assert rule_of(unknown) == "purpose-known"
        case = f"/v1/cases/{new_case_id()}"
        by_parameter = client.get(
            f"{case}?purpose=audit", headers=server.headers("auditor", purpose=None)
        )
        assert by_parameter.status_code == 404, by_parameter.text
        twice = client.get(
            f"{case}?purpose=audit", headers=server.headers("auditor", purpose="inspection")
        )
        assert twice.status_code == 403
        assert twice.json()["errors"][0]["rule"] == "purpose-single"
        # Not a route that takes a purpose: the parameter is refused as any unknown one is.
        publisher = server.headers("publisher", PUBLISHER_AGENCY)
        assert client.get("/healthz?purpose=audit", headers=publisher).status_code == 422


def test_a_route_without_a_rule_stops_the_app_being_built(
    make_settings: Callable[..., Settings],
) -> None:
    """Leave one route out of the table and create_app refuses, naming it."""
    container = bootstrap(make_settings("sqlite"))
    fewer = {key: rule for key, rule in RULES.items() if key != ("GET", "/v1/cases/{case_id}")}
    with pytest.raises(MissingRules, match=re.escape("GET /v1/cases/{case_id}")):
        create_app(container, run_consumer=False, rules=fewer)
    container.close()


def test_a_revoked_token_is_refused_from_the_next_request(server: LiveServer) -> None:
    """Revoking a token in the store refuses its very next request (no cache)."""
    headers = server.headers("inquiry")
    token_id = headers["Authorization"].removeprefix("Bearer sgl_")[:12]
    with plain_client(server) as client:
        assert client.get("/v1/agencies", headers=headers).status_code == 200
        assert server.credentials.store.revoke(token_id)
        assert client.get("/v1/agencies", headers=headers).status_code == 401


def test_a_token_is_refused_once_it_expires(server: LiveServer) -> None:
    """A token good now is refused as soon as its expiry passes."""
    issued = server.credentials.store.create(
        "test-inquiry-panel", "inquiry", datetime.now(UTC) + timedelta(seconds=1)
    )
    headers = {"Authorization": f"Bearer {issued.token}", PURPOSE_HEADER: "audit"}
    with plain_client(server) as client:
        assert client.get("/v1/agencies", headers=headers).status_code == 200
        wait_for(
            lambda: client.get("/v1/agencies", headers=headers).status_code == 401,
            timeout=5,
            what="the expired token refused",
        )


def test_a_token_over_its_rate_is_told_when_to_return(
    make_settings: Callable[..., Settings],
) -> None:
    """Past its burst a token gets 429 with Retry-After, and not on the access it was refused
    (no access set); another token is not held back by it."""
    container = with_agencies(bootstrap(make_settings("sqlite", rate_limit=SLOW, rate_burst=3)))
    server = LiveServer(container, run_consumer=False).start()
    try:
        with plain_client(server) as client:
            spender = server.headers("auditor")
            for _ in range(3):
                assert client.get("/v1/agencies", headers=spender).status_code == 200
            refused = client.get("/v1/agencies", headers=spender)
            assert refused.status_code == 429
            # One request in 100 s: the next is 100 s away, less what the calls took.
            assert 90 <= int(refused.headers["retry-after"]) <= 100
            assert refused.json()["type"] == "urn:sgl:problem:rate-limited"
            assert client.get("/v1/agencies", headers=server.headers("inquiry")).status_code == 200
    finally:
        server.stop()
        container.close()


def test_the_operators_admin_token_from_the_environment(
    make_settings: Callable[..., Settings],
) -> None:
    """SGL_ADMIN_TOKEN is an admin of an agency of its own (never the ledger's), before any
    token is made; another text is refused like any unknown token."""
    secret = "operator-" + uuid.uuid4().hex + uuid.uuid4().hex
    container = bootstrap(make_settings("sqlite", admin_token=secret))
    server = LiveServer(container, run_consumer=False).start()
    try:
        with plain_client(server) as client:
            admin = {"Authorization": f"Bearer {secret}"}
            assert client.get("/v1/agencies", headers=admin).status_code == 200
            assert client.post("/v1/events", json=[], headers=admin).status_code == 422
            assert client.get(f"/v1/cases/{new_case_id()}", headers=admin).status_code == 403
            wrong = {"Authorization": f"Bearer {secret[:-1]}x"}
            assert client.get("/v1/agencies", headers=wrong).status_code == 401
    finally:
        server.stop()
        container.close()


@pytest.fixture
def debug_logs(make_settings: Callable[..., Settings]) -> Iterator[Settings]:
    """JSON logs at debug level, with module loggers made to take the configuration afresh."""
    settings = make_settings("sqlite", log_format="json", log_level="debug")
    configure_logging(settings)
    for module in list(sys.modules.values()):
        proxy = getattr(module, "log", None)
        if isinstance(proxy, structlog._config.BoundLoggerLazyProxy):
            proxy.__dict__.pop("bind", None)
    yield settings
    structlog.reset_defaults()


def test_no_token_is_ever_logged(debug_logs: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Granted, refused, revoked and rate-limited calls log the token's public id at most,
    never its text, even at debug level."""
    container = with_agencies(bootstrap(replace(debug_logs, rate_limit=SLOW, rate_burst=2)))
    server = LiveServer(container, run_consumer=False).start()
    try:
        with plain_client(server) as client:
            publisher = server.headers("publisher", PUBLISHER_AGENCY)
            inquiry = server.headers("inquiry")
            calls = [
                ("/v1/agencies", inquiry),
                ("/v1/alerts", publisher),
                ("/v1/agencies", inquiry),
                ("/v1/agencies", inquiry),
            ]
            statuses = [client.get(path, headers=headers).status_code for path, headers in calls]
            server.credentials.store.revoke(inquiry["Authorization"][len("Bearer sgl_") :][:12])
            statuses.append(client.get("/v1/agencies", headers=inquiry).status_code)
    finally:
        server.stop()
        container.close()
    assert statuses == [200, 403, 200, 429, 401]
    logged = capsys.readouterr()
    output = logged.out + logged.err
    assert "access.refused" in output and "access.rate_limited" in output
    for headers in (publisher, inquiry):
        text = headers["Authorization"].removeprefix("Bearer ")
        token_id = text[len("sgl_") :][:12]
        assert token_id in output
        assert text not in output and text[len("sgl_") + 13 :] not in output


def test_the_api_document_declares_who_may_call(server: LiveServer) -> None:
    """The bearer scheme; on every route needing a token its security and its 401, 403 and
    429 problems (Retry-After), and the purpose where one is taken; public routes need none."""
    spec = httpx.get(server.url + "/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    documented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            rule = RULES[(method.upper(), path)]
            documented.append((method.upper(), path))
            if rule.scope == "public":
                assert operation["security"] == [], path
                assert "401" not in operation["responses"], path
                continue
            assert operation["security"] == [{"bearer": []}], path
            assert {"401", "403", "429"} <= set(operation["responses"]), path
            assert "Retry-After" in operation["responses"]["429"]["headers"]
            named = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
            takes = {("query", "purpose"), ("header", PURPOSE_HEADER)} <= named
            assert takes == rule.takes_purpose(), path
    assert sorted(documented) == routes(server.container, documented=True)


class StateRecorder:
    """ASGI middleware keeping the request state each request left (what the access log sees)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.states: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the app, then keep the request's state."""
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.states.append(dict(scope.get("state", {})))


def test_a_refusal_for_role_or_purpose_carries_the_caller_and_rule_others_do_not(
    make_settings: Callable[..., Settings],
) -> None:
    """A 403 leaves the caller (purpose None unless a known one was stated) and the rule on
    the request, so the access log records the refused read; a 401 or 429 leaves neither, so
    it is never recorded."""
    container = bootstrap(make_settings("sqlite", rate_limit=SLOW, rate_burst=1))
    recorder = StateRecorder(create_app(container, run_consumer=False))
    credentials = Credentials(container.settings)
    case = f"/v1/cases/{new_case_id()}"
    calls = [
        (credentials.headers("publisher", PUBLISHER_AGENCY), 403),  # role
        (credentials.headers("inquiry", purpose=None), 403),  # no purpose
        (credentials.headers("auditor", purpose="curiosity"), 403),  # unknown purpose
        ({}, 401),
        (credentials.headers("publisher", PUBLISHER_AGENCY), 429),
    ]

    async def make_calls() -> list[int]:
        transport = httpx.ASGITransport(app=recorder)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger.test") as client:
            return [(await client.get(case, headers=headers)).status_code for headers, _ in calls]

    try:
        assert asyncio.run(make_calls()) == [status for _, status in calls]
    finally:
        credentials.close()
        container.close()
    refused, missing, unknown, anonymous, limited = recorder.states
    assert (
        refused["access"].caller.role == "publisher"
        and refused["rule"] is RULES[("GET", "/v1/cases/{case_id}")]
    )
    assert (missing["access"].caller.role, missing["access"].purpose) == ("inquiry", None)
    assert (unknown["access"].caller.role, unknown["access"].purpose) == ("auditor", None)
    # Neither a 401 nor a 429 has the route's rule: neither is put on the access log.
    for unadmitted in (anonymous, limited):
        assert "access" not in unadmitted and "rule" not in unadmitted
