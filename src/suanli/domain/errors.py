"""The one exception tree of suanli. Raised anywhere; translated only at the edges (API, CLI, agent).

SuanliError
├── InvalidInput            422  bad value; `errors` lists (field, message) pairs
│   ├── IdempotencyMismatch 422  same Idempotency-Key, different request
│   └── ClaimRefused        422  a voucher programme's rule refuses the claim (`rules.<rule>`)
├── PayloadTooLarge         413  spec, files or log chunk over the configured limit
├── NotFound                404  missing, or not visible to the caller (never 403 for another tenant's data)
├── Conflict                409  the request is valid but the current state forbids it
│   ├── InvalidTransition        a job state change the transition table does not allow
│   └── AlreadyExists            a unique name taken
├── Unauthenticated         401  no, unknown, revoked or expired token
├── Forbidden               403  authenticated, but the role may not do this
└── BackendError            ---  a centre engine failed (inside an adapter; the agent retries)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field; `field` is a dotted path such as `resources.accelerators`."""

    field: str
    message: str


class SuanliError(Exception):
    """Base of every error suanli raises on purpose."""

    status = 500
    title = "Internal error"
    slug = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(SuanliError):
    status = 422
    title = "Invalid input"
    slug = "invalid-input"

    def __init__(self, errors: list[FieldError] | FieldError | str, detail: str | None = None) -> None:
        if isinstance(errors, str):
            errors = [FieldError("", errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors: list[FieldError] = list(errors)
        first = self.errors[0] if self.errors else FieldError("", "invalid input")
        text = detail or (f"{first.field}: {first.message}" if first.field else first.message)
        super().__init__(text)

    @property
    def field(self) -> str | None:
        return self.errors[0].field if self.errors and self.errors[0].field else None


class ClaimRefused(InvalidInput):
    """A voucher claim that a programme's rules refuse; each error's field is `rules.<rule>`."""

    title = "Claim refused"
    slug = "claim-refused"


class IdempotencyMismatch(InvalidInput):
    title = "Idempotency key reused"
    slug = "idempotency-mismatch"


class PayloadTooLarge(SuanliError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class NotFound(SuanliError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(SuanliError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class InvalidTransition(Conflict):
    title = "Invalid state transition"
    slug = "invalid-transition"


class AlreadyExists(Conflict):
    title = "Already exists"
    slug = "already-exists"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class Unauthenticated(SuanliError):
    status = 401
    title = "Unauthenticated"
    slug = "unauthenticated"


class Forbidden(SuanliError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class BackendError(SuanliError):
    """A centre engine failed or could not be reached; `retryable` tells the agent whether to try again."""

    status = 502
    title = "Centre engine error"
    slug = "backend-error"

    def __init__(self, detail: str, retryable: bool = True) -> None:
        super().__init__(detail)
        self.retryable = retryable
