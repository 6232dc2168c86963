"""Request dependencies: the service context and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from suanli.domain.errors import Unauthenticated
from suanli.domain.tenants import Principal
from suanli.service.auth import authenticate
from suanli.service.context import Context


def get_context(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def get_principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if authorization is None:
        raise Unauthenticated("missing bearer token: send `Authorization: Bearer <token>`")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("use `Authorization: Bearer <token>`")
    return authenticate(get_context(request), secret.strip())


def wake_scheduler(request: Request) -> None:
    loop = getattr(request.app.state, "scheduler", None)
    if loop is not None:
        loop.wake()


Ctx = Annotated[Context, Depends(get_context)]
Caller = Annotated[Principal, Depends(get_principal)]
