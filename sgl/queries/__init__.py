"""Every read of the ledger, answered once: the HTTP routes and the `sgl` commands both call
these queries, and show the documents they return (or the errors they raise) as they must."""

from sgl.queries.agencies import AGENCY_COLUMNS, agencies, agency
from sgl.queries.cases import (
    case,
    case_changes,
    case_chronology,
    case_document,
    case_history,
    chronology_csv,
)
from sgl.queries.clocks import (
    ALERT_COLUMNS,
    alerts_csv,
    case_alerts,
    clocks,
    clocks_csv,
    latency,
    latency_csv,
    ledger_alerts,
)
from sgl.queries.common import Document
from sgl.queries.errors import (
    AgencyRequired,
    BadDate,
    BadRequest,
    DatesOutOfOrder,
    NoProof,
    NoSuchAgency,
    NoSuchCase,
    NoSuchSchema,
    NotFound,
    QueryError,
    UnknownAgency,
    UnknownParameters,
    UnregisteredAgency,
)
from sgl.queries.involvement import case_sightings
from sgl.queries.knowledge import (
    agency_knowledge,
    case_time_to_share,
    gaps,
    ledger_time_to_share,
    matrix,
)
from sgl.queries.proofs import (
    consistency_proof,
    inclusion_proof,
    latest_checkpoints,
    trusted_export,
)
from sgl.queries.stores import ContainerStores, LocalStores, Stores

__all__ = [
    "AGENCY_COLUMNS",
    "ALERT_COLUMNS",
    "AgencyRequired",
    "BadDate",
    "BadRequest",
    "ContainerStores",
    "DatesOutOfOrder",
    "Document",
    "LocalStores",
    "NoProof",
    "NoSuchAgency",
    "NoSuchCase",
    "NoSuchSchema",
    "NotFound",
    "QueryError",
    "Stores",
    "UnknownAgency",
    "UnknownParameters",
    "UnregisteredAgency",
    "agencies",
    "agency",
    "agency_knowledge",
    "alerts_csv",
    "case",
    "case_alerts",
    "case_changes",
    "case_chronology",
    "case_document",
    "case_history",
    "case_sightings",
    "case_time_to_share",
    "chronology_csv",
    "clocks",
    "clocks_csv",
    "consistency_proof",
    "gaps",
    "inclusion_proof",
    "latency",
    "latency_csv",
    "latest_checkpoints",
    "ledger_alerts",
    "ledger_time_to_share",
    "matrix",
    "trusted_export",
]
