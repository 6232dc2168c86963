"""Tenants' jobs: submit (Idempotency-Key), list (filters, cursor), get, cancel, events, logs, why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from suanli.api.body import decode_spec_body, read_limited
from suanli.api.deps import Caller, Ctx, get_context, get_principal, wake_scheduler
from suanli.api.dto import AttemptOut, EventOut, JobOut, JobPage, LogOut, PoolReasonOut, WhyOut
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.jobs.spec import JobSpec
from suanli.domain.jobs.states import JobState
from suanli.ports import JobFilter
from suanli.service import jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_SPEC_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": JobSpec.model_json_schema(ref_template="#/components/schemas/{model}")},
            "application/yaml": {"schema": {"type": "string", "description": "the same spec as YAML"}},
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_SPEC_BODY,
    summary="Submit a job (JSON or YAML); a repeated Idempotency-Key returns the first job (200)",
)
async def submit(
    request: Request, response: Response, idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
) -> JobOut:
    ctx = get_context(request)
    caller = await run_in_threadpool(get_principal, request, request.headers.get("authorization"))
    raw = await read_limited(request, ctx.settings.limits.max_spec_bytes, "job spec")
    body = decode_spec_body(raw, request.headers.get("content-type", "application/json"))
    job, created = await run_in_threadpool(jobs.submit_job, ctx, caller, body, idempotency_key)
    if created:
        wake_scheduler(request)
    else:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut.of(job)


def _states(raw: str | None) -> tuple[JobState, ...]:
    if not raw:
        return ()
    try:
        return tuple(JobState(s.strip()) for s in raw.split(",") if s.strip())
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise InvalidInput([FieldError("state", f"unknown state in {raw!r}; states: {known}")]) from None


@router.get("", summary="Jobs visible to the caller, newest first")
def list_jobs(
    ctx: Ctx,
    caller: Caller,
    state: Annotated[str | None, Query(description="comma-separated states")] = None,
    name: str | None = None,
    centre: str | None = None,
    user: str | None = None,
    tenant: Annotated[str | None, Query(description="city admins and auditors only")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> JobPage:
    flt = JobFilter(tenant_id=tenant, user_id=user, states=_states(state), name=name, centre_id=centre)
    items, next_cursor = jobs.list_jobs(ctx, caller, flt, min(limit, ctx.settings.limits.max_page_size), cursor)
    return JobPage(items=[JobOut.of(j) for j in items], next_cursor=next_cursor)


@router.get("/{job_id}")
def get_job(job_id: str, ctx: Ctx, caller: Caller) -> JobOut:
    view = jobs.get_job(ctx, caller, job_id)
    return JobOut.of(view.job, list(view.attempts), with_spec=True, labels=view.labels, usage=view.usage)


@router.post("/{job_id}/cancel", summary="Cancel; 409 if the job has already finished")
def cancel(job_id: str, request: Request, ctx: Ctx, caller: Caller) -> JobOut:
    job = jobs.cancel_job(ctx, caller, job_id)
    wake_scheduler(request)
    return JobOut.of(job)


@router.get("/{job_id}/events", summary="The job's state history")
def events(job_id: str, ctx: Ctx, caller: Caller) -> list[EventOut]:
    return [EventOut.of(e) for e in jobs.job_events(ctx, caller, job_id)]


@router.get("/{job_id}/logs", summary="Output of an attempt (default: the latest) from a byte offset")
def logs(
    job_id: str,
    ctx: Ctx,
    caller: Caller,
    attempt: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=4 * 1024 * 1024)] = 256 * 1024,
) -> LogOut:
    piece = jobs.read_logs(ctx, caller, job_id, attempt, offset, limit)
    data = piece.data if piece.complete else _whole_characters(piece.data)
    return LogOut(
        attempt=piece.attempt,
        offset=piece.offset,
        next_offset=piece.offset + len(data),
        data=data.decode("utf-8", errors="replace"),
        complete=piece.complete and len(data) == len(piece.data),
        truncated=piece.truncated,
    )


def _whole_characters(data: bytes) -> bytes:
    """Drop a UTF-8 sequence cut off at the end, so a follower never splits a character across pages."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): is its sequence complete?
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return data if need <= back else data[:-back]
    return data


@router.get("/{job_id}/why", summary="Why the job waits (per pool), or where and why it was placed")
def why(job_id: str, ctx: Ctx, caller: Caller) -> WhyOut:
    answer = jobs.why(ctx, caller, job_id)
    return WhyOut(
        job_id=answer.job.id,
        state=answer.job.state.value,
        summary=answer.summary,
        reasons=[PoolReasonOut(**r) for r in answer.reasons],
        placement=AttemptOut.of(answer.placement, answer.label) if answer.placement else None,
    )
