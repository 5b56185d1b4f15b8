"""Operations routes: Prometheus metrics, liveness and readiness."""

from __future__ import annotations

import threading
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from ledger.errors import LedgerUnavailable
from sgl.bootstrap import Container
from sgl.metrics import Metrics
from sgl.openapi import problem
from sgl.responses import JSONBytes, problem_response


class Ready(BaseModel):
    """What /readyz answers when the process is ready: and which ledger it serves."""

    status: Literal["ready"]
    backend: Literal["sqlite", "kafka"]
    topic: str


def ops_router(
    container: Container, metrics: Metrics, consumer: dict[str, threading.Thread]
) -> APIRouter:
    """Health, readiness (log reachable, consumer threads alive) and metrics."""
    router = APIRouter()

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    def prometheus() -> Response:
        """Appends, rejected events, request latency, dead letters, alerts raised, lag per view."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: log reachable, consumer running",
        response_model=Ready,
        responses={503: problem("Not ready: the log does not answer, or a consumer stopped")},
    )
    async def readyz() -> Response:
        """503 until an append can be taken (from the log's breaker and its last probe, so
        this never waits for the log) and the consumer threads (if any) are alive."""
        try:
            container.log.ping()
        except LedgerUnavailable as exc:
            return problem_response(503, "not-ready", "Not ready", str(exc))
        dead = sorted(name for name, t in consumer.items() if not t.is_alive())
        if dead:
            return problem_response(
                503, "not-ready", "Not ready", f"consumers stopped: {', '.join(dead)}"
            )
        settings = container.settings
        return JSONBytes({"status": "ready", "backend": settings.backend, "topic": settings.topic})

    return router
