"""Liveness and readiness (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from suanli import __version__
from suanli.api.deps import Ctx

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="Readiness: the database answers (and how this server's scheduler loop fares)")
def readyz(ctx: Ctx, request: Request) -> JSONResponse:
    try:
        ctx.store.ping()
    except Exception as exc:  # noqa: BLE001 - report, do not raise
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    body: dict[str, object] = {"status": "ready", "database": "ok"}
    loop = getattr(request.app.state, "scheduler", None)
    if loop is not None:
        body["scheduler"] = loop.status()
    return JSONResponse(body)
