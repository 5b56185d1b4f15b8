"""Why a read cannot be answered as asked: one tree, mapped once to HTTP and once to the CLI.

QueryError
├── Forbidden             a practitioner asking beyond its agency's need to know (HTTP 403)
├── NotFound              nothing to answer about (HTTP 404; the CLI exits 1)
│   ├── NoSuchCase        no such case, or none known by the date asked about
│   ├── NoSuchSchema      no such schema version
│   └── NoSuchAgency      no such agency in the registry, or none by the date asked about
├── BadRequest            a parameter is wrong (HTTP 422 naming it; a CLI usage error)
│   ├── BadDate           a date is neither YYYY-MM-DD nor RFC 3339
│   ├── DateOutOfRange    a date is outside the range the ledger accepts
│   ├── DatesOutOfOrder   a window whose `from` is later than its `to`
│   ├── UnknownParameters query parameters the route does not take (HTTP only)
│   ├── AgencyRequired    no agency named and the case has no lead agency by then
│   ├── UnknownAgency     the agency never appears in the case
│   ├── NoSuchClock       the clock policy has no clock of that name
│   └── UnregisteredAgency the agency is not in the agency registry
└── NoProof               the proof asked for cannot be made (its own HTTP status)
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.errors import LedgerError, Problem
from ledger.limits import RANGE_TEXT


class QueryError(LedgerError):
    """A read that cannot be answered as asked; `status`, `kind` and `title` say so over HTTP."""

    status = 400
    kind = "bad-request"
    title = "The read cannot be answered"

    def __init__(self, detail: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = tuple(problems)


class Forbidden(QueryError):
    """A practitioner asked for what its agency's knowledge cannot answer, or for another
    agency's; each problem names the parameter or the rule."""

    status = 403
    kind = "forbidden"
    title = "Forbidden"


class NotFound(QueryError):
    """There is nothing to answer about."""

    status = 404
    kind = "not-found"
    title = "Not found"


class NoSuchCase(NotFound):
    """The ledger has no such case, or knew none by the moment asked about."""

    title = "No such case"

    def __init__(self, case_id: str, by_then: bool = False) -> None:
        super().__init__(
            f"the ledger knew no case {case_id!r} by then"
            if by_then
            else f"the ledger has no case {case_id!r} (yet)"
        )
        self.case_id = case_id


class NoSuchSchema(NotFound):
    """No schema of that name and version is published."""

    title = "No such schema"

    def __init__(self, name: str, version: int) -> None:
        super().__init__(f"no schema {name!r} version {version}")


class NoSuchAgency(NotFound):
    """The registry holds no such agency, or held none by the moment asked about."""

    title = "No such agency"

    def __init__(self, agency_id: str, by_then: bool = False) -> None:
        super().__init__(
            f"the agency registry held no agency {agency_id!r} by then"
            if by_then
            else f"the agency registry has no agency {agency_id!r}"
        )
        self.agency_id = agency_id


class BadRequest(QueryError):
    """A parameter is wrong; each problem names it by JSON pointer."""

    status = 422
    kind = "invalid-request"
    title = "Invalid request parameters"


class BadDate(BadRequest):
    """Dates that are neither YYYY-MM-DD (end of that day, UTC) nor RFC 3339."""

    title = "Invalid date"

    def __init__(self, texts: dict[str, str]) -> None:
        super().__init__(
            "dates are YYYY-MM-DD (end of day, UTC) or RFC 3339",
            [
                Problem(pointer, "format", f"{text!r} is not YYYY-MM-DD or RFC 3339")
                for pointer, text in texts.items()
            ],
        )


class DateOutOfRange(BadRequest):
    """Dates before or after any the ledger accepts (see ledger.limits)."""

    title = "Date out of range"

    def __init__(self, pointers: Sequence[str]) -> None:
        super().__init__(
            f"dates are {RANGE_TEXT}",
            [Problem(pointer, "range", f"must be {RANGE_TEXT}") for pointer in pointers],
        )


class DatesOutOfOrder(BadRequest):
    """A window of time whose start is later than its end."""

    title = "Dates out of order"

    def __init__(self, start: str, end: str) -> None:
        super().__init__(
            "from must not be later than to",
            [Problem("/from", "not-after-to", f"{start!r} is later than to {end!r}")],
        )


class UnknownParameters(BadRequest):
    """Query parameters the route does not take (ignoring one would answer another question
    than the one asked)."""

    title = "Unknown query parameters"

    def __init__(self, names: Sequence[str], known: Sequence[str]) -> None:
        takes = ", ".join(repr(k) for k in known) or "none"
        super().__init__(
            f"this route takes no parameter {', '.join(repr(n) for n in names)}",
            [
                Problem(f"/{name}", "unknown-parameter", f"{name!r} is not one of: {takes}")
                for name in names
            ],
        )


class AgencyRequired(BadRequest):
    """No agency was named and the case has no lead agency by then."""

    title = "Which agency?"

    def __init__(self) -> None:
        super().__init__(
            "the case has no lead agency yet: name one",
            [Problem("/agency", "required", "no lead agency is known by then")],
        )


class UnknownAgency(BadRequest):
    """The agency named never appears in the case, at any time."""

    title = "Unknown agency"

    def __init__(self, agency: str, known: Sequence[str]) -> None:
        super().__init__(
            f"{agency!r} does not appear in the case",
            [Problem("/agency", "enum", f"{agency!r} is not one of: {', '.join(known)}")],
        )


class NoSuchClock(BadRequest):
    """The clock named is not one of the clock policy's."""

    title = "No such clock"

    def __init__(self, clock: str, known: Sequence[str]) -> None:
        super().__init__(
            f"the clock policy has no clock {clock!r}",
            [Problem("/clock", "enum", f"{clock!r} is not one of: {', '.join(known)}")],
        )


class UnregisteredAgency(BadRequest):
    """An agency named in the request is not in the agency registry (a misspelt agency would
    otherwise have "known nothing")."""

    title = "Unregistered agency"

    def __init__(self, agency_ids: Sequence[str], pointer: str = "/agency") -> None:
        super().__init__(
            f"not in the agency registry: {', '.join(repr(a) for a in agency_ids)}",
            [
                Problem(
                    pointer,
                    "registered-agency",
                    f"{a!r} is not a registered agency (see /v1/agencies)",
                )
                for a in agency_ids
            ],
        )


class NoProof(QueryError):
    """The proof asked for cannot be made; `status` is the HTTP status that says why."""

    kind = "no-proof"
    title = "No such proof"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
