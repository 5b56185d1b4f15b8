"""The audit page over HTTP: its tables hold exactly what `/v1/latency` and `/v1/audit` answer
for the same period, the period changes what is counted, only inquiry and auditor see it, and
each view of it is on the access log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.cli import cli
from sgl.demo import DEMO_CASE, load_demo
from tests.agencies import with_agencies
from tests.conftest import LiveServer
from tests.credentials import PURPOSE
from tests.integration.test_web_session import access_records, sign_in

# The demo's first year of referrals, and a quarter of it.
YEAR = {"from": "2006-01-01", "to": "2006-12-31"}
QUARTER = {"from": "2007-01-01", "to": "2007-03-31"}
NUMBERS = (
    "runs",
    "met",
    "breached",
    "open",
    "median_working_days",
    "p90_working_days",
    "max_working_days",
)


class Tables(HTMLParser):
    """The body rows of each table with an id: per row, the text of its cells in order."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("id"):
            self._table = found["id"]
            self.tables[self._table or ""] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._in_body and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def shown(cell: str) -> float | None:
    """A number as the page shows it (an en dash for none)."""
    return None if cell == "\u2013" else float(cell)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo (Child A, Child B and ten background cases) on the embedded store, its views
    caught up, with the app over it."""
    data_dir = tmp_path_factory.mktemp("web-audit")
    container = with_agencies(bootstrap(Settings.from_env({}, data_dir=data_dir)))
    load_demo(container.ledger, 10)
    container.runner().run_until_caught_up(timeout=60)
    for follower in container.followers():
        follower.run_until_caught_up(timeout=60)
    live = LiveServer(container, run_consumer=False).start()
    yield live
    live.stop()
    container.close()


@pytest.fixture
def inquiry(server: LiveServer) -> Iterator[httpx.Client]:
    """A browser signed in as an inquiry, with a purpose."""
    with server.browser() as browser:
        signed = sign_in(browser, server.credentials.token("inquiry"), PURPOSE, next="/audit")
        assert signed.status_code == 303
        yield browser


def api(server: LiveServer, route: str, params: dict[str, str]) -> dict[str, Any]:
    """The API's answer to an inquiry token."""
    with server.client() as client:
        answer = client.get(route, params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def latency_rows(rows: list[list[str]], with_limit: bool) -> list[dict[str, Any]]:
    """A latency table's rows as the API's groups hold them (without the breaches listed)."""
    out = []
    for cells in rows:
        name, rest = cells[0], cells[1:]
        row: dict[str, Any] = {"name": name}
        if with_limit:
            row["limit"], rest = rest[0], rest[1:]
        row.update(zip(NUMBERS, map(shown, rest), strict=True))
        out.append(row)
    return out


def groups(document: dict[str, Any], by: str) -> list[dict[str, Any]]:
    """The API's latency groups in the page's shape."""
    return [
        {
            "name": g[by],
            **({"limit": g["limit"]} if by == "clock" else {}),
            **{n: g[n] for n in NUMBERS},
        }
        for g in document["groups"]
    ]


@pytest.mark.parametrize("period", [{}, YEAR, QUARTER], ids=["all", "year", "quarter"])
@pytest.mark.parametrize("by", ["agency", "kind", "area"])
def test_the_page_shows_what_the_api_answers_for_the_same_period(
    server: LiveServer, inquiry: httpx.Client, period: dict[str, str], by: str
) -> None:
    page = inquiry.get("/audit", params={**period, "by": by})
    assert page.status_code == 200, page.text
    tables = Tables(page.text).tables
    grouped = api(server, "/v1/latency", {**period, "by": by})
    per_clock = api(server, "/v1/latency", {**period, "by": "clock"})
    runs = api(server, "/v1/audit", period)["runs"]
    assert runs, "the period holds clock runs"
    assert latency_rows(tables["latency"], with_limit=False) == groups(grouped, by)
    assert latency_rows(tables["per-clock"], with_limit=True) == groups(per_clock, "clock")
    breaches = Counter(r["deadline"][:7] for r in runs if r["outcome"] == "breached")
    assert [(m, int(c)) for m, c in tables["breaches"]] == sorted(breaches.items())
    assert f'<strong id="run-count">{len(runs)}</strong>' in page.text
    # The charts are drawn from the same runs: one histogram row per clock that stopped a run.
    stopped = {r["clock"] for r in runs if r["stop_event"] is not None}
    assert page.text.count('<g class="clock"') == len(stopped)
    assert page.text.count('role="img"') == 2


def test_the_period_changes_what_is_counted_and_the_form_keeps_it(
    server: LiveServer, inquiry: httpx.Client
) -> None:
    counted = {}
    for name, period in (("all", {}), ("year", YEAR), ("quarter", QUARTER)):
        page = inquiry.get("/audit", params=period)
        assert page.status_code == 200
        counted[name] = sum(int(row[2]) for row in Tables(page.text).tables["per-clock"])
        for field, value in period.items():
            assert f'name="{field}" value="{value}"' in page.text
    assert counted["all"] > counted["year"] > 0 and counted["all"] > counted["quarter"] > 0
    assert counted["year"] + counted["quarter"] <= counted["all"]
    # The empty fields of a form sent without dates mean no bound.
    assert (
        Tables(inquiry.get("/audit?from=&to=&by=agency").text).tables
        == Tables(inquiry.get("/audit").text).tables
    )


def test_a_period_with_no_runs_says_so(server: LiveServer, inquiry: httpx.Client) -> None:
    page = inquiry.get("/audit", params={"from": "1990-01-01", "to": "1990-12-31"})
    assert page.status_code == 200
    assert "<svg" not in page.text
    assert "No runs in this period: no clock run stopped." in page.text
    assert "No breaches in this period." in page.text
    assert '<strong id="run-count">0</strong>' in page.text


def test_bad_dates_are_a_page_naming_the_field(inquiry: httpx.Client) -> None:
    bad = inquiry.get("/audit", params={"from": "2007-02-30"})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    assert "<code>/from</code>" in bad.text
    backwards = inquiry.get("/audit", params={"from": "2007-06-01", "to": "2007-01-01"})
    assert backwards.status_code == 422 and "Dates out of order" in backwards.text


def test_a_practitioner_and_a_publisher_are_refused_with_a_page(server: LiveServer) -> None:
    state = server.container.view.get(DEMO_CASE)
    assert state is not None
    with server.browser() as browser:
        token = server.credentials.token("practitioner", state.agencies[0])
        assert sign_in(browser, token).status_code == 303
        assert 'href="/audit"' not in browser.get("/cases").text
        refused = browser.get("/audit")
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        assert "<h1>" in refused.text and 'id="latency"' not in refused.text
    with server.browser() as browser:
        headers = server.headers("publisher", purpose=None)
        refused = browser.get("/audit", headers=headers)
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        assert 'id="latency"' not in refused.text


def test_each_view_of_the_page_is_on_the_access_log(
    server: LiveServer, inquiry: httpx.Client
) -> None:
    page = inquiry.get("/audit", params=QUARTER)
    assert page.status_code == 200
    request_id = page.headers["x-request-id"]
    records = [r for r in access_records(server.container) if r["request_id"] == request_id]
    assert [(r["route"], r["caller"]["role"], r["purpose"]) for r in records] == [
        ("/audit", "inquiry", PURPOSE)
    ]


@pytest.mark.parametrize(
    ("command", "route"),
    [(["audit"], "/v1/audit"), (["latency", "--by", "kind"], "/v1/latency")],
)
def test_the_commands_take_the_same_period(
    server: LiveServer, command: list[str], route: str
) -> None:
    """`sgl audit|latency --from --to` prints what the route answers for that period, which
    counts fewer runs than the whole ledger."""
    params = {**QUARTER, **({"by": "kind"} if "--by" in command else {})}
    data_dir = str(server.container.settings.data_dir)
    period = ["--from", QUARTER["from"], "--to", QUARTER["to"]]
    shown = CliRunner().invoke(cli, ["--data-dir", data_dir, *command, *period, "--json"])
    assert shown.exit_code == 0, shown.output
    answered = api(server, route, params)
    assert orjson.loads(shown.stdout) == answered
    assert (answered["from"], answered["to"]) == (QUARTER["from"], QUARTER["to"])
    whole = api(server, route, {k: v for k, v in params.items() if k == "by"})
    if route == "/v1/audit":
        assert 0 < len(answered["runs"]) < len(whole["runs"])
    else:
        assert (
            0 < sum(g["runs"] for g in answered["groups"]) < sum(g["runs"] for g in whole["groups"])
        )
