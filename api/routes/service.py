"""Health (the one route without a login) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.auth import MetricsReader
from api.errors import AUTH, responses
from api.runtime import RuntimeDep
from api.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/api/health")
def health(runtime: RuntimeDep) -> Health:
    """Liveness and database reachability; the only route that never needs a login."""
    try:
        with runtime.context.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:
        db = f"error: {type(exc).__name__}"
    return Health(status="ok" if db == "ok" else "degraded", database=db)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": "gridwatch_live_pulls 1.0\n"}},
        },
        **responses(*AUTH),
    },
)
def metrics(runtime: RuntimeDep, _caller: MetricsReader) -> Response:
    """Every gridwatch metric: HTTP traffic, logins, live view pulls and viewers, and what other stages register.

    Scrape with a bearer token of a worker or admin account (Prometheus `authorization` setting).
    """
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
