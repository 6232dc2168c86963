"""Liveness and readiness (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from suanli import __version__
from suanli.api.deps import Ctx

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="Readiness: the database answers")
def readyz(ctx: Ctx) -> JSONResponse:
    try:
        ctx.store.ping()
    except Exception as exc:  # noqa: BLE001 - report, do not raise
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ready", "database": "ok"})
