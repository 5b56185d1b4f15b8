"""Evidential integrity over HTTP: checkpoints, inclusion and consistency proofs."""

from __future__ import annotations

import base64
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sgl import queries
from sgl.bootstrap import Container
from sgl.openapi import problem
from sgl.responses import JSONBytes
from sgl.routes_read import knower_of

UNAVAILABLE = problem("The log is unavailable; retry (see Retry-After)")

# A tree size is a count of records (Kafka offsets are signed 64-bit); a partition number is a
# signed 32-bit integer in Kafka. Larger numbers are refused with a 422 before any look-up.
MAX_SIZE = 2**63 - 1
MAX_PARTITION = 2**31 - 1


def case_of(bundle: queries.Document) -> str | None:
    """The case of the event whose record a proof bundle carries (None for a registry event)."""
    try:
        case_id = orjson.loads(base64.b64decode(bundle["record"])).get("case_id")
    except (ValueError, AttributeError):
        return None
    return str(case_id) if case_id else None


def proofs_router(container: Container) -> APIRouter:
    """The proof routes over a wired container."""
    router = APIRouter()
    stores = queries.ContainerStores(container)

    @router.get(
        "/v1/checkpoints/latest",
        summary="The latest signed checkpoint per partition",
        responses={503: UNAVAILABLE},
    )
    def get_latest() -> Response:
        """Each partition's latest checkpoint (tree size, root, signed note) and the verifier
        key that checks them."""
        return JSONBytes(queries.latest_checkpoints(stores))

    @router.get(
        "/v1/events/{event_id}/proof",
        summary="Inclusion proof of an event",
        responses={
            404: problem("No such event, checkpoint, or the event is not in that checkpoint"),
            409: problem("The event is not in a checkpoint yet: ask after the next one"),
            503: UNAVAILABLE,
        },
    )
    def get_proof(
        request: Request,
        event_id: str,
        checkpoint: Annotated[
            int | None,
            Query(
                ge=1, le=MAX_SIZE, description="tree size of a checkpoint of the event's partition"
            ),
        ] = None,
    ) -> Response:
        """A bundle proving the event's exact bytes are at its offset in the tree the
        checkpoint signs (default: the partition's latest checkpoint); to any role but inquiry
        and auditor, only of a registry event or one its agency knew."""
        viewer = knower_of(request)
        bundle = queries.inclusion_proof(stores, event_id, checkpoint, viewer)
        # The bundle carries the event's record: the read goes in that child's access report.
        request.state.case_id = case_of(bundle)
        return JSONBytes(bundle)

    @router.get(
        "/v1/checkpoints/consistency",
        summary="Consistency proof between checkpoints",
        responses={
            404: problem("The partition has no checkpoint at one of the sizes"),
            503: UNAVAILABLE,
        },
    )
    def get_consistency(
        start: Annotated[
            int, Query(alias="from", ge=1, le=MAX_SIZE, description="the earlier tree size")
        ],
        end: Annotated[
            int, Query(alias="to", ge=1, le=MAX_SIZE, description="the later tree size")
        ],
        partition: Annotated[int, Query(ge=0, le=MAX_PARTITION, description="the partition")] = 0,
    ) -> Response:
        """A bundle proving the tree at `from` is a prefix of the tree at `to`."""
        return JSONBytes(queries.consistency_proof(stores, partition, start, end))

    return router
