"""The chronology's timeline: lanes, uncertain dates drawn as what is known, links, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from sgl.web.timeline import _ticks, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def row(event_id: str, agency: str, occurred_at: str, **more: Any) -> dict[str, Any]:
    """A chronology row with what the timeline reads."""
    return {
        "event_id": event_id,
        "agency": agency,
        "agency_name": more.pop("agency_name", agency.upper()),
        "type": more.pop("type", "contact.recorded"),
        "occurred_at": occurred_at,
        "occurred": occurred_at[:10],
        "occurred_precision": more.pop("occurred_precision", "instant"),
        "summary": "a summary",
        "status": more.pop("status", "as-recorded"),
        **more,
    }


def drawn(rows: list[dict[str, Any]]) -> tuple[ET.Element, ET.Element]:
    """The picture and the layer of links, parsed."""
    markup = str(
        timeline_svg({"case_id": "CASE-T1", "as_of": "2007-07-25", "events": rows}, "/e/{}".format)
    )
    picture, links = ET.fromstring(f"<root>{markup}</root>")
    return picture, links


def marks(links: ET.Element) -> dict[str, ET.Element]:
    """Each entry's link by its event id."""
    return {a.attrib["data-event"]: a for a in links.iter(f"{SVG}a")}


def test_a_lane_per_agency_named_and_each_entry_a_link_out_of_the_tab_order() -> None:
    picture, links = drawn(
        [
            row("e1", "agency-a", "2007-01-01T10:00:00Z"),
            row("e2", "agency-b", "2007-02-01T10:00:00Z"),
            row("e3", "agency-a", "2007-03-01T10:00:00Z"),
        ]
    )
    assert picture.attrib["role"] == "img"
    assert picture.find(f"{SVG}title") is not None and picture.find(f"{SVG}desc") is not None
    labels = [t.text for t in picture.iter(f"{SVG}text") if t.attrib.get("class") == "lane-label"]
    assert labels == ["AGENCY-A", "AGENCY-B"]
    assert links.attrib["aria-hidden"] == "true"
    found = marks(links)
    assert set(found) == {"e1", "e2", "e3"}
    assert all(a.attrib["tabindex"] == "-1" for a in found.values())
    assert found["e2"].attrib["href"] == "/e/e2"
    # Later entries further right, on their own agency's lane.
    x = {e: float(a.find(f"{SVG}circle").attrib["cx"]) for e, a in found.items()}  # type: ignore[union-attr]
    y = {e: float(a.find(f"{SVG}circle").attrib["cy"]) for e, a in found.items()}  # type: ignore[union-attr]
    assert x["e1"] < x["e2"] < x["e3"]
    assert y["e1"] == y["e3"] != y["e2"]


def test_uncertain_dates_are_drawn_as_what_is_known() -> None:
    _, links = drawn(
        [
            row("instant", "a", "2007-01-01T10:00:00Z"),
            row("month", "a", "2007-03-01T00:00:00Z", occurred_precision="month"),
            row(
                "range",
                "a",
                "2007-04-01T00:00:00Z",
                occurred_precision="range",
                occurred_range={
                    "not_before": "2007-04-01T00:00:00Z",
                    "not_after": "2007-05-10T00:00:00Z",
                },
            ),
            row(
                "open",
                "a",
                "2007-06-01T00:00:00Z",
                occurred_precision="range",
                occurred_range={"not_before": "2007-06-01T00:00:00Z"},
            ),
            row(
                "disputed",
                "b",
                "2007-02-01T00:00:00Z",
                occurred_precision="disputed",
                occurred_accounts=[
                    {"occurred_at": "2007-02-01T00:00:00Z"},
                    {"occurred_at": "2007-02-20T00:00:00Z"},
                ],
            ),
            row("undated", "b", "2007-07-01T00:00:00Z", occurred_precision="undated"),
        ]
    )
    found = marks(links)
    classes = {e: a.attrib["class"].split() for e, a in found.items()}
    assert "ranged" not in classes["instant"]
    assert "ranged" in classes["month"] and "ranged" in classes["range"]
    assert "open-ended" in classes["open"] and "open-ended" not in classes["range"]
    assert "disputed" in classes["disputed"]
    accounts = [c for c in found["disputed"].iter(f"{SVG}circle") if c.attrib["class"] == "account"]
    assert len(accounts) == 2
    bar = found["range"].find(f"{SVG}rect")
    assert bar is not None and float(bar.attrib["width"]) > float(
        found["month"].find(f"{SVG}rect").attrib["width"]  # type: ignore[union-attr]
    )
    assert found["undated"].find(f"{SVG}path").attrib["class"] == "dot undated"  # type: ignore[union-attr]


def test_amended_entries_and_amendments_look_apart() -> None:
    _, links = drawn(
        [
            row("fixed", "a", "2007-01-01T10:00:00Z", status="corrected"),
            row("gone", "a", "2007-01-02T10:00:00Z", status="retracted"),
            row("fix", "a", "2007-01-03T10:00:00Z", type="correction.recorded"),
            row("drop", "a", "2007-01-04T10:00:00Z", type="entry.retracted"),
        ]
    )
    found = marks(links)
    assert "status-corrected" in found["fixed"].attrib["class"]
    assert "status-retracted" in found["gone"].attrib["class"]
    assert found["gone"].find(f"{SVG}line") is not None  # struck through
    assert found["fix"].find(f"{SVG}rect").attrib["class"] == "dot correction"  # type: ignore[union-attr]
    assert found["drop"].find(f"{SVG}path").attrib["class"] == "dot retraction"  # type: ignore[union-attr]


def test_names_and_summaries_are_escaped() -> None:
    markup = str(
        timeline_svg(
            {"events": [row("e1", "a", "2007-01-01T10:00:00Z", agency_name="<script>&")]},
            "/e/{}".format,
        )
    )
    assert "<script>" not in markup and "&lt;script&gt;&amp;" in markup
    # Every value in an attribute too: a status can never close its class attribute.
    status = 'x" onload="alert(1)'
    marked = str(
        timeline_svg(
            {"events": [row("e2", "a", "2007-01-01T10:00:00Z", status=status)]}, "/e/{}".format
        )
    )
    assert 'onload="' not in marked and "status-x&#34; onload=&#34;alert(1)" in marked


def test_ticks_are_round_dates_no_more_than_ten() -> None:
    def labels(start: str, end: str) -> list[str]:
        return [
            label
            for _, label in _ticks(
                datetime.fromisoformat(start).replace(tzinfo=UTC),
                datetime.fromisoformat(end).replace(tzinfo=UTC),
            )
        ]

    assert labels("2006-12-05", "2007-08-10") == [
        "Jan 2007",
        "Feb 2007",
        "Mar 2007",
        "Apr 2007",
        "May 2007",
        "Jun 2007",
        "Jul 2007",
        "Aug 2007",
    ]
    assert labels("2022-01-20", "2023-08-20") == [
        "Apr 2022",
        "Jul 2022",
        "Oct 2022",
        "Jan 2023",
        "Apr 2023",
        "Jul 2023",
    ]
    assert labels("2007-03-01", "2007-03-06") == [
        "2 Mar 2007",
        "3 Mar 2007",
        "4 Mar 2007",
        "5 Mar 2007",
        "6 Mar 2007",
    ]
    assert labels("1990-01-01", "2020-01-01")[0] in ("1990", "1991", "1992")
    assert len(labels("1990-01-01", "2020-01-01")) <= 10
    assert all(re.fullmatch(r"\d{4}", label) for label in labels("1990-01-01", "2020-01-01"))
