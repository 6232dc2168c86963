"""The agent's side of the protocol over HTTP. Transport failures and 5xx answers raise `Unreachable`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from suanli import __version__


class Unreachable(Exception):
    """The server did not answer usefully; the agent backs off and retries."""


class ProtocolError(Exception):
    """The server refused a request (4xx); retrying the same request will not help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status


class AgentClient:
    def __init__(
        self, server: str, token: str, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(
            base_url=server.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"suanli-agent/{__version__}"},
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{method} {path}: {exc}") from exc
        if response.status_code >= 500:
            raise Unreachable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ProtocolError(response.status_code, str(detail))
        return response.json()

    def centre(self) -> dict[str, Any]:
        return self._call("GET", "/v1/agent/centre")  # type: ignore[no-any-return]

    def heartbeat(self, pools: dict[str, int], running: list[str] | None, info: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/agent/heartbeat", json={"pools": pools, "running": running, "info": info})  # type: ignore[no-any-return]

    def lease(self, limit: int) -> list[dict[str, Any]]:
        return self._call("POST", "/v1/agent/lease", json={"limit": limit})  # type: ignore[no-any-return]

    def assignments(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/agent/assignments")  # type: ignore[no-any-return]

    def report(
        self,
        attempt_id: str,
        state: str,
        at: datetime,
        exit_code: int | None = None,
        reason: str = "",
        devices: dict[str, list[int]] | None = None,
    ) -> dict[str, Any]:
        body = {
            "reports": [
                {
                    "attempt_id": attempt_id,
                    "state": state,
                    "at": at.isoformat(),
                    "exit_code": exit_code,
                    "reason": reason[:4000],
                    "devices": devices or {},
                }
            ]
        }
        return self._call("POST", "/v1/agent/reports", json=body)[0]  # type: ignore[no-any-return]

    def append_log(self, attempt_id: str, offset: int, data: bytes) -> dict[str, Any]:
        return self._call(
            "POST",
            f"/v1/agent/attempts/{attempt_id}/logs",
            params={"offset": offset},  # type: ignore[no-any-return]
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def usage(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/agent/usage", json=body)  # type: ignore[no-any-return]
