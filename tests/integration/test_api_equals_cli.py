"""`sgl X --json` prints exactly the document the matching route answers, for every read."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap
from sgl.cli import cli
from sgl.demo import DEMO_CASE, load_demo
from tests.agencies import with_agencies
from tests.conftest import LiveServer

AS_OF = "2007-07-25"
LATER = "2100-01-01"  # after everything was appended


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, httpx.Client]]:
    """The demo (Child A and three background cases) on the embedded store, every view caught
    up, alerts raised and the log sealed, with the app over it (no consumers running)."""
    data_dir = tmp_path_factory.mktemp("api-cli")
    container = with_agencies(
        bootstrap(Settings.from_env({}, data_dir=data_dir, checkpoint_every=40))
    )
    load_demo(container.ledger, 3)
    for _ in range(2):  # the alerter appends alert.raised events: the view takes them in too
        container.runner().run_until_caught_up(timeout=60)
        for follower in container.followers():
            follower.run_until_caught_up(timeout=60)
    container.runner().run_until_caught_up(timeout=60)
    container.sealer().run_until_caught_up(timeout=60)
    server = LiveServer(container, run_consumer=False).start()
    with server.client() as client:
        yield container, client
    server.stop()
    container.close()


def _sizes(container: Container) -> tuple[int, int]:
    sizes = [c["size"] for c in container.seal.checkpoints(0)]
    assert len(sizes) >= 2, sizes
    return sizes[0], sizes[-1]


def _event_id(container: Container) -> str:
    return container.view.events(DEMO_CASE)[0].event_id


def _pairs(container: Container) -> list[tuple[list[str], str, dict[str, Any]]]:
    """(command, route, query parameters) for every read."""
    case, at = DEMO_CASE, {"as_of": AS_OF}
    state = container.view.get(case)
    assert state is not None
    other = state.agencies[-1]
    first, last = _sizes(container)
    event_id = _event_id(container)
    return [
        (["case", case, "--json"], f"/v1/cases/{case}", {}),
        (["case", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}", at),
        (
            ["case", case, "--as-of", LATER, "--basis", "appended", "--json"],
            f"/v1/cases/{case}",
            {"as_of": LATER, "basis": "appended"},
        ),
        (["sightings", case, "--json"], f"/v1/cases/{case}/sightings", {}),
        (["sightings", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}/sightings", at),
        (["history", case, "--json"], f"/v1/cases/{case}/history", {}),
        (["history", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}/history", at),
        (["chronology", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}/chronology", at),
        (
            ["chronology", case, "--agency", other, "--from", "2007-06-01", "--json"],
            f"/v1/cases/{case}/chronology",
            {"agency": other, "from": "2007-06-01"},
        ),
        (
            ["changes", case, "--from", "2007-06-01", "--to", AS_OF, "--json"],
            f"/v1/cases/{case}/changes",
            {"from": "2007-06-01", "to": AS_OF},
        ),
        (["clocks", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}/clocks", at),
        (["latency", "--as-of", AS_OF, "--json"], "/v1/latency", at),
        (
            ["latency", "--by", "agency", "--as-of", AS_OF, "--json"],
            "/v1/latency",
            {**at, "by": "agency"},
        ),
        (["latency", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}/latency", at),
        (["audit", "--json"], "/v1/audit", {}),
        (["audit", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}/audit", at),
        (["alerts", "--as-of", AS_OF, "--json"], "/v1/alerts", at),
        (["alerts", case, "--as-of", AS_OF, "--json"], f"/v1/cases/{case}/alerts", at),
        (
            ["alerts", case, "--as-of", LATER, "--json"],
            f"/v1/cases/{case}/alerts",
            {"as_of": LATER},
        ),
        (
            ["who-knew", case, "--show", "knowledge", "--as-of", AS_OF, "--json"],
            f"/v1/cases/{case}/knowledge",
            at,
        ),
        (
            ["who-knew", case, "--show", "matrix", "--as-of", AS_OF, "--json"],
            f"/v1/cases/{case}/knowledge/matrix",
            at,
        ),
        (
            ["who-knew", case, "--show", "gaps", "--agency", other, "--as-of", AS_OF, "--json"],
            f"/v1/cases/{case}/knowledge/gaps",
            {**at, "agency": other},
        ),
        (
            ["who-knew", case, "--show", "time-to-share", "--as-of", AS_OF, "--json"],
            f"/v1/cases/{case}/knowledge/time-to-share",
            at,
        ),
        (
            ["who-knew", "--show", "time-to-share", "--as-of", AS_OF, "--json"],
            "/v1/knowledge/time-to-share",
            at,
        ),
        (["proof", "get", event_id], f"/v1/events/{event_id}/proof", {}),
        (
            ["proof", "get", event_id, "--checkpoint", str(last)],
            f"/v1/events/{event_id}/proof",
            {"checkpoint": last},
        ),
        (
            ["proof", "consistency", str(first), str(last)],
            "/v1/checkpoints/consistency",
            {"from": first, "to": last},
        ),
        (["checkpoints", "latest"], "/v1/checkpoints/latest", {}),
    ]


def test_every_read_command_prints_what_its_route_answers(
    ledger: tuple[Container, httpx.Client],
) -> None:
    """For each read, the CLI's JSON and the route's JSON are the same document."""
    container, client = ledger
    runner = CliRunner()
    pairs = _pairs(container)
    for command, route, params in pairs:
        answer = client.get(route, params=params)
        assert answer.status_code == 200, (route, answer.text)
        shown = runner.invoke(cli, ["--data-dir", str(container.settings.data_dir), *command])
        assert shown.exit_code == 0, (command, shown.output)
        assert orjson.loads(shown.stdout) == answer.json(), command
    commands = {c[0] if c[0] != "who-knew" else c[c.index("--show") + 1] for c, _, _ in pairs}
    assert commands >= {
        "case", "history", "chronology", "changes", "clocks", "latency", "audit", "alerts",
        "knowledge", "matrix", "gaps", "time-to-share", "proof", "checkpoints",
    }  # fmt: skip


def _option_pairs(container: Container) -> list[tuple[list[str], str, Any]]:
    """(command, route, query parameters) for the options of the reads: the appended basis,
    every grouping of latency, the audit's clock, and each chronology filter, alone and
    together."""
    case, at = DEMO_CASE, {"as_of": AS_OF}
    state = container.view.get(case)
    assert state is not None
    lead, other = state.agencies[0], state.agencies[-1]
    events = container.view.events(case)
    types = sorted({e.type for e in events})
    # A type the other agency recorded before AS_OF, so the combined filter keeps something.
    recorded = next(
        e.type for e in events if e.agency == other and "2007-01-01" <= e.occurred_at[:10] <= AS_OF
    )
    appended = {"as_of": LATER, "basis": "appended"}
    chronology = f"/v1/cases/{case}/chronology"
    later = ["--as-of", LATER, "--basis", "appended", "--json"]
    pairs: list[tuple[list[str], str, Any]] = [
        (["history", case, *later], f"/v1/cases/{case}/history", appended),
        (["chronology", case, *later], chronology, appended),
        (["clocks", case, *later], f"/v1/cases/{case}/clocks", appended),
        (["latency", *later], "/v1/latency", appended),
        (["audit", *later], "/v1/audit", appended),
        (
            ["audit", "--clock", "referral_decision", "--as-of", AS_OF, "--json"],
            "/v1/audit",
            {**at, "clock": "referral_decision"},
        ),
        (
            ["audit", case, "--clock", "initial_cp_conference", "--json"],
            f"/v1/cases/{case}/audit",
            {"clock": "initial_cp_conference"},
        ),
        (["alerts", case, *later], f"/v1/cases/{case}/alerts", appended),
        (["alerts", *later], "/v1/alerts", appended),
        (
            ["who-knew", case, "--show", "matrix", *later],
            f"/v1/cases/{case}/knowledge/matrix",
            appended,
        ),
        (
            ["chronology", case, "--type", types[0], "--type", types[-1], "--json"],
            chronology,
            [("type", types[0]), ("type", types[-1])],
        ),
        (["chronology", case, "--to", "2007-06-30", "--json"], chronology, {"to": "2007-06-30"}),
        (
            ["chronology", case, "--agency", lead, "--agency", other, "--as-of", AS_OF, "--json"],
            chronology,
            [("agency", lead), ("agency", other), ("as_of", AS_OF)],
        ),
        (
            [
                *("chronology", case, "--agency", other, "--type", recorded),
                *("--from", "2007-01-01", "--to", AS_OF, "--json"),
            ],
            chronology,
            {"agency": other, "type": recorded, "from": "2007-01-01", "to": AS_OF},
        ),
    ]
    for by in ("clock", "agency", "kind", "area", "case"):
        pairs.append(
            (["latency", "--by", by, "--as-of", AS_OF, "--json"], "/v1/latency", {**at, "by": by})
        )
        pairs.append(
            (
                ["latency", case, "--by", by, "--as-of", AS_OF, "--json"],
                f"/v1/cases/{case}/latency",
                {**at, "by": by},
            )
        )
    return pairs


def test_the_options_of_each_read_print_what_its_route_answers(
    ledger: tuple[Container, httpx.Client],
) -> None:
    """Each option of a read command and the matching query parameter give the same document;
    each chronology filter keeps some events and drops others."""
    container, client = ledger
    runner = CliRunner()
    everything = len(client.get(f"/v1/cases/{DEMO_CASE}/chronology").json()["events"])
    for command, route, params in _option_pairs(container):
        answer = client.get(route, params=params)
        assert answer.status_code == 200, (route, answer.text)
        shown = runner.invoke(cli, ["--data-dir", str(container.settings.data_dir), *command])
        assert shown.exit_code == 0, (command, shown.output)
        assert orjson.loads(shown.stdout) == answer.json(), command
        if route.endswith("/chronology") and "--basis" not in command:
            assert 0 < len(answer.json()["events"]) < everything, params


@pytest.mark.parametrize(
    ("command", "route"),
    [
        (["chronology", DEMO_CASE], f"/v1/cases/{DEMO_CASE}/chronology"),
        (["clocks", DEMO_CASE], f"/v1/cases/{DEMO_CASE}/clocks"),
        (["latency"], "/v1/latency"),
        (["latency", "--by", "agency"], "/v1/latency"),
        (["latency", DEMO_CASE], f"/v1/cases/{DEMO_CASE}/latency"),
        (["audit"], "/v1/audit"),
        (["audit", DEMO_CASE], f"/v1/cases/{DEMO_CASE}/audit"),
        (["alerts"], "/v1/alerts"),
    ],
)
def test_csv_from_the_command_is_the_csv_the_route_answers(
    ledger: tuple[Container, httpx.Client], command: list[str], route: str
) -> None:
    """`--format csv` prints, byte for byte, what `?format=csv` answers."""
    container, client = ledger
    params = {"as_of": AS_OF, "format": "csv"}
    if "--by" in command:
        params["by"] = command[command.index("--by") + 1]
    answer = client.get(route, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    args = ["--data-dir", str(container.settings.data_dir), *command, "--as-of", AS_OF]
    shown = CliRunner().invoke(cli, [*args, "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == answer.text
    assert len(answer.text.splitlines()) > 1, "a header and at least one row"
    if route.endswith(("/clocks", "/latency", "/audit")):
        # Where the data end and what open runs are measured to: response headers over
        # HTTP, standard error from the command.
        end, to = answer.headers["x-sgl-data-end"], answer.headers["x-sgl-measured-to"]
        assert answer.headers["x-sgl-open-runs-measured-to"] == "as_of"
        assert f"data end {end}; open runs measured to {to}" in shown.stderr.splitlines()


def test_the_workbook_from_the_command_is_the_workbook_the_route_answers(
    ledger: tuple[Container, httpx.Client], tmp_path: Path
) -> None:
    """`--format xlsx --output FILE` writes the workbook `?format=xlsx` answers: every cell
    the same but when each was generated, the latest checkpoint named in both; --output goes
    with xlsx alone."""
    container, client = ledger
    answer = client.get(
        f"/v1/cases/{DEMO_CASE}/chronology", params={"as_of": AS_OF, "format": "xlsx"}
    )
    assert answer.status_code == 200, answer.text
    target = tmp_path / "chronology.xlsx"
    args = ["--data-dir", str(container.settings.data_dir), "chronology", DEMO_CASE]
    runner = CliRunner()
    shown = runner.invoke(
        cli, [*args, "--as-of", AS_OF, "--format", "xlsx", "--output", str(target)]
    )
    assert shown.exit_code == 0, shown.output

    def cells(book: bytes) -> list[tuple[Any, ...]]:
        sheet = load_workbook(io.BytesIO(book))["Chronology"]
        return [row for row in sheet.iter_rows(values_only=True) if row[0] != "Generated (UTC)"]

    written, answered = cells(target.read_bytes()), cells(answer.content)
    assert written == answered
    events = client.get(f"/v1/cases/{DEMO_CASE}/chronology", params={"as_of": AS_OF}).json()
    ids = [e["event_id"] for e in events["events"]]
    assert ids and [row[-1] for row in answered[-len(ids) :]] == ids
    checkpoint = next(row[1] for row in answered if row[0] == "Latest checkpoint")
    assert checkpoint.startswith("partition 0: tree size "), checkpoint
    for wrong in (["--format", "xlsx"], ["--output", str(target)]):
        refused = runner.invoke(cli, [*args, *wrong])
        assert refused.exit_code == 2 and "--output FILE" in refused.output, refused.output


def test_reads_refuse_alike(ledger: tuple[Container, httpx.Client]) -> None:
    """No such case is a 404 and exit status 1; a bad date (or clock) a 422 naming the
    parameter and a usage error (exit status 2) naming the option."""
    container, client = ledger
    runner = CliRunner()
    args = ["--data-dir", str(container.settings.data_dir)]
    for command, route in [
        (["case", "CASE-NONE1"], "/v1/cases/CASE-NONE1"),
        (["history", "CASE-NONE1"], "/v1/cases/CASE-NONE1/history"),
        (["clocks", DEMO_CASE, "--as-of", "2001-01-01"], f"/v1/cases/{DEMO_CASE}/clocks"),
        (["audit", DEMO_CASE, "--as-of", "2001-01-01"], f"/v1/cases/{DEMO_CASE}/audit"),
    ]:
        params = {"as_of": "2001-01-01"} if "--as-of" in command else {}
        answer = client.get(route, params=params)
        assert answer.status_code == 404
        assert answer.json()["type"] == "urn:sgl:problem:not-found"
        shown = runner.invoke(cli, [*args, *command])
        assert shown.exit_code == 1, shown.output
        assert answer.json()["detail"] in shown.output and len(shown.output.splitlines()) == 1
    bad = client.get(f"/v1/cases/{DEMO_CASE}/history", params={"as_of": "25/07/2007"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/as_of"
    shown = runner.invoke(cli, [*args, "history", DEMO_CASE, "--as-of", "25/07/2007"])
    assert shown.exit_code == 2 and "--as-of: '25/07/2007'" in shown.output
    wrong = client.get(f"/v1/cases/{DEMO_CASE}/knowledge", params={"agency": "no-such-agency"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["pointer"] == "/agency"
    shown = runner.invoke(
        cli, [*args, "who-knew", DEMO_CASE, "--show", "knowledge", "--agency", "no-such-agency"]
    )
    assert shown.exit_code == 2 and "--agency" in shown.output
    no_clock = client.get("/v1/audit", params={"clock": "no_such_clock"})
    assert no_clock.status_code == 422 and no_clock.json()["errors"][0]["pointer"] == "/clock"
    shown = runner.invoke(cli, [*args, "audit", "--clock", "no_such_clock"])
    assert shown.exit_code == 2 and "--clock: 'no_such_clock' is not one of" in shown.output


def test_history_and_raised_alerts_honour_as_of(ledger: tuple[Container, httpx.Client]) -> None:
    """The history as of a date holds only the entries known then; the alerts a case shows as
    raised are those the ledger had raised by then."""
    _, client = ledger
    url = f"/v1/cases/{DEMO_CASE}"
    everything = client.get(f"{url}/history").json()["entries"]
    then = client.get(f"{url}/history", params={"as_of": AS_OF}).json()["entries"]
    assert 0 < len(then) < len(everything)
    assert all(e["recorded_at"][:10] <= AS_OF for e in then)
    now = client.get(f"{url}/alerts").json()
    assert now["raised"], "the alerter raised alerts on the demo case"
    assert client.get(f"{url}/alerts", params={"as_of": AS_OF}).json()["raised"] == []


def test_the_cli_loads_no_web_framework(tmp_path: Path) -> None:
    """Importing the CLI (or the queries) loads neither FastAPI nor Starlette."""
    code = (
        "import sys, sgl.cli, sgl.queries; "
        "assert not {'fastapi', 'starlette'} & set(sys.modules), 'a web framework was loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
