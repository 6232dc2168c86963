"""Reading raw request bodies with a size limit (413 before the whole body is buffered)."""

from __future__ import annotations

import json

from fastapi import Request

from suanli.domain.errors import FieldError, InvalidInput, PayloadTooLarge

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


async def read_limited(request: Request, limit: int, what: str) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"{what} of {declared} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"{what} larger than the limit of {limit} bytes")
    return bytes(body)


def decode_spec_body(raw: bytes, content_type: str) -> dict[str, object] | str:
    """JSON bodies decode to a mapping; YAML bodies stay text (the domain parser reports YAML errors)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput([FieldError("", "the body is not UTF-8 text")]) from None
    if media in YAML_TYPES:
        return text
    if media not in ("application/json", ""):
        raise InvalidInput([FieldError("Content-Type", "send application/json or application/yaml")])
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [FieldError("", f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput([FieldError("", "a job spec must be a JSON object")])
    return value
