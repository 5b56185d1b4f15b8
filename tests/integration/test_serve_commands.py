"""The commands that run or feed a ledger: `sgl demo` and `sgl serve` check their port first and
print their addresses last; `sgl publish` writes to SGL_URL and names the ledger; building the
app without consumers writes nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import orjson
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from consumers.runner import ProjectionRunner
from ledger.client import NotAuthorized
from ledger.errors import SettingsError
from ledger.settings import Settings
from sgl.api import create_app
from sgl.bootstrap import Container, bootstrap
from sgl.cli import cli
from sgl.cli_serve import _check_port
from tests.agencies import with_agencies
from tests.conftest import LiveServer, free_port, wait_for
from tests.factories import make_event

ROOT = Path(__file__).resolve().parents[2]


def run_until(
    args: list[str], env: dict[str, str], ready: str, stop: signal.Signals, probe: str = ""
) -> tuple[int, str, list[str]]:
    """Run `python -m sgl ARGS` until a line of its stderr holds `ready` (then GET `probe`, if
    given), stop it with the signal; its exit code, stdout and stderr lines."""
    err: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "sgl", *args],
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None and process.stdout is not None
        reader = threading.Thread(target=lambda: err.extend(process.stderr or []), daemon=True)
        reader.start()
        try:
            wait_for(lambda: any(ready in line for line in err), timeout=180, what=ready)
            if probe:
                assert httpx.get(probe, timeout=5).status_code == 200
        finally:
            process.send_signal(stop)
            process.wait(timeout=60)
            reader.join(timeout=10)
        return process.returncode, process.stdout.read(), err


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another server is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("command", [["demo", "--cases", "5"], ["serve"]])
def test_a_busy_port_stops_the_command_before_anything_is_loaded(
    busy_port: int, tmp_path: Path, command: list[str]
) -> None:
    """The port is checked first: a clear message, a non-zero exit, and no data written."""
    data = tmp_path / "data"
    result = CliRunner().invoke(cli, ["--data-dir", str(data), *command, "--port", str(busy_port)])
    assert result.exit_code != 0
    assert f"cannot listen on 127.0.0.1:{busy_port}" in result.output
    assert "--port" in result.output
    assert not data.exists(), "nothing is loaded or created before the port is known free"


def test_demo_prints_one_line_per_step_and_its_addresses_last(tmp_path: Path) -> None:
    """`sgl demo` on a free port: step summaries, no per-alert lines, the addresses last; it
    stops on SIGINT."""
    port = free_port()
    env = {**os.environ, "SGL_DATA_DIR": str(tmp_path / "data")}
    env.pop("SGL_LOG_LEVEL", None)
    code, out, err = run_until(
        ["demo", "--cases", "5", "--port", str(port)],
        env,
        "Stop with Ctrl-C",
        signal.SIGINT,
        probe=f"http://127.0.0.1:{port}/healthz",
    )
    assert code == 0, "".join(err)
    assert out == ""
    lines = [line.rstrip("\n") for line in "".join(err).replace("\r", "\n").splitlines()]
    lines = [line for line in lines if line.strip()]
    assert not [line for line in lines if "alert.raised" in line]
    start = next(i for i, line in enumerate(lines) if line.startswith("Safeguarding Ledger on"))
    block = lines[start:]
    assert block[-1] == "Stop with Ctrl-C."
    assert all(line.startswith("  ") for line in block[1:-1]), block
    assert f"  API docs: http://127.0.0.1:{port}/docs (OpenAPI: /openapi.json)" in block
    pages = f"  Pages:    http://127.0.0.1:{port}/ (the workbench: sign in with a reading token)"
    assert pages in block
    steps = lines[:start]
    assert any(
        line.startswith("Demo: cases CASE-A0001 (Child A) and CASE-B0001 (Child B), 5 background")
        for line in steps
    )
    assert any(line.startswith("Case view: ") for line in steps)
    (alerts,) = [int(m[1]) for line in steps if (m := re.search(r"(\d+) alerts raised", line))]
    assert alerts > 0, "alerts were raised, and none was logged one by one"
    assert any(line.startswith("Sealed ") for line in steps)
    info = [line for line in steps if "[info" in line or '"level": "info"' in line]
    assert not info, info


def test_creating_the_app_without_consumers_writes_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    """create_app(run_consumer=False) creates no signing key and no file; lag still reads."""
    settings = make_settings("sqlite")
    container = with_agencies(bootstrap(settings))
    try:
        before = sorted(settings.data_dir.rglob("*"))
        create_app(container, run_consumer=False)
        assert sorted(settings.data_dir.rglob("*")) == before
        assert not (settings.data_dir / "keys").exists()
        registry = sum(container.log.end_offsets().values())  # the agencies' records
        server = LiveServer(container, run_consumer=False).start()
        try:
            container.ledger.submit([make_event()])
            metrics = httpx.get(server.url + "/metrics").text
        finally:
            server.stop()
        lag = float(registry + 1)  # nothing consumed: the agencies' records and the event
        assert f'sgl_consumer_lag_records{{view="case_state"}} {lag}' in metrics
        assert f'sgl_consumer_lag_records{{view="seal"}} {lag}' in metrics
        assert not (settings.data_dir / "keys").exists()
    finally:
        container.close()


def test_with_consumers_the_app_builds_them_when_it_starts(
    make_settings: Callable[..., Settings],
) -> None:
    """The consumers (the sealer among them, with its key) exist once the app runs them."""
    settings = make_settings("sqlite")
    container = with_agencies(bootstrap(settings))
    try:
        create_app(container)
        assert not (settings.data_dir / "keys").exists()
        server = LiveServer(container).start()
        server.stop()
        assert (settings.data_dir / "keys" / "checkpoint.key").exists()
    finally:
        container.close()


def test_publish_writes_to_sgl_url_and_names_the_ledger(
    live_server: LiveServer, container: Container, tmp_path: Path
) -> None:
    """Without --url, `sgl publish` uses SGL_URL, and says which ledger it wrote to."""
    event = make_event()
    path = tmp_path / "events.jsonl"
    path.write_text(orjson.dumps(event).decode() + "\n")
    token = live_server.credentials.token("publisher", event["agency"])
    result = CliRunner().invoke(
        cli, ["publish", str(path)], env={"SGL_URL": live_server.url, "SGL_TOKEN": token}
    )
    assert result.exit_code == 0, result.output
    assert "line 1: accepted" in result.stdout
    assert token not in result.output
    settings = container.settings
    assert (
        f"ledger: {live_server.url} ({settings.backend} backend, topic {settings.topic})"
        in result.stderr
    )


def test_publish_refuses_a_bad_address(tmp_path: Path) -> None:
    """A server address that is not an http(s) URL is refused with the setting's name."""
    path = tmp_path / "events.jsonl"
    path.write_text("\n")
    for args, env in (([], {"SGL_URL": "localhost:8000"}), (["--url", "ftp://x"], {})):
        result = CliRunner().invoke(cli, ["publish", str(path), *args], env=env)
        assert isinstance(result.exception, SettingsError), result.output
        assert "SGL_URL must be an http:// or https://" in str(result.exception)


def test_serve_help_names_every_consumer_it_runs() -> None:
    """`serve --help` says --consumer runs all the consumers, not one."""
    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    for name in ("case-state view", "clock view", "alerter", "sealer"):
        assert name in text


def test_consume_only_the_case_view_builds_no_sealer(tmp_path: Path) -> None:
    """`sgl consume --only case_state` on a fresh data directory creates no signing key."""
    data = tmp_path / "data"
    env = {**os.environ, "SGL_DATA_DIR": str(data), "SGL_LOG_LEVEL": "info"}
    env["SGL_LOG_FORMAT"] = "json"
    code, _, err = run_until(
        ["consume", "--only", "case_state"], env, '"event": "consumer.started"', signal.SIGTERM
    )
    assert code == 0, "".join(err)
    records = [orjson.loads(line) for line in err if line.startswith("{")]
    started = {r["view"] for r in records if r["event"] == "consumer.started"}
    assert started == {"case_state"}
    assert not (data / "keys").exists()


def test_consume_exits_non_zero_naming_a_consumer_that_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop that stops on a bug stops the others, and the command exits 1 naming it."""
    data = tmp_path / "data"
    container = with_agencies(bootstrap(Settings.from_env({}, backend="sqlite", data_dir=data)))
    try:
        container.ledger.submit([make_event()])
    finally:
        container.close()

    def broken(self: ProjectionRunner, records: object) -> int:
        raise RuntimeError("a bug in the fold")

    monkeypatch.setattr(ProjectionRunner, "handle", broken)
    # `consume` takes SIGINT and SIGTERM for itself: not in the test process.
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    args = ["--data-dir", str(data), "consume", "--only", "case_state", "--only", "clocks"]
    results: list[Any] = []
    # In a thread: were the clock view's loop left running, the command would never return.
    command = threading.Thread(target=lambda: results.append(CliRunner().invoke(cli, args)))
    command.start()
    command.join(timeout=60)
    assert results, "the other consumer was left running"
    (result,) = results
    assert result.exit_code == 1, result.output
    assert "consumer case_state stopped on an error" in result.output


def test_the_port_check_tries_every_address_of_the_host(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host name giving two addresses, the port free on the first and taken on the
    second: the command stops (the server would fail on the second)."""
    addresses = [("127.0.0.2", busy_port), ("127.0.0.1", busy_port)]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *_, **__: [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", a) for a in addresses
        ],
    )
    with pytest.raises(click.ClickException, match=f"cannot listen on two-homed:{busy_port}"):
        _check_port("two-homed", busy_port)


def test_publish_without_a_valid_token_appends_nothing_and_prints_no_token(
    live_server: LiveServer, container: Container, tmp_path: Path
) -> None:
    """`sgl publish` with a token the ledger does not know is refused as not authorized, with
    nothing appended, and the token is in neither its output nor its error."""
    path = tmp_path / "events.jsonl"
    path.write_text(orjson.dumps(make_event()).decode() + "\n")
    unknown = "sgl_0123456789ab_" + "B" * 43
    ends = container.log.end_offsets()
    result = CliRunner().invoke(
        cli, ["publish", str(path), "--url", live_server.url, "--token", unknown]
    )
    assert isinstance(result.exception, NotAuthorized), result.output
    assert unknown not in result.output and unknown not in str(result.exception)
    assert container.log.end_offsets() == ends


def test_a_consumer_only_process_serves_its_lag_and_work_on_its_metrics_port(
    tmp_path: Path,
) -> None:
    """`sgl consume --only case_state` (no API; a few seconds): its metrics port shows the case
    view's lag fall to 0 and the records it applied, and the lag of the views it does not run
    (read from their stores); a second process given the same port warns and consumes on."""
    data = tmp_path / "data"
    container = with_agencies(bootstrap(Settings.from_env({}, backend="sqlite", data_dir=data)))
    try:
        container.ledger.submit([make_event() for _ in range(3)])
        records = sum(container.log.end_offsets().values())
    finally:
        container.close()
    port = free_port()
    env = {**os.environ, "SGL_DATA_DIR": str(data), "SGL_METRICS_PORT": str(port)}
    env.update(SGL_LOG_FORMAT="json", SGL_LOG_LEVEL="info", PYTHONPATH=str(ROOT))
    url = f"http://127.0.0.1:{port}/metrics"

    def scraped() -> dict[tuple[str, str], float]:
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.TransportError:
            return {}
        return {
            (s.name, s.labels.get("view", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    args = [sys.executable, "-m", "sgl", "consume", "--only", "case_state"]
    with (
        (tmp_path / "consume.log").open("w") as log,
        subprocess.Popen(args, env=env, stderr=log) as process,
    ):
        try:
            wait_for(
                lambda: scraped().get(("sgl_consumer_lag_records", "case_state")) == 0,
                timeout=120,
                what="the case view's lag at 0 on the consumer's metrics port",
            )
            found = scraped()
            assert found["sgl_view_applied_records_total", "case_state"] == records
            assert found["sgl_consumer_lag_records", "seal"] == records, "nothing sealed"
            assert found["sgl_consumer_up", ""] == 1
            code, _, err = run_until(
                ["consume", "--only", "notes_index"],
                env,
                '"event": "consumer.started"',
                signal.SIGTERM,
            )
            assert code == 0, "".join(err)
            (warning,) = [
                orjson.loads(line) for line in err if '"event": "metrics.unavailable"' in line
            ]
            assert warning["address"] == f"127.0.0.1:{port}"
            assert "SGL_METRICS_PORT" in warning["hint"]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0, (tmp_path / "consume.log").read_text()
