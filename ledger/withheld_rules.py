"""Rules for a decision not to share (`information.withheld`) at the door: each fact it names
is already in the ledger, in the same case, and is an original entry; and no agency withholds
from itself.

Whether the withholding agency knew the fact is the who-knew view's to say (it needs the whole
case folded, which the append path never does): the view shows, beside each withholding,
since when the ledger shows the withholder knowing the fact, or that it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.amendments import AMENDMENT_TYPES, Find
from ledger.errors import Problem
from ledger.log import PendingRecord, Receipt

WITHHELD = "information.withheld"


def withheld_facts(items: Sequence[tuple[int, dict[str, Any], PendingRecord]]) -> set[str]:
    """The event ids the batch's withholdings name (lower case, as the ledger holds them)."""
    return {
        fact.lower()
        for _, document, _ in items
        if document["type"] == WITHHELD
        for fact in document["payload"]["facts"]
    }


def withheld_problems(
    items: Sequence[tuple[int, dict[str, Any], PendingRecord]], find: Find
) -> list[Problem]:
    """Every broken withholding rule in a batch, by item index; a fact may be an event already
    in the ledger (found by `find`) or an earlier item of the same batch, never a later one."""
    earlier: dict[str, PendingRecord] = {}
    problems: list[Problem] = []
    for index, document, record in items:
        if document["type"] == WITHHELD:
            payload = document["payload"]
            for at, fact in enumerate(payload["facts"]):
                target = earlier.get(fact.lower()) or find(fact.lower())
                found = _fact_problem(fact, document["case_id"], target)
                if found is not None:
                    problems.append(Problem(f"/payload/facts/{at}", *found, index))
            for at, agency in enumerate(payload["withheld_from"]):
                if agency == document["agency"]:
                    problems.append(
                        Problem(
                            f"/payload/withheld_from/{at}",
                            "not-self",
                            f"{agency} is the agency recording the decision: an agency does "
                            "not withhold facts from itself",
                            index,
                        )
                    )
        earlier.setdefault(record.event_id, record)
    return problems


def _fact_problem(
    fact: str, case_id: str, target: Receipt | PendingRecord | None
) -> tuple[str, str] | None:
    """(rule, detail) when the named fact cannot be withheld, else None."""
    if target is None:
        return (
            "fact-exists",
            f"no event {fact} is in the ledger (yet): a withholding names facts already "
            "recorded, in an earlier request or earlier in the batch",
        )
    if (target.case_id if isinstance(target, Receipt) else target.key) != case_id:
        return "same-case", f"event {fact} belongs to another case"
    if target.event_type in AMENDMENT_TYPES:
        return (
            "fact-original",
            f"event {fact} is a correction or retraction: name the original event",
        )
    return None
