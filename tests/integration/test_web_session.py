"""Signing in to the workbench: a token once, in a form; a cookie that only pages accept; a
purpose for every inquiry and auditor page view; every page about cases on the access log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from consumers.verify import read_all
from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap
from tests.agencies import EXAMPLE_IDS, with_agencies
from tests.conftest import LiveServer, wait_for
from tests.credentials import PURPOSE, post_by_caller
from tests.factories import case_events, new_case_id

OTHER_PURPOSE = "public-inquiry"


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A live server on the embedded store with two cases, each with a different agency."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    live = LiveServer(container).start()
    yield live
    live.stop()
    container.close()


def two_cases(server: LiveServer) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two cases, published, each by one agency of its own (case id, agency)."""
    made = []
    with server.client() as http:
        for agency in (EXAMPLE_IDS[0], other_agency()):
            case_id = new_case_id()
            events = [{**e, "agency": agency} for e in case_events(case_id)]
            assert all(r.status_code == 201 for r in post_by_caller(http, events)), agency
            made.append((case_id, events))
    container = server.container
    wait_for(
        lambda: all(len(container.view.events(c)) == len(e) for c, e in made),
        what="both cases in the view",
    )
    (first, first_events), (second, second_events) = made
    return (first, first_events[0]["agency"]), (second, second_events[0]["agency"])


def other_agency() -> str:
    """A registered agency other than the first example's."""
    return next(a for a in EXAMPLE_IDS if a != EXAMPLE_IDS[0])


def sign_in(
    browser: httpx.Client, token: str, purpose: str = "", next: str = "/cases", **headers: str
) -> httpx.Response:
    """Post the sign-in form."""
    return browser.post(
        "/login", data={"token": token, "purpose": purpose, "next": next}, headers=headers
    )


def access_records(container: Container) -> list[dict[str, Any]]:
    """Every record of the access log."""
    found: list[dict[str, Any]] = []
    read_all(container.access_log, lambda r: found.append(orjson.loads(r.value or b"{}")))
    return found


def test_a_page_without_a_session_sends_the_caller_to_sign_in_and_back(
    server: LiveServer,
) -> None:
    with server.browser() as browser:
        response = browser.get("/cases", params={"q": "x"})
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fcases%3Fq%3Dx"
        form = browser.get(response.headers["location"])
        assert form.status_code == 200
        assert 'name="next" value="/cases?q=x"' in form.text
        assert browser.get("/").headers["location"] == "/login"


def test_an_inquiry_signs_in_with_a_purpose_and_its_page_views_are_recorded(
    server: LiveServer,
) -> None:
    (first, _), (second, _) = two_cases(server)
    token = server.credentials.token("inquiry")
    with server.browser() as browser:
        refused = sign_in(browser, token)
        assert refused.status_code == 422
        assert "choose one of the purposes" in refused.text
        assert "sgl_session" not in refused.headers.get("set-cookie", "")
        signed = sign_in(browser, token, PURPOSE, next="/cases")
        assert signed.status_code == 303 and signed.headers["location"] == "/cases"
        cookies = signed.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("sgl_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
        page = browser.get("/cases")
        assert page.status_code == 200
        assert first in page.text and second in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        request_id = page.headers["x-request-id"]
    records = [r for r in access_records(server.container) if r["request_id"] == request_id]
    assert len(records) == 1
    record = records[0]
    assert (
        record["route"],
        record["caller"]["role"],
        record["purpose"],
        record["outcome"]["status"],
    ) == (
        "/cases",
        "inquiry",
        PURPOSE,
        200,
    )


def test_a_practitioner_lists_only_the_cases_its_agency_is_in(server: LiveServer) -> None:
    (first, agency), (second, other) = two_cases(server)
    assert agency != other
    for own, shown, hidden in ((agency, first, second), (other, second, first)):
        with server.browser() as browser:
            assert sign_in(browser, server.credentials.token("practitioner", own)).status_code
            page = browser.get("/cases")
        assert page.status_code == 200
        assert shown in page.text and hidden not in page.text, own


def test_the_session_cookie_opens_pages_but_never_the_api(server: LiveServer) -> None:
    (case_id, _), _ = two_cases(server)
    with server.browser() as browser:
        sign_in(browser, server.credentials.token("inquiry"), PURPOSE)
        assert browser.get("/cases").status_code == 200
        api = browser.get(f"/v1/cases/{case_id}", headers={"X-SGL-Purpose": PURPOSE})
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"


def test_sign_in_refuses_a_bad_token_a_writer_token_and_a_foreign_form(
    server: LiveServer,
) -> None:
    with server.browser() as browser:
        bad = sign_in(browser, "sgl_0000_not-a-token", PURPOSE)
        assert bad.status_code == 401 and "not current" in bad.text
        publisher = sign_in(browser, server.credentials.token("publisher"))
        assert publisher.status_code == 403 and "does not read cases" in publisher.text
        foreign = sign_in(
            browser, server.credentials.token("inquiry"), PURPOSE, origin="http://elsewhere.test"
        )
        assert foreign.status_code == 403
        assert not browser.cookies
        assert browser.get("/cases").status_code == 303


def test_sign_in_returns_only_to_this_apps_pages(server: LiveServer) -> None:
    token = server.credentials.token("inquiry")
    for target in ("//elsewhere.test/x", "https://elsewhere.test/", "/\\elsewhere.test"):
        with server.browser() as browser:
            response = sign_in(browser, token, PURPOSE, next=target)
        assert response.headers["location"] == "/cases", target


def test_the_purpose_can_be_changed_and_is_stated_by_later_page_views(
    server: LiveServer,
) -> None:
    with server.browser() as browser:
        sign_in(browser, server.credentials.token("inquiry"), PURPOSE)
        unknown = browser.post("/purpose", data={"purpose": "curiosity", "next": "/cases"})
        assert unknown.status_code == 422
        changed = browser.post("/purpose", data={"purpose": OTHER_PURPOSE, "next": "/cases"})
        assert changed.status_code == 303 and changed.headers["location"] == "/cases"
        page = browser.get("/cases")
        assert f'value="{OTHER_PURPOSE}" selected' in page.text
        request_id = page.headers["x-request-id"]
    [record] = [r for r in access_records(server.container) if r["request_id"] == request_id]
    assert record["purpose"] == OTHER_PURPOSE


def test_signing_out_forgets_the_session(server: LiveServer) -> None:
    with server.browser() as browser:
        sign_in(browser, server.credentials.token("auditor"), PURPOSE)
        assert browser.get("/cases").status_code == 200
        out = browser.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert browser.get("/cases").status_code == 303


def test_the_pages_styles_and_script_are_served_by_the_app(server: LiveServer) -> None:
    with server.browser() as browser:
        css = browser.get("/static/site.css")
        js = browser.get("/static/keys.js")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200 and "data-key" in js.text


def test_a_browser_asking_for_a_page_that_is_not_there_gets_a_page(server: LiveServer) -> None:
    """Outside the API's paths, a browser (asking for HTML) is answered 404 with a page; an
    API client, and any path under /v1, with the problem as before."""
    with server.browser() as browser:
        sign_in(browser, server.credentials.token("inquiry"), PURPOSE)
        page = browser.get("/cases/CASE-T0001/nothing", headers={"accept": "text/html"})
        problem = browser.get("/cases/CASE-T0001/nothing")
        api = browser.get("/v1/nothing", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert problem.status_code == 404
    assert problem.headers["content-type"] == "application/problem+json"
    assert api.headers["content-type"] == "application/problem+json"
