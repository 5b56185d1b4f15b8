"""`sgl publish FILE.jsonl`: a result for every line, and --atomic for all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from sgl.bootstrap import Container
from sgl.cli import cli
from tests.conftest import LiveServer
from tests.factories import make_event

# The agency whose adapter publishes the files (every event make_event makes is its).
AGENCY = "example-childrens-social-care"


def run(server: LiveServer, path: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    """`sgl publish` of the file by the agency's publisher: its exit code and line results."""
    result = CliRunner().invoke(
        cli,
        ["publish", str(path), "--url", server.url, "--json", "--batch-size", "3", *extra],
        env={"SGL_TOKEN": server.credentials.token("publisher", AGENCY)},
    )
    lines = [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else orjson.dumps(x).decode() for x in lines) + "\n"
    )
    return path


def test_each_line_gets_a_result_and_every_valid_line_is_appended(
    live_server: LiveServer, container: Container, tmp_path: Path
) -> None:
    """Bad JSON and schema errors are named by line; the other lines go in; exit 1."""
    first, second, third = make_event(), make_event(), make_event()
    spoiled = make_event()
    spoiled["payload"]["contact_type"] = "smoke-signal"
    path = write(tmp_path / "events.jsonl", [first, "{not json", spoiled, second, first, third])
    ends = container.log.end_offsets()
    code, results = run(live_server, path)
    assert code == 1
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "accepted"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "accepted"),
        (5, "duplicate"),
        (6, "accepted"),
    ]
    assert results[1]["detail"].startswith("json:")
    assert "/payload/contact_type enum" in results[2]["detail"]
    assert sum(container.log.end_offsets().values()) == sum(ends.values()) + 3


def test_atomic_appends_nothing_when_one_line_is_invalid(
    live_server: LiveServer, container: Container, tmp_path: Path
) -> None:
    """--atomic: one bad line and no line is appended; all good and all are appended."""
    spoiled = make_event()
    del spoiled["payload"]["contact_type"]
    bad_file = write(tmp_path / "bad.jsonl", [make_event(), spoiled, make_event()])
    ends = container.log.end_offsets()
    code, results = run(live_server, bad_file, "--atomic")
    assert code == 1
    assert [r["status"] for r in results] == ["not-sent", "invalid", "not-sent"]
    assert container.log.end_offsets() == ends
    good_file = write(tmp_path / "good.jsonl", [make_event() for _ in range(5)])
    code, results = run(live_server, good_file, "--atomic")
    assert code == 0
    assert [r["status"] for r in results] == ["accepted"] * 5
    assert sum(container.log.end_offsets().values()) == sum(ends.values()) + 5
