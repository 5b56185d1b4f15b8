"""How an event may say when it happened (envelope version 2), as specific problems.

The envelope's schema holds these rules as `if`/`then` conditions, whose failures JSON Schema
reports as "not allowed for {the whole event}" at the root; the ledger reports them instead
by the field at fault and a named rule. Rules JSON Schema cannot say (a range's order, whose
account each is, accounts that differ) are here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from ledger.envelope import UNSTATED, parse_instant
from ledger.errors import Problem

ACCOUNTS = "occurred_accounts"
# The field each precision needs, and (the other way round) the precision each field needs.
_NEEDS = {"range": "occurred_range", "disputed": ACCOUNTS, "part_of_day": "occurred_part_of_day"}
_WHAT = {
    "occurred_range": "a range (occurred_range: not_before and/or not_after)",
    ACCOUNTS: "two or more accounts (occurred_accounts)",
    "occurred_part_of_day": "the part of the day (occurred_part_of_day)",
}
_MIN_ACCOUNTS = 2


def is_date_condition(schema_path: list[str | int], instance_path: list[str | int]) -> bool:
    """Whether a schema error is one of the envelope's date conditions (reported here)."""
    if not instance_path and ("then" in schema_path or "else" in schema_path):
        return True
    return instance_path == [ACCOUNTS] and schema_path[-1:] == ["minItems"]


def condition_problems(document: Mapping[str, Any]) -> list[Problem]:
    """The date fields that do not fit the event's occurred_precision."""
    precision = document.get("occurred_precision", "instant")
    if not isinstance(precision, str):
        return []  # the schema says what is wrong with it
    problems = []
    if precision in UNSTATED and "occurred_at" in document:
        problems.append(
            Problem(
                "/occurred_at",
                "no-occurred-at",
                f"occurred_at must be left out when occurred_precision is {precision!r}: "
                "the ledger never invents an instant for a date the source does not give",
            )
        )
    if precision not in UNSTATED and "occurred_at" not in document:
        problems.append(
            Problem(
                "/occurred_at",
                "required",
                "'occurred_at' is required unless occurred_precision is range, disputed or undated",
            )
        )
    for needed_by, field in _NEEDS.items():
        given = field in document
        if precision == needed_by and not given:
            rule = "two-accounts" if field == ACCOUNTS else "required"
            problems.append(
                Problem(
                    f"/{field}",
                    rule,
                    f"occurred_precision {precision!r} needs {_WHAT[field]}",
                )
            )
        elif given and precision != needed_by:
            problems.append(
                Problem(
                    f"/{field}",
                    "precision-mismatch",
                    f"{field} is only for occurred_precision {needed_by!r}; "
                    f"this event's is {precision!r}",
                )
            )
    accounts = document.get(ACCOUNTS)
    if isinstance(accounts, list) and len(accounts) < _MIN_ACCOUNTS:
        problems.append(
            Problem(
                f"/{ACCOUNTS}",
                "two-accounts",
                f"a disputed date needs at least {_MIN_ACCOUNTS} accounts of when it happened; "
                f"{len(accounts)} given (with one account, send its date and precision instead)",
            )
        )
    return problems


def order_problems(document: Mapping[str, Any]) -> list[Problem]:
    """Rules of a schema-valid event's uncertain date: no approximate undated date, a range in
    order, whose each account is. Unparseable instants are left to the ledger's instant rules."""
    problems = []
    if document.get("occurred_precision") == "undated" and document.get("occurred_approximate"):
        problems.append(
            Problem(
                "/occurred_approximate",
                "precision-mismatch",
                "an undated event has no date to be approximate: leave occurred_approximate out",
            )
        )
    bounds = document.get("occurred_range")
    if bounds is not None and "not_before" in bounds and "not_after" in bounds:
        earliest, latest = _instant(bounds["not_before"]), _instant(bounds["not_after"])
        if earliest is not None and latest is not None and earliest > latest:
            problems.append(
                Problem(
                    "/occurred_range",
                    "range-order",
                    f"not_before ({bounds['not_before']}) is after not_after "
                    f"({bounds['not_after']}): the range is inverted",
                )
            )
    seen: dict[tuple[datetime | None, str], int] = {}
    for index, account in enumerate(document.get(ACCOUNTS, ())):
        if ("agency" in account) == ("source" in account):
            problems.append(
                Problem(
                    f"/{ACCOUNTS}/{index}",
                    "account-whose",
                    "each account names whose it is: an agency or a source, not both",
                )
            )
            continue
        # Two accounts of one instant by the same teller are one account, not a dispute.
        key = (_instant(account["occurred_at"]), _whose(account))
        earlier = seen.setdefault(key, index)
        if earlier != index and key[0] is not None:
            problems.append(
                Problem(
                    f"/{ACCOUNTS}/{index}",
                    "distinct-accounts",
                    f"this account repeats account {earlier} (the same instant, told by the "
                    "same agency or source): a disputed date needs accounts that differ",
                )
            )
    return problems


def _whose(account: Mapping[str, Any]) -> str:
    """Whose an account is, as comparable text: its agency, or its source."""
    if "agency" in account:
        return "agency:" + str(account["agency"])
    return "source:" + orjson.dumps(account["source"], option=orjson.OPT_SORT_KEYS).decode()


def earliest_possible(document: Mapping[str, Any]) -> str | None:
    """The earliest the event can have happened as the source tells it (None: no bound)."""
    if "occurred_at" in document:
        return str(document["occurred_at"])
    bounds = document.get("occurred_range")
    if bounds is not None:
        return None if "not_before" not in bounds else str(bounds["not_before"])
    accounts = document.get(ACCOUNTS)
    if accounts:
        return str(min((a["occurred_at"] for a in accounts), key=_sort_key))
    return None


def _sort_key(text: str) -> datetime:
    return parse_instant(text)


def _instant(text: str) -> datetime | None:
    try:
        return parse_instant(text)
    except ValueError:
        return None
