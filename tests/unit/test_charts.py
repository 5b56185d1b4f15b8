"""The audit page's charts: well-formed SVG images with a title and a description giving the
numbers, bars proportional to what they count, labelled axes, the limit drawn where it is in
working days, and a sentence instead of an empty chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from sgl.web.charts import (
    Distribution,
    breaches_svg,
    distribution_svg,
    distributions,
    limit_in_working_days,
    month_labels,
    monthly_breaches,
    ticks,
)

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    """The chart as XML (a malformed one fails here)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    return root


def texts(root: ET.Element, css: str | None = None) -> list[str]:
    """The text of the chart's text elements (of one class only, when given)."""
    return [t.text or "" for t in root.iter(f"{SVG}text") if css is None or t.get("class") == css]


def run(clock: str, days: int, outcome: str, deadline: str, stopped: bool = True) -> dict[str, Any]:
    """An audit row as /v1/audit gives it (the fields the charts read)."""
    return {
        "clock": clock,
        "limit": "5 working days",
        "working_days": days,
        "outcome": outcome,
        "deadline": deadline,
        "stop_event": "stop" if stopped else None,
    }


def test_histogram_bars_are_proportional_to_the_runs_that_took_each_number_of_days() -> None:
    svg = distribution_svg([Distribution("referral_child_seen", "5 working days", [2, 2, 2, 4, 9])])
    root = parsed(svg)
    bars = {
        int(b.get("data-days") or -1): float(b.get("height") or 0)
        for b in root.iter(f"{SVG}rect")
        if b.get("class") == "bar"
    }
    assert set(bars) == {2, 4, 9}
    # Drawn to a hundredth of a unit: three times a rounded height is off by up to 0.015.
    assert bars[2] == pytest.approx(3 * bars[4], abs=0.02) and bars[4] == bars[9]
    # Wider days sit further right, each bar one day wide on the shared axis.
    xs = {
        int(b.get("data-days") or -1): float(b.get("x") or 0)
        for b in root.iter(f"{SVG}rect")
        if b.get("class") == "bar"
    }
    assert xs[2] < xs[4] < xs[9]
    assert (xs[9] - xs[4]) == pytest.approx(2.5 * (xs[4] - xs[2]), abs=0.05)


def test_the_limit_is_a_dashed_line_between_the_last_day_in_time_and_the_first_late() -> None:
    root = parsed(distribution_svg([Distribution("referral_child_seen", "5 working days", [5, 6])]))
    limit = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "limit")
    assert limit.get("stroke-dasharray") and limit.get("data-limit") == "5"
    bars = {b.get("data-days"): b for b in root.iter(f"{SVG}rect") if b.get("class") == "bar"}
    on_time, late = bars["5"], bars["6"]
    at = float(limit.get("x1") or 0)
    assert float(on_time.get("x") or 0) + float(on_time.get("width") or 0) <= at
    assert at <= float(late.get("x") or 0)


def test_a_limit_in_another_unit_is_named_but_not_drawn() -> None:
    root = parsed(distribution_svg([Distribution("first_review_conference", "3 months", [40])]))
    assert not [e for e in root.iter(f"{SVG}line") if e.get("class") == "limit"]
    assert "1 stopped · limit 3 months" in texts(root)


def test_the_axes_are_labelled_with_round_ticks() -> None:
    root = parsed(distribution_svg([Distribution("assessment", "45 working days", [3, 61])]))
    assert texts(root, "tick") == ["0", "10", "20", "30", "40", "50", "60", "70"]
    assert "working days to stop (dashed line: the limit)" in texts(root)
    assert "assessment" in texts(root)


def test_title_and_description_give_the_numbers() -> None:
    root = parsed(
        distribution_svg([Distribution("referral_decision", "1 working day", [0, 0, 1, 3])])
    )
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.text == "Working days to stop, per clock"
    assert desc is not None and "referral_decision: 4 stopped, 0 to 3 working days" in (
        desc.text or ""
    )
    assert "1 over the limit" in (desc.text or "")
    assert root.get("aria-labelledby") == "distribution-title distribution-desc"


def test_names_are_escaped() -> None:
    root = parsed(distribution_svg([Distribution("a<b>&c", "2 working days", [1])]))
    assert "a<b>&c" in texts(root)


def test_no_stopped_run_is_a_sentence_not_a_broken_chart() -> None:
    assert distribution_svg([]) == (
        '<p class="chart-empty">No runs in this period: no clock run stopped.</p>'
    )
    only_open = distributions([run("assessment", 9, "open", "2007-02-01", stopped=False)])
    assert only_open == [Distribution("assessment", "5 working days", [])]
    assert "<svg" not in distribution_svg(only_open)
    assert breaches_svg([]) == '<p class="chart-empty">No breaches in this period.</p>'


def test_distributions_keep_the_stopped_runs_of_each_clock() -> None:
    rows = [
        run("b_clock", 7, "breached", "2007-01-10"),
        run("a_clock", 2, "met", "2007-01-10"),
        run("b_clock", 1, "met", "2007-01-10"),
        run("b_clock", 30, "breached", "2007-01-10", stopped=False),
    ]
    assert distributions(rows) == [
        Distribution("a_clock", "5 working days", [2]),
        Distribution("b_clock", "5 working days", [1, 7]),
    ]


def test_breaches_are_counted_per_month_of_the_deadline_with_empty_months_between() -> None:
    rows = [
        run("a", 9, "breached", "2007-01-30"),
        run("a", 9, "breached", "2007-01-02"),
        run("a", 9, "met", "2007-02-02"),
        run("b", 9, "breached", "2007-04-01T10:00:00Z"),
    ]
    months = monthly_breaches(rows)
    assert months == [("2007-01", 2), ("2007-02", 0), ("2007-03", 0), ("2007-04", 1)]
    root = parsed(breaches_svg(months))
    bars = {
        b.get("data-month"): float(b.get("height") or 0)
        for b in root.iter(f"{SVG}rect")
        if b.get("class") == "bar"
    }
    assert set(bars) == {"2007-01", "2007-04"}
    assert bars["2007-01"] == pytest.approx(2 * bars["2007-04"])
    assert texts(root, "tick") == ["0", "1", "2", "2007-01", "2007-02", "2007-03", "2007-04"]
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == (
        "Breaches per month, 2007-01 to 2007-04 (3 in all). Months with any: 2007-01: 2; "
        "2007-04: 1."
    )


def test_a_long_time_axis_labels_years_not_every_month() -> None:
    months = [f"{y}-{m:02d}" for y in range(2006, 2024) for m in range(1, 13)]
    labels = month_labels(months)
    assert len(labels) <= 9
    assert all(m.endswith("-01") and text == m[:4] for m, text in labels.items())
    quarters = month_labels(months[:20])
    assert list(quarters) == ["2006-01", "2006-04", "2006-07", "2006-10", "2007-01", "2007-04",
                              "2007-07"]  # fmt: skip


def test_ticks_and_limits() -> None:
    assert ticks(7) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert ticks(123) == [0, 20, 40, 60, 80, 100, 120, 140]
    assert ticks(0) == [0, 1]
    assert limit_in_working_days("1 working day") == 1
    assert limit_in_working_days("45 working days") == 45
    assert limit_in_working_days("72 hours") is None
