"""Every error leaves the API as RFC 9457 problem+json, naming the field at fault where there is one."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanli.domain.errors import AlreadyExists, InvalidInput, PayloadTooLarge, SuanliError

log = logging.getLogger("suanli.api")
PROBLEM_BASE = "https://suanli.dev/problems/"
PROBLEM_TYPE = "application/problem+json"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    field: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(SuanliError)
    async def _suanli(request: Request, exc: SuanliError) -> JSONResponse:
        errors = None
        field = None
        if isinstance(exc, InvalidInput):
            errors = [{"field": e.field, "message": e.message} for e in exc.errors]
            field = exc.field
        elif isinstance(exc, PayloadTooLarge | AlreadyExists):
            field = exc.field
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.slug, exc.title, exc.detail, request.url.path, field, errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for item in exc.errors():
            field = _field_of(tuple(item.get("loc", ())))
            message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
            if item.get("type") == "extra_forbidden":
                message = "unknown field"
            elif item.get("type") == "json_invalid":
                message = f"malformed JSON: {item.get('ctx', {}).get('error', 'cannot be parsed')}"
                field = ""
            errors.append({"field": field, "message": message})
        first = errors[0] if errors else {"field": "", "message": "invalid input"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(422, "invalid-input", "Invalid input", detail, request.url.path, first["field"] or None, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        return problem(
            exc.status_code,
            {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http"),
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500, "internal", "Internal error", "the server failed; the error has been logged", request.url.path
        )
