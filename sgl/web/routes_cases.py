"""The case list: every case the caller may read, searched and filtered, each with what the
API says of it now: its state, open alerts, breached clocks and days unseen.

Each column is the answer of the query the API's route for it calls, with the caller's
need-to-know scoping (a practitioner lists only the cases its agency knew, as it knew them).
For speed, one page's reads share one store (`PageStores`: the registry and the raised alerts
read once), an inquiry's or auditor's breached clocks come from the clock view in one read
(the ledger-wide audit), and the dearest column, the rules' open alerts, is evaluated only
for the rows shown or when the list is filtered by it.

A page view's access record names every case on the page (`cases_shown`), so each of those
children's access reports has it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ledger.agency_rules import REGISTRY_CASE
from ledger.errors import Problem
from projections.case_state import CaseState
from projections.case_timeline import remembered
from projections.sightings import sightings
from sgl import queries
from sgl.bootstrap import Container
from sgl.queries import BadRequest, NoSuchCase, Viewer
from sgl.queries.agencies import namer
from sgl.queries.stores import ContainerStores
from sgl.routes_read import viewer_of
from sgl.web import PageRoute
from sgl.web.render import render

PAGE_SIZE = 50
INVOLVEMENT = ("any", "open", "closed")
# A search field as sent: checked by `Search.of`, which names every field that is wrong.
Field = Annotated[str | None, Query()]
# What a checkbox sends when ticked (a form sends "on"; a link may say "1" or "true").
TICKED = ("on", "1", "true", "yes")


class PageStores(ContainerStores):
    """The container's stores as one page reads them: the agency registry asked each question
    once, and the raised alerts of every case read in one query (answers for one moment)."""

    def __init__(self, container: Container) -> None:
        super().__init__(container)
        self.agencies = remembered(container.agencies)
        self._raised: dict[str, list[dict[str, Any]]] | None = None

    def raised(self, case_id: str) -> list[dict[str, Any]]:
        """The alerts the alerter has raised for a case (every case's read once)."""
        if self._raised is None:
            found: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for alert in self.container.alerts.current().store.raised():
                found[alert["case_id"]].append(alert)
            self._raised = found
        return list(self._raised.get(case_id, ()))


@dataclass(frozen=True, slots=True)
class Search:
    """What the list is narrowed to: the form's fields, checked."""

    q: str = ""
    agency: str = ""
    area: str = ""
    involvement: str = "any"
    alerts: bool = False
    breached: bool = False
    unseen: int | None = None
    page: int = 1

    @classmethod
    def of(cls, params: dict[str, str]) -> Search:
        """The search the query parameters ask for (an empty field is no filter);
        BadRequest naming each field that is not what it must be."""
        problems = []
        involvement = params.get("involvement") or "any"
        if involvement not in INVOLVEMENT:
            problems.append(Problem("/involvement", "enum", f"one of {', '.join(INVOLVEMENT)}"))
        unseen = _whole(params.get("unseen"), "/unseen", 0, problems)
        page = _whole(params.get("page"), "/page", 1, problems)
        if problems:
            raise BadRequest("a search field is not what it must be", problems)
        return cls(
            q=(params.get("q") or "").strip(),
            agency=params.get("agency") or "",
            area=params.get("area") or "",
            involvement=involvement,
            alerts=(params.get("alerts") or "").lower() in TICKED,
            breached=(params.get("breached") or "").lower() in TICKED,
            unseen=unseen,
            page=page or 1,
        )

    def fields(self) -> dict[str, str]:
        """The search as query parameters (those that filter), for the pages' links."""
        found = {
            "q": self.q,
            "agency": self.agency,
            "area": self.area,
            "involvement": "" if self.involvement == "any" else self.involvement,
            "alerts": "on" if self.alerts else "",
            "breached": "on" if self.breached else "",
            "unseen": "" if self.unseen is None else str(self.unseen),
        }
        return {name: value for name, value in found.items() if value}

    def filtered(self) -> bool:
        """Whether anything narrows the list."""
        return bool(self.fields())


def _whole(text: str | None, pointer: str, least: int, problems: list[Problem]) -> int | None:
    """A whole number of at least `least` from a field (None when empty), else a problem."""
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = least - 1
    if value < least:
        problems.append(Problem(pointer, "minimum", f"a whole number, at least {least}"))
        return None
    return value


@dataclass(slots=True)
class Row:
    """One case as the caller may see it; `alerts` and `breached` are filled when needed."""

    case_id: str
    state: CaseState
    status: str
    days_unseen: int | None
    breached: int | None = None
    alerts: int | None = None
    involved: frozenset[str] = field(default_factory=frozenset)


def status_of(state: CaseState) -> str:
    """`open` while an agency's involvement is open, `closed` once every one has closed,
    `no involvement` when none was ever recorded."""
    if any(i.open for i in state.involvements):
        return "open"
    return "closed" if state.involvements else "no involvement"


class CaseList:
    """The cases one caller may read, as the API answers that caller, for one page view."""

    def __init__(self, container: Container, viewer: Viewer | None) -> None:
        self.stores = PageStores(container)
        self.viewer = viewer
        self.moment = datetime.now(UTC)
        self._breached: dict[str, int] | None = None

    def rows(self) -> list[Row]:
        """Every case the caller may read, in case id order (its state, status, the agencies
        in it and days unseen, as `/v1/cases/{id}` and `/sightings` answer)."""
        found = []
        for case_id in self.stores.view.all_case_ids():
            if case_id == REGISTRY_CASE:
                continue
            try:
                state = queries.case(self.stores, case_id, viewer=self.viewer)
            except NoSuchCase:
                continue
            seen = sightings(state, self.stores.agencies, self.moment, None)
            found.append(
                Row(
                    case_id,
                    state,
                    status_of(state),
                    seen["days_unseen"],
                    involved=frozenset(state.agencies) | {i.agency for i in state.involvements},
                )
            )
        return found

    def breached(self, row: Row) -> int:
        """The case's breached clock runs, as `/v1/cases/{id}/clocks` lists them for the
        caller (for an inquiry or auditor, from the ledger-wide audit, read once)."""
        if row.breached is None:
            if self.viewer is None:
                if self._breached is None:
                    counts: dict[str, int] = defaultdict(int)
                    for run in queries.audit(self.stores)["runs"]:
                        counts[run["case_id"]] += run["outcome"] == "breached"
                    self._breached = counts
                row.breached = self._breached.get(row.case_id, 0)
            else:
                runs = queries.clocks(self.stores, row.case_id, viewer=self.viewer)["clocks"]
                row.breached = sum(r["status"] == "breached" for r in runs)
        return row.breached

    def alerts(self, row: Row) -> int:
        """The case's unanswered alerts, as `/v1/cases/{id}/alerts` counts them for the
        caller."""
        if row.alerts is None:
            found = queries.case_alerts(self.stores, row.case_id, viewer=self.viewer)
            row.alerts = int(found["unanswered"])
        return row.alerts


def matches(row: Row, search: Search) -> bool:
    """Whether a case passes the search's filters that its state alone answers."""
    state = row.state
    if search.q and search.q.casefold() not in row.case_id.casefold():
        return False
    if search.agency and search.agency not in row.involved:
        return False
    if search.area and state.responsible_area != search.area:
        return False
    if search.involvement != "any":
        chosen = [i for i in state.involvements if not search.agency or i.agency == search.agency]
        is_open = any(i.open for i in chosen)
        if (search.involvement == "open") != is_open or not chosen:
            return False
    return search.unseen is None or (
        row.days_unseen is not None and row.days_unseen >= search.unseen
    )


def narrowed(cases: CaseList, rows: Iterable[Row], search: Search) -> list[Row]:
    """The rows the whole search keeps: the state's filters first, the dearer counts (open
    alerts, breached clocks) only for the rows still in."""
    kept = [r for r in rows if matches(r, search)]
    if search.breached:
        kept = [r for r in kept if cases.breached(r) > 0]
    if search.alerts:
        kept = [r for r in kept if cases.alerts(r) > 0]
    return kept


def search_of(
    q: Field = None,
    agency: Field = None,
    area: Field = None,
    involvement: Field = None,
    alerts: Field = None,
    breached: Field = None,
    unseen: Field = None,
    page: Field = None,
) -> Search:
    """The search the query parameters ask for (`Search.of`); declared one by one, so the
    page's access record keeps what was searched."""
    sent = {
        "q": q,
        "agency": agency,
        "area": area,
        "involvement": involvement,
        "alerts": alerts,
        "breached": breached,
        "unseen": unseen,
        "page": page,
    }
    return Search.of({name: value for name, value in sent.items() if value is not None})


def page_link(search: Search, page: int) -> str:
    """The address of one page of this search's results."""
    return "/cases?" + urlencode({**search.fields(), "page": str(page)})


def cases_router(container: Container) -> APIRouter:
    """The case list page."""
    router = APIRouter(route_class=PageRoute, include_in_schema=False)

    @router.get("/cases")
    def case_list(request: Request, search: Annotated[Search, Depends(search_of)]) -> Response:
        """Every case the caller may read, searched and filtered by the query parameters."""
        cases = CaseList(container, viewer_of(request))
        every = cases.rows()
        found = narrowed(cases, every, search)
        pages = max(1, math.ceil(len(found) / PAGE_SIZE))
        page = min(search.page, pages)
        shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        name_of = namer(cases.stores)
        answer = render(
            request,
            "cases.html",
            search=search,
            rows=[_row(cases, r, name_of) for r in shown],
            total=len(found),
            readable=len(every),
            page=page,
            pages=pages,
            previous=page_link(search, page - 1) if page > 1 else None,
            next=page_link(search, page + 1) if page < pages else None,
            agencies=sorted(
                ((r.agency_id, r.name) for r in cases.stores.agencies.records()),
                key=lambda a: a[1].casefold(),
            ),
            areas=sorted({r.state.responsible_area for r in every} - {None}),
        )
        # The page's access record names each case it shows, so each child's access report
        # has this view (the other pages of the search showed nothing of theirs).
        request.state.cases_shown = [r.case_id for r in shown]
        return answer

    return router


def _row(cases: CaseList, row: Row, name_of: Callable[[str], str]) -> dict[str, Any]:
    """What the table shows of one case."""
    state = row.state
    return {
        "case_id": row.case_id,
        "status": row.status,
        "lead_agency": None if state.lead_agency is None else name_of(state.lead_agency),
        "area": state.responsible_area,
        "agencies": sorted(name_of(a) for a in row.involved),
        "alerts": cases.alerts(row),
        "breached": cases.breached(row),
        "days_unseen": row.days_unseen,
        "last_recorded_at": state.last_recorded_at,
    }
