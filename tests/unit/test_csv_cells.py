"""CSV exports: no text cell can be taken for a spreadsheet formula; numbers stay numbers."""

from __future__ import annotations

import csv
import io

from sgl.access_report import access_csv
from sgl.queries.common import csv_cell, to_csv


def test_text_starting_a_formula_gets_a_leading_apostrophe() -> None:
    for text in ("=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("plain") == "plain"
    assert csv_cell(None) == ""


def test_numbers_stay_numbers_even_negative() -> None:
    table = to_csv(["lag", "note"], [{"lag": -3, "note": "-3"}, {"lag": -0.5, "note": None}])
    rows = list(csv.reader(io.StringIO(table)))
    assert rows == [["lag", "note"], ["-3", "'-3"], ["-0.5", ""]]


def test_the_access_report_csv_escapes_its_cells() -> None:
    record = {
        "recorded_at": "2026-01-01T00:00:00+00:00",
        "caller": {"agency": "=cmd|' /C calc'!A0", "role": "inquiry", "person": "@p"},
        "purpose": "audit",
        "method": "GET",
        "route": "/v1/cases/{case_id}",
        "query": [["-x", "1"]],
        "as_of": None,
        "outcome": {"status": 200},
        "request_id": "+r",
        "access_id": "a-1",
    }
    (_, row) = list(csv.reader(io.StringIO(access_csv({"records": [record]}))))
    assert row[1] == "'=cmd|' /C calc'!A0"
    assert row[3] == "'@p"
    assert row[9] == "'-x=1"
    assert row[11] == "200"
    assert row[12] == "'+r"
