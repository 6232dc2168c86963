"""The FastAPI app factory. Wiring (store, clock, settings) happens in the caller: `suanli server` / `up`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from suanli import __version__
from suanli.api import errors
from suanli.api.routers import agent, budgets, centres, documents, health, jobs, ledger, tenants
from suanli.api.routers import vouchers as voucher_routes
from suanli.service import vouchers
from suanli.service.context import Context
from suanli.service.loop import SchedulerLoop


def create_app(ctx: Context, *, run_scheduler: bool | None = None) -> FastAPI:
    """Build the API. The scheduler loop runs inside it unless disabled (tests drive cycles by hand)."""
    scheduler = run_scheduler if run_scheduler is not None else ctx.settings.scheduler.enabled

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vouchers.publish_builtin(ctx)
        loop = SchedulerLoop(ctx) if scheduler else None
        app.state.scheduler = loop
        if loop is not None:
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()

    app = FastAPI(
        title="suanli",
        version=__version__,
        summary="City compute-power scheduling and service platform (算力调度服务平台)",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.scheduler = None
    errors.install(app)
    for module in (health, tenants, centres, jobs, ledger, budgets, documents, voucher_routes, agent):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
