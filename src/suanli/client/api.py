"""`SuanliClient`: typed-enough calls to the tenant and admin API; problem+json answers raise ApiError."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The server answered with an error (problem+json): status, title, detail and the field at fault."""

    def __init__(
        self, status: int, title: str, detail: str, field: str | None = None, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(f"{detail} (HTTP {status})")
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.errors = errors or []


class SuanliClient:
    def __init__(
        self, server: str, token: str | None = None, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server = server.rstrip("/")
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SuanliClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise ApiError(
                0, "Unreachable", f"cannot reach the suanli server at {self.server}; is it running?"
            ) from None
        except httpx.HTTPError as exc:
            raise ApiError(0, "Unreachable", f"{self.server}: {exc}") from None
        _raise_for(response)
        return response.json()

    # --------------------------------------------------------------------------- identity

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/v1/me")  # type: ignore[no-any-return]

    # --------------------------------------------------------------------------- jobs

    def submit(self, spec: dict[str, Any] | str, idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if isinstance(spec, str):
            headers["Content-Type"] = "application/yaml"
            return self.request("POST", "/v1/jobs", content=spec.encode(), headers=headers)  # type: ignore[no-any-return]
        return self.request("POST", "/v1/jobs", json=spec, headers=headers)  # type: ignore[no-any-return]

    def jobs(
        self, state: str | None = None, limit: int = 50, cursor: str | None = None, **filters: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **{k: v for k, v in filters.items() if v}}
        if state:
            params["state"] = state
        if cursor:
            params["cursor"] = cursor
        return self.request("GET", "/v1/jobs", params=params)  # type: ignore[no-any-return]

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}")  # type: ignore[no-any-return]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/jobs/{job_id}/cancel")  # type: ignore[no-any-return]

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/v1/jobs/{job_id}/events")  # type: ignore[no-any-return]

    def logs(self, job_id: str, offset: int = 0, attempt: int | None = None, limit: int = 256 * 1024) -> dict[str, Any]:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if attempt is not None:
            params["attempt"] = attempt
        return self.request("GET", f"/v1/jobs/{job_id}/logs", params=params)  # type: ignore[no-any-return]

    def why(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}/why")  # type: ignore[no-any-return]

    # --------------------------------------------------------------------------- centres

    def centres(self) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/centres")  # type: ignore[no-any-return]

    def capacity(self) -> dict[str, Any]:
        return self.request("GET", "/v1/capacity")  # type: ignore[no-any-return]

    # --------------------------------------------------------------------------- money

    def account(self, tenant: str, since: str | None = None, until: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in (("since", since), ("until", until)) if v}
        return self.request("GET", f"/v1/tenants/{tenant}/account", params=params)  # type: ignore[no-any-return]

    def invoice(self, tenant: str, month: str, fmt: str = "json") -> Any:
        """A tenant's invoice for a month: a dict for json, the text itself for csv and html."""
        return self._document(f"/v1/tenants/{tenant}/invoices/{month}", fmt)

    def settlement(self, centre: str, month: str, fmt: str = "json") -> Any:
        """A centre's settlement statement for a month: a dict for json, the text itself for csv and html."""
        return self._document(f"/v1/centres/{centre}/settlements/{month}", fmt)

    def programme_report(self, programme: str, fmt: str = "json") -> Any:
        """A voucher programme's report: a dict for json, the text itself for csv and html."""
        return self._document(f"/v1/voucher-programmes/{programme}/report", fmt)

    def claim_pack(self, claim_id: str) -> bytes:
        """A voucher claim's pack, as the ZIP's bytes."""
        try:
            response = self._http.get(f"/v1/claims/{claim_id}/pack")
        except httpx.HTTPError as exc:
            raise ApiError(0, "Unreachable", f"{self.server}: {exc}") from None
        _raise_for(response)
        return response.content

    def _document(self, path: str, fmt: str) -> Any:
        if fmt == "json":
            return self.request("GET", path)
        try:
            response = self._http.get(path, params={"format": fmt})
        except httpx.HTTPError as exc:
            raise ApiError(0, "Unreachable", f"{self.server}: {exc}") from None
        _raise_for(response)
        return response.text

    def entries(self, **filters: Any) -> dict[str, Any]:
        params = {k: v for k, v in filters.items() if v is not None}
        return self.request("GET", "/v1/ledger/entries", params=params)  # type: ignore[no-any-return]

    def balances(self, prefix: str = "") -> dict[str, str]:
        return self.request("GET", "/v1/ledger/balances", params={"prefix": prefix})  # type: ignore[no-any-return]

    def verify_ledger(self) -> dict[str, Any]:
        return self.request("GET", "/v1/ledger/verify")  # type: ignore[no-any-return]

    def record_payment(self, tenant: str, amount: str, reference: str, memo: str = "") -> dict[str, Any]:
        body = {"amount": amount, "reference": reference, "memo": memo}
        return self.request("POST", f"/v1/tenants/{tenant}/payments", json=body)  # type: ignore[no-any-return]

    def record_payout(self, centre: str, amount: str, reference: str, memo: str = "") -> dict[str, Any]:
        body = {"amount": amount, "reference": reference, "memo": memo}
        return self.request("POST", f"/v1/centres/{centre}/payouts", json=body)  # type: ignore[no-any-return]

    def reverse_entry(self, entry_id: str, reason: str) -> dict[str, Any]:
        path = f"/v1/ledger/entries/{entry_id}/reversal"
        return self.request("POST", path, json={"reason": reason})  # type: ignore[no-any-return]

    def refund(self, entry_id: str, reason: str, amount: str | None = None) -> dict[str, Any]:
        body = {"reason": reason, "amount": amount}
        return self.request("POST", f"/v1/ledger/entries/{entry_id}/refund", json=body)  # type: ignore[no-any-return]

    def budget(self, tenant: str, project: str | None = None) -> dict[str, Any]:
        """A tenant's monthly budget, or one of its projects'."""
        return self.request("GET", _budget_path(tenant, project))  # type: ignore[no-any-return]

    def set_budget(self, tenant: str, monthly_budget: str | None, project: str | None = None) -> dict[str, Any]:
        body = {"monthly_budget": monthly_budget}
        return self.request("PUT", _budget_path(tenant, project), json=body)  # type: ignore[no-any-return]

    def project_budgets(self, tenant: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/v1/tenants/{tenant}/projects")  # type: ignore[no-any-return]


def _budget_path(tenant: str, project: str | None) -> str:
    return f"/v1/tenants/{tenant}/projects/{project}/budget" if project else f"/v1/tenants/{tenant}/budget"


def _raise_for(response: httpx.Response) -> None:
    """An error answer (problem+json) as an ApiError naming the field at fault."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"title": "HTTP error", "detail": response.text or response.reason_phrase}
    raise ApiError(
        response.status_code, body.get("title", ""), body.get("detail", ""), body.get("field"), body.get("errors")
    )
