"""Signing in to the workbench: a token once, in a form; a session kept by the ledger whose
secret, never the token, is a cookie that only pages accept, ended by signing out, by its
token's revocation or by time; a purpose for every inquiry and auditor page view, kept with
the session; every page about cases on the access log."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from consumers.verify import read_all
from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap
from sgl.cli import cli
from sgl.tokens import token_id_of
from tests.agencies import EXAMPLE_IDS, with_agencies
from tests.conftest import LiveServer, wait_for
from tests.credentials import PURPOSE, post_by_caller
from tests.factories import case_events, new_case_id

OTHER_PURPOSE = "public-inquiry"
FOREIGN = "http://elsewhere.test"
# A host name that is no loopback: the ledger behind a proxy, as a browser reaches it.
REAL_HOST = "ledger.example"


@pytest.fixture
def server(sqlite_server: LiveServer) -> LiveServer:
    """A live server on the embedded store with two cases, each with a different agency."""
    return sqlite_server


def session_cookie(response: httpx.Response, name: str = "sgl_session") -> tuple[str, str]:
    """The session cookie a response sets: its value and its whole Set-Cookie line."""
    line = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}="))
    return line.split(";")[0].removeprefix(f"{name}="), line


def with_cookie(server: LiveServer, path: str, value: str, **headers: str) -> httpx.Response:
    """A page asked for by a browser of its own that sends only this session cookie."""
    with server.browser() as browser:
        return browser.get(path, headers={"Cookie": f"sgl_session={value}", **headers})


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
        value, session = session_cookie(signed)
        assert value.startswith("sgls_") and token not in session
        # Lax: a case's address opened from a mail or another site arrives signed in.
        assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
        # Asked for over http of a loopback host: no TLS to insist on.
        assert "Secure" not in session
        assert "sgl_purpose" not in signed.headers.get("set-cookie", "")
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
        value, _ = session_cookie(sign_in(browser, server.credentials.token("inquiry"), PURPOSE))
        assert browser.get("/cases").status_code == 200
        api = browser.get(f"/v1/cases/{case_id}", headers={"X-SGL-Purpose": PURPOSE})
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"
    # The cookie's value is no bearer token: read off the cookie, it opens no API route.
    with server.browser() as other:
        bearer = other.get(
            f"/v1/cases/{case_id}",
            headers={"Authorization": f"Bearer {value}", "X-SGL-Purpose": PURPOSE},
        )
    assert bearer.status_code == 401
    assert bearer.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_sign_in_refuses_a_bad_token_a_writer_token_and_a_foreign_form(
    server: LiveServer,
) -> None:
    with server.browser() as browser:
        bad = sign_in(browser, "sgl_0000_not-a-token", PURPOSE)
        assert bad.status_code == 401 and "not current" in bad.text
        publisher = sign_in(browser, server.credentials.token("publisher"))
        assert publisher.status_code == 403 and "does not read cases" in publisher.text
        foreign = sign_in(browser, server.credentials.token("inquiry"), PURPOSE, origin=FOREIGN)
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
        # A page's `?purpose=` is the API's parameter: the session's own, or two purposes.
        assert browser.get("/cases", params={"purpose": OTHER_PURPOSE}).status_code == 200
        assert browser.get("/cases", params={"purpose": PURPOSE}).status_code == 403
        foreign = browser.post(
            "/purpose", data={"purpose": PURPOSE, "next": "/cases"}, headers={"origin": FOREIGN}
        )
        assert foreign.status_code == 403
        unchanged = browser.get("/cases")
    [record] = [r for r in access_records(server.container) if r["request_id"] == request_id]
    assert record["purpose"] == OTHER_PURPOSE
    [later] = [
        r
        for r in access_records(server.container)
        if r["request_id"] == unchanged.headers["x-request-id"]
    ]
    assert later["purpose"] == OTHER_PURPOSE


def test_signing_out_ends_the_session_on_the_ledger(server: LiveServer) -> None:
    with server.browser() as browser:
        value, _ = session_cookie(sign_in(browser, server.credentials.token("auditor"), PURPOSE))
        assert browser.get("/cases").status_code == 200
        out = browser.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        cleared, line = session_cookie(out)
        assert cleared in ("", '""') and "Max-Age=0" in line
        assert browser.get("/cases").status_code == 303
    # A copy of the cookie kept from before opens nothing: the session is gone.
    replayed = with_cookie(server, "/cases", value)
    assert replayed.status_code == 303
    assert replayed.headers["location"] == "/login?next=%2Fcases"


def test_a_sign_out_sent_from_another_site_is_refused_and_the_session_kept(
    server: LiveServer,
) -> None:
    with server.browser() as browser:
        sign_in(browser, server.credentials.token("inquiry"), PURPOSE)
        foreign = browser.post("/logout", headers={"origin": FOREIGN})
        assert foreign.status_code == 403 and "Not signed out" in foreign.text
        assert "set-cookie" not in foreign.headers
        assert browser.get("/cases").status_code == 200
        own = browser.post("/logout", headers={"origin": server.url})
        assert own.status_code == 303
        assert browser.get("/cases").status_code == 303


def test_revoking_the_token_ends_its_sessions(server: LiveServer) -> None:
    token = server.credentials.token("practitioner", EXAMPLE_IDS[0])
    with server.browser() as browser:
        sign_in(browser, token)
        assert browser.get("/cases").status_code == 200
        data_dir = str(server.container.settings.data_dir)
        revoked = CliRunner().invoke(
            cli, ["--data-dir", data_dir, "token", "revoke", str(token_id_of(token))]
        )
        assert revoked.exit_code == 0, revoked.output
        page = browser.get("/cases")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fcases"


def test_a_session_lasts_sgl_session_hours_then_the_caller_signs_in_again(
    make_settings: Callable[..., Settings],
) -> None:
    """With sessions of 7.2 s, a sign-in opens pages, then sends its caller to sign in again
    once the session has run out (its token still current)."""
    container = with_agencies(bootstrap(make_settings("sqlite", session_hours=0.002)))
    live = LiveServer(container).start()
    try:
        token = live.credentials.token("practitioner", EXAMPLE_IDS[0])
        with live.browser() as browser:
            sign_in(browser, token)
            assert browser.get("/cases").status_code == 200
            with sqlite3.connect(container.settings.tokens_db) as conn:
                [(created, expires)] = conn.execute(
                    "SELECT created_at, expires_at FROM sessions"
                ).fetchall()
            lasts = datetime.fromisoformat(expires) - datetime.fromisoformat(created)
            assert lasts.total_seconds() == pytest.approx(7.2)
            wait_for(
                lambda: browser.get("/cases").status_code == 303,
                timeout=30,
                what="the session to run out",
            )
        with live.browser() as again:
            assert sign_in(again, token).status_code == 303
            assert again.get("/cases").status_code == 200
    finally:
        live.stop()
        container.close()


def test_on_a_real_host_name_the_cookie_is_secure_and_host_prefixed(server: LiveServer) -> None:
    """Reached as ledger.example (a proxy in front terminating TLS, the app seeing http), the
    cookie is `__Host-sgl_session`, Secure; on a loopback name it is neither."""
    token = server.credentials.token("inquiry")
    with server.browser() as browser:
        signed = sign_in(browser, token, PURPOSE, host=REAL_HOST)
        value, line = session_cookie(signed, "__Host-sgl_session")
        assert "Secure" in line and "HttpOnly" in line and "SameSite=lax" in line
        assert "Path=/" in line and "Domain" not in line
    host = {"host": REAL_HOST}
    with server.browser() as browser:
        page = browser.get("/cases", headers={"Cookie": f"__Host-sgl_session={value}", **host})
        assert page.status_code == 200
        out = browser.post("/logout", headers={"Cookie": f"__Host-sgl_session={value}", **host})
        _, cleared = session_cookie(out, "__Host-sgl_session")
        assert "Secure" in cleared and "Max-Age=0" in cleared
    # Under the plain name, on a real host name, the cookie is not read at all.
    assert with_cookie(server, "/cases", value, **host).status_code == 303
    with server.browser() as browser:
        local = sign_in(browser, token, PURPOSE, host=f"localhost:{server.port}")
        _, line = session_cookie(local)
        assert "Secure" not in line


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
