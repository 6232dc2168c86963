"""slurmrestd as the Slurm engine's transport (JWT auth), with the same calls as `SlurmCli`: a centre that
exposes Slurm only over its REST API is driven the same way as one the agent reaches with the tools.

Speaks the OpenAPI plugins `v0.0.38` (slurmctld) and `dbv0.0.38` (accounting) of Slurm 22.05. The token is
`token`, or re-read from `token_file` on every call so the centre can rotate it (`scontrol token lifespan=...`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from suanli.backends.slurm_cli import AcctRow, NodeRow, QueueRow, parse_tres
from suanli.domain.errors import BackendError

API = "v0.0.38"

_OPTION_FIELDS = {
    "--job-name": ("name", str),
    "--partition": ("partition", str),
    "--nodes": ("nodes", int),
    "--ntasks-per-node": ("tasks_per_node", int),
    "--cpus-per-task": ("cpus_per_task", int),
    "--time": ("time_limit", int),
    "--chdir": ("current_working_directory", str),
    "--output": ("standard_output", str),
    "--comment": ("comment", str),
    "--gres": ("gres", str),
    "--account": ("account", str),
    "--qos": ("qos", str),
}


def job_properties(options: Sequence[str]) -> dict[str, Any]:
    """sbatch's options (as `slurm_script.sbatch_options` writes them) as the REST API's job properties."""
    job: dict[str, Any] = {"environment": {"PATH": "/usr/local/bin:/usr/bin:/bin"}}
    for option in options:
        key, _, value = option.partition("=")
        if key in _OPTION_FIELDS:
            name, kind = _OPTION_FIELDS[key]
            job[name] = kind(value)
        elif key == "--mem":
            job["memory_per_node"] = int(value.rstrip("M"))
        elif key == "--no-requeue":
            job["requeue"] = False
        elif key == "--export":
            continue  # the script sets its own environment; only PATH is passed in
        else:
            raise ValueError(f"no REST equivalent for sbatch option {option}")
    return job


class SlurmRest:
    """The Slurm engine's calls over slurmrestd."""

    def __init__(
        self,
        url: str,
        user: str,
        token: str | None = None,
        token_file: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.user = user
        self.token = token
        self.token_file = token_file
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, transport=transport)

    def _headers(self) -> dict[str, str]:
        token = self.token
        if self.token_file:
            token = Path(self.token_file).read_text().strip().removeprefix("SLURM_JWT=")
        return {"X-SLURM-USER-NAME": self.user, "X-SLURM-USER-TOKEN": token or ""}

    def call(self, method: str, path: str, json: dict[str, Any] | None = None, ok_missing: bool = False) -> Any:
        """One request; unreachable or 5xx → retryable; errors Slurm reports in the body → not retryable."""
        try:
            response = self.http.request(method, path, headers=self._headers(), json=json)
        except httpx.HTTPError as exc:
            raise BackendError(f"slurmrestd does not answer: {exc}") from None
        if response.status_code in (401, 403):
            raise BackendError(f"slurmrestd refused the token ({response.status_code})", retryable=True)
        try:
            body = response.json()
        except ValueError:
            raise BackendError(f"slurmrestd {method} {path}: {response.status_code} {response.text[:200]}") from None
        errors = [e for e in body.get("errors") or [] if e.get("error_code") or e.get("error")]
        if errors:
            text = "; ".join(str(e.get("error") or e.get("description")) for e in errors)
            if ok_missing and re.search(
                r"invalid job id|not found|nothing found|does not exist|already complet", text, re.I
            ):
                return body
            raise BackendError(f"slurmrestd {path}: {text}", retryable=response.status_code >= 500)
        return body

    # ---------------------------------------------------------------------------- the SlurmCli calls

    def sbatch(self, script: str, options: Sequence[str]) -> str:
        body = {"script": Path(script).read_text(), "job": job_properties(options)}
        return str(self.call("POST", f"/slurm/{API}/job/submit", body)["job_id"])

    def queue(self, name_prefix: str) -> dict[str, QueueRow]:
        jobs = self.call("GET", f"/slurm/{API}/jobs").get("jobs") or []
        return {
            str(j["job_id"]): QueueRow(str(j["job_id"]), j["name"], j["job_state"], j.get("state_reason") or "None")
            for j in jobs
            if str(j.get("name", "")).startswith(name_prefix)
        }

    def accounting(self, job_ids: Sequence[str]) -> dict[str, AcctRow]:
        out = {}
        for job_id in job_ids:
            body = self.call("GET", f"/slurmdb/{API}/job/{job_id}", ok_missing=True)
            for j in body.get("jobs") or []:
                if str(j["job_id"]) == str(job_id):
                    out[str(job_id)] = _acct_row(j)
        return out

    def find_by_name(self, name: str) -> str | None:
        body = self.call("GET", f"/slurmdb/{API}/jobs?job_name={name}", ok_missing=True)
        ids = [str(j["job_id"]) for j in body.get("jobs") or [] if j.get("name") == name]
        return max(ids, key=int) if ids else None

    def cancel(self, job_id: str) -> None:
        self.call("DELETE", f"/slurm/{API}/job/{job_id}", ok_missing=True)

    def nodes(self) -> list[NodeRow]:
        rows = []
        for n in self.call("GET", f"/slurm/{API}/nodes").get("nodes") or []:
            cfg = parse_tres(n.get("tres") or "")
            used = {f"gres/{k}": v for k, v in _gres_counts(n.get("gres_used") or "").items()}
            state = " ".join([str(n.get("state", "")).upper(), *[str(f).upper() for f in n.get("state_flags") or []]])
            rows.append(NodeRow(n["name"], tuple(n.get("partitions") or ()), state, cfg, used))
        return rows

    def job_fields(self, job_id: str) -> dict[str, str]:
        body = self.call("GET", f"/slurm/{API}/job/{job_id}", ok_missing=True)
        for j in body.get("jobs") or []:
            return {
                "JobState": str(j.get("job_state", "")),
                "ExitCode": f"{j.get('exit_code') or 0}:0",
                "StartTime": _iso(j.get("start_time")),
                "EndTime": _iso(j.get("end_time")),
            }
        return {}


def _acct_row(j: dict[str, Any]) -> AcctRow:
    time = j.get("time") or {}
    exit_code = j.get("exit_code") or {}
    signal = (exit_code.get("signal") or {}).get("signal_id", 0) if isinstance(exit_code.get("signal"), dict) else 0
    tres = {
        f"{t['type']}/{t['name']}" if t.get("name") else t["type"]: int(t.get("count") or 0)
        for t in (j.get("tres") or {}).get("allocated") or []
    }
    cpu = 0.0
    for step in j.get("steps") or []:
        total = (step.get("time") or {}).get("total") or {}
        cpu += float(total.get("seconds", 0)) + float(total.get("microseconds", 0)) / 1e6
    return AcctRow(
        job_id=str(j["job_id"]),
        name=j.get("name", ""),
        state=str((j.get("state") or {}).get("current", "")).split()[0],
        exit_code=int(exit_code.get("return_code") or 0),
        signal=int(signal or 0),
        start=_time(time.get("start")),
        end=_time(time.get("end")),
        elapsed_s=int(time.get("elapsed") or 0),
        alloc_tres=tres,
        total_cpu_s=cpu,
    )


def _gres_counts(text: str) -> dict[str, int]:
    """`gpu:a100:2(IDX:0-1),npu:0` → {"gpu": 2, "npu": 0}."""
    counts: dict[str, int] = {}
    for item in re.sub(r"\([^)]*\)", "", text).split(","):
        parts = item.strip().split(":")
        if len(parts) >= 2 and parts[-1].isdigit():
            counts[parts[0]] = counts.get(parts[0], 0) + int(parts[-1])
    return counts


def _time(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(int(epoch)).astimezone() if epoch else None


def _iso(epoch: Any) -> str:
    at = _time(epoch)
    return at.replace(tzinfo=None).isoformat() if at else "Unknown"
