"""The demo cases' agency registries: every agency they name, as `agency.registered` events.

The registry is on the record (case `SGL-REGISTRY`), so the demo registers its agencies like any
deployment would, before the first event that names them. The areas are fictional codes in the
ONS (GSS) format: a London-borough-like `E09` code for Child A, and three for Child B's moves (a
London-borough-like, a unitary and a metropolitan district code), none of them a real authority's.
Every event id is a UUID5 of the agency's id, so loading twice adds nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from projections.agencies import REGISTRY_CASE
from sgl.demo import child_a

_NAMESPACE = uuid.UUID("3b0c6e4d-8f27-4a19-b5d2-7e6a1c9f0b34")
_REGISTRAR = {"id": "P-ADM-0001", "role": "administrator"}

# Child A's borough (and the background cases', which use a subset of its agencies).
AREA_A = "E09000091"
# Child B's three local authority areas, in the order the family lives in them.
AREA_B1 = "E09000092"
AREA_B2 = "E06000991"
AREA_B3 = "E08000993"

_BOROUGH_A = "Ashbridge London Borough Council"

# Child B's agencies, by area: Rivermead, the first area.
R_CSC = "rivermead-childrens-services"
R_POLICE = "rivermead-police-cpt"
R_GP = "rivermead-gp-riverside"
R_HOSPITAL = "rivermead-general-hospital"
R_SCHOOL = "rivermead-brookside-primary"
# Castlebury, the second.
C_CSC = "castlebury-childrens-services"
C_POLICE = "castlebury-police-cpt"
C_GP = "castlebury-gp-market-street"
C_HOSPITAL = "castlebury-royal-infirmary"
C_SCHOOL = "castlebury-hillview-primary"
C_HOUSING = "castlebury-housing-options"
# Millford, the third, and the two services there that are not statutory.
M_CSC = "millford-childrens-services"
M_POLICE = "millford-police-cpt"
M_GP = "millford-gp-canal-side"
M_HOSPITAL = "millford-childrens-hospital"
M_SCHOOL = "millford-oakfield-academy"
CHARITY = "brightsteps-family-support"
FAITH = "new-dawn-fellowship"


# Child A's agencies. The family centre is `early_years` and statutory: a council children's
# centre providing early-years services under the Childcare Act 2006 (its contacts are
# nursery sessions), not a charity.
CHILD_A: tuple[dict[str, Any], ...] = (
    {
        "agency_id": child_a.SOCIAL_CARE,
        "name": "Ashbridge Children's Social Care",
        "kind": "childrens_social_care",
        "statutory": True,
        "area": AREA_A,
        "parent": _BOROUGH_A,
    },
    {
        "agency_id": child_a.POLICE,
        "name": "Metropolitan Police Child Abuse Investigation Team",
        "kind": "police",
        "statutory": True,
        "area": AREA_A,
        "parent": "Metropolitan Police Service",
    },
    {
        "agency_id": child_a.GP,
        "name": "Ashbridge East GP Practice",
        "kind": "gp",
        "statutory": True,
        "area": AREA_A,
        "parent": "Ashbridge Primary Care Trust",
    },
    {
        "agency_id": child_a.HOSPITAL,
        "name": "Ashbridge North Hospital",
        "kind": "hospital",
        "statutory": True,
        "area": AREA_A,
        "parent": "Ashbridge North Hospitals NHS Trust",
    },
    {
        "agency_id": child_a.HOSPITAL_2,
        "name": "Ashbridge South Hospital",
        "kind": "hospital",
        "statutory": True,
        "area": AREA_A,
        "parent": "Ashbridge South Hospitals NHS Trust",
    },
    {
        "agency_id": child_a.PAEDIATRICS,
        "name": "Ashbridge Child Development Centre",
        "kind": "hospital",
        "statutory": True,
        "area": AREA_A,
        "parent": "Ashbridge North Hospitals NHS Trust",
    },
    {
        "agency_id": child_a.HEALTH_VISITING,
        "name": "Ashbridge Health Visiting Service",
        "kind": "community_health",
        "statutory": True,
        "area": AREA_A,
        "parent": "Ashbridge Primary Care Trust",
    },
    {
        "agency_id": child_a.SCHOOL,
        "name": "Ashbridge North Primary School",
        "kind": "education",
        "statutory": True,
        "area": AREA_A,
        "parent": _BOROUGH_A,
    },
    {
        "agency_id": child_a.FAMILY_CENTRE,
        "name": "Ashbridge North Family Centre",
        "kind": "early_years",
        "statutory": True,
        "area": AREA_A,
        "parent": _BOROUGH_A,
    },
    {
        "agency_id": child_a.LEGAL,
        "name": "Ashbridge Legal Services",
        "kind": "legal",
        "statutory": True,
        "area": AREA_A,
        "parent": _BOROUGH_A,
    },
    {
        "agency_id": child_a.HOUSING,
        "name": "Ashbridge North Housing Office",
        "kind": "housing",
        "statutory": True,
        "area": AREA_A,
        "parent": _BOROUGH_A,
    },
)


def _statutory(agency_id: str, name: str, kind: str, area: str, parent: str) -> dict[str, Any]:
    return {
        "agency_id": agency_id,
        "name": name,
        "kind": kind,
        "statutory": True,
        "area": area,
        "parent": parent,
    }


# Child B's agencies: a children's services, a police child protection team, a GP practice, a
# hospital and a school in each of its three areas, a housing service where the family became
# homeless, and the two non-statutory services that kept seeing the child.
CHILD_B: tuple[dict[str, Any], ...] = (
    _statutory(
        R_CSC,
        "Rivermead Children's Services",
        "childrens_social_care",
        AREA_B1,
        "Rivermead London Borough Council",
    ),
    _statutory(
        R_POLICE,
        "Rivermead Child Protection Team",
        "police",
        AREA_B1,
        "Capital City Police",
    ),
    _statutory(
        R_GP,
        "Riverside Medical Practice",
        "gp",
        AREA_B1,
        "Rivermead Integrated Care Board",
    ),
    _statutory(
        R_HOSPITAL,
        "Rivermead General Hospital",
        "hospital",
        AREA_B1,
        "Rivermead Hospitals NHS Trust",
    ),
    _statutory(
        R_SCHOOL,
        "Brookside Primary School",
        "education",
        AREA_B1,
        "Rivermead London Borough Council",
    ),
    _statutory(
        C_CSC,
        "Castlebury Children's Services",
        "childrens_social_care",
        AREA_B2,
        "Castlebury Council",
    ),
    _statutory(
        C_POLICE,
        "Castleshire Police Child Protection Team (Castlebury)",
        "police",
        AREA_B2,
        "Castleshire Constabulary",
    ),
    _statutory(
        C_GP,
        "Market Street Surgery",
        "gp",
        AREA_B2,
        "Castleshire Integrated Care Board",
    ),
    _statutory(
        C_HOSPITAL,
        "Castlebury Royal Infirmary",
        "hospital",
        AREA_B2,
        "Castleshire Hospitals NHS Foundation Trust",
    ),
    _statutory(
        C_SCHOOL,
        "Hillview Primary School",
        "education",
        AREA_B2,
        "Castlebury Council",
    ),
    _statutory(
        C_HOUSING,
        "Castlebury Housing Options",
        "housing",
        AREA_B2,
        "Castlebury Council",
    ),
    _statutory(
        M_CSC,
        "Millford Children's Services",
        "childrens_social_care",
        AREA_B3,
        "Millford Metropolitan Borough Council",
    ),
    _statutory(
        M_POLICE,
        "Millford Police Child Protection Team",
        "police",
        AREA_B3,
        "Millford Metropolitan Police",
    ),
    _statutory(
        M_GP,
        "Canal Side Health Centre",
        "gp",
        AREA_B3,
        "Millford Integrated Care Board",
    ),
    _statutory(
        M_HOSPITAL,
        "Millford Children's Hospital",
        "hospital",
        AREA_B3,
        "Millford Children's Hospital NHS Foundation Trust",
    ),
    _statutory(
        M_SCHOOL,
        "Oakfield Academy",
        "education",
        AREA_B3,
        "Oakfield Learning Trust",
    ),
    {
        "agency_id": CHARITY,
        "name": "Bright Steps Family Support",
        "kind": "voluntary",
        "statutory": False,
        "area": AREA_B3,
        "parent": "Bright Steps Trust",
    },
    {
        "agency_id": FAITH,
        "name": "New Dawn Fellowship",
        "kind": "faith",
        "statutory": False,
        "area": AREA_B3,
    },
)

# When each registry is recorded: before the first event of the cases that name its agencies
# (the background cases start on 2 January 2006, Child A in December 2006, Child B in
# February 2022).
CHILD_A_REGISTERED = "2006-01-01T09:00:00Z"
CHILD_B_REGISTERED = "2022-01-04T09:00:00Z"


def registry_events(agencies: tuple[dict[str, Any], ...], at: str) -> list[dict[str, Any]]:
    """One `agency.registered` event per agency, recorded at `at`, each about its own agency."""
    return [
        {
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{REGISTRY_CASE}/{a['agency_id']}")),
            "type": "agency.registered",
            "schema_version": 1,
            "case_id": REGISTRY_CASE,
            "agency": a["agency_id"],
            "recorded_by": dict(_REGISTRAR),
            "occurred_at": at,
            "recorded_at": at,
            "payload": dict(a),
        }
        for a in agencies
    ]


def demo_registry() -> list[dict[str, Any]]:
    """Every demo agency's registration: Child A's (and the background cases'), then Child B's."""
    return registry_events(CHILD_A, CHILD_A_REGISTERED) + registry_events(
        CHILD_B, CHILD_B_REGISTERED
    )
