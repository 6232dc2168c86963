"""Slurm's command-line tools as the Slurm engine uses them, and pure parsers of what they print.

Every call runs with the configured `SLURM_CONF` and a timeout; a tool that cannot reach slurmctld (or slurmdbd)
raises a retryable `BackendError`, so the agent backs off and marks the centre degraded instead of failing jobs.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from suanli.domain.errors import BackendError

# Job states as squeue/scontrol/sacct print them; sacct adds "CANCELLED by <uid>".
LIVE_STATES = frozenset(
    {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT"}
)
_UNREACHABLE = re.compile(
    r"Unable to contact slurm controller|Connection refused|Socket timed out|Zero Bytes were transmitted"
    r"|Unable to connect to database|slurmdbd: Connection|Problem talking to the database|Slurm accounting storage",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class QueueRow:
    job_id: str
    name: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class AcctRow:
    """One job's line from `sacct` (the job itself, not its steps); TotalCPU sums its steps."""

    job_id: str
    name: str
    state: str
    exit_code: int
    signal: int
    start: datetime | None
    end: datetime | None
    elapsed_s: int
    alloc_tres: dict[str, int]
    total_cpu_s: float


@dataclass(frozen=True, slots=True)
class NodeRow:
    name: str
    partitions: tuple[str, ...]
    state: str
    cfg_tres: dict[str, int]
    alloc_tres: dict[str, int]

    @property
    def up(self) -> bool:
        bad = ("DOWN", "DRAIN", "FAIL", "NOT_RESPONDING", "FUTURE", "POWERED_DOWN", "UNKNOWN", "INVAL")
        return not any(word in self.state for word in bad)


class SlurmCli:
    """Runs sbatch, squeue, scontrol, sacct, scancel against one cluster."""

    def __init__(self, slurm_conf: str | None = None, timeout_s: float = 30.0, bin_dir: str | None = None) -> None:
        self.env = dict(os.environ)
        if slurm_conf:
            self.env["SLURM_CONF"] = slurm_conf
        self.timeout_s = timeout_s
        self.bin_dir = bin_dir

    def run(self, *args: str, ok_errors: Sequence[str] = ()) -> str:
        """Run one tool; its stdout. Unreachable → retryable BackendError; other failures → not retryable."""
        cmd = [os.path.join(self.bin_dir, args[0]) if self.bin_dir else args[0], *args[1:]]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s, env=self.env)
        except FileNotFoundError:
            raise BackendError(f"{args[0]} is not installed on the agent's host", retryable=False) from None
        except subprocess.TimeoutExpired:
            raise BackendError(f"{args[0]} did not answer within {self.timeout_s:.0f}s") from None
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip()
            if any(text in err for text in ok_errors):
                return proc.stdout
            detail = f"{' '.join(args[:2])}: {err or f'exit {proc.returncode}'}"
            raise BackendError(detail, retryable=bool(_UNREACHABLE.search(err)))
        return proc.stdout

    def sbatch(self, script: str, options: Sequence[str]) -> str:
        out = self.run("sbatch", "--parsable", *options, script)
        return out.strip().split(";")[0]

    def queue(self, name_prefix: str) -> dict[str, QueueRow]:
        """Every job of this cluster whose name starts with `name_prefix`, live or recently finished, by job id."""
        out = self.run("squeue", "--noheader", "--states=all", "--format=%i|%j|%T|%r")
        return {row.job_id: row for row in parse_queue(out) if row.name.startswith(name_prefix)}

    def accounting(self, job_ids: Sequence[str]) -> dict[str, AcctRow]:
        if not job_ids:
            return {}
        out = self.run(
            "sacct",
            "--noheader",
            "--parsable2",
            "--duplicates",  # not --allocations: with it, sacct prints TotalCPU as 0
            f"--jobs={','.join(job_ids)}",
            "--format=JobID,JobName,State,ExitCode,Start,End,ElapsedRaw,AllocTRES,TotalCPU",
        )
        return {row.job_id: row for row in parse_accounting(out) if "." not in row.job_id}

    def find_by_name(self, name: str) -> str | None:
        """The newest job with this name in accounting (the queue is asked first by the caller)."""
        out = self.run(
            "sacct",
            "--noheader",
            "--parsable2",
            "--allocations",
            f"--name={name}",
            "--starttime=now-30days",
            "--format=JobID",
        )
        ids = [line.strip() for line in out.splitlines() if line.strip()]
        return ids[-1] if ids else None

    def cancel(self, job_id: str) -> None:
        self.run("scancel", job_id, ok_errors=("already completing or completed", "Invalid job id"))

    def nodes(self) -> list[NodeRow]:
        return parse_nodes(self.run("scontrol", "--oneliner", "show", "nodes"))

    def job_fields(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as key=value fields (JobState, ExitCode, StartTime, EndTime, ...)."""
        text = self.run("scontrol", "--details", "show", "job", job_id, ok_errors=("Invalid job id",))
        out: dict[str, str] = {}
        for token in text.split():
            key, sep, value = token.partition("=")
            if sep and key not in out:
                out[key] = value
        return out


# ---------------------------------------------------------------------------------------------- parsers


def parse_queue(text: str) -> list[QueueRow]:
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 4:
            rows.append(QueueRow(parts[0], parts[1], parts[2].split()[0], parts[3]))
    return rows


def parse_accounting(text: str) -> list[AcctRow]:
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 9:
            continue
        code, _, sig = parts[3].partition(":")
        rows.append(
            AcctRow(
                job_id=parts[0],
                name=parts[1],
                state=parts[2].split()[0],
                exit_code=int(code or 0),
                signal=int(sig or 0),
                start=parse_time(parts[4]),
                end=parse_time(parts[5]),
                elapsed_s=int(parts[6] or 0),
                alloc_tres=parse_tres(parts[7]),
                total_cpu_s=parse_duration(parts[8]),
            )
        )
    return rows


def parse_nodes(text: str) -> list[NodeRow]:
    rows = []
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "NodeName" not in fields:
            continue
        rows.append(
            NodeRow(
                fields["NodeName"],
                tuple(p for p in fields.get("Partitions", "").split(",") if p),
                fields.get("State", ""),
                parse_tres(fields.get("CfgTRES", "")),
                parse_tres(fields.get("AllocTRES", "")),
            )
        )
    return rows


def parse_tres(text: str) -> dict[str, int]:
    """`cpu=2,mem=512M,gres/gpu=4,gres/gpu:a100=4` → counts (memory in MiB)."""
    out: dict[str, int] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if not key or not value:
            continue
        units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
        if value[-1] in units:
            out[key] = int(float(value[:-1]) * units[value[-1]])
        else:
            try:
                out[key] = int(float(value))
            except ValueError:
                continue
    return out


def parse_time(text: str) -> datetime | None:
    """Slurm's local time stamps (`2026-11-23T02:29:01`); `Unknown`, `None` → None."""
    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError:
        return None


def parse_duration(text: str) -> float:
    """`[D-][HH:]MM:SS[.mmm]` → seconds."""
    text = text.strip()
    if not text:
        return 0.0
    days, _, rest = text.rpartition("-")
    parts = [float(p) for p in rest.split(":")]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds + (int(days) * 86400 if days else 0)


def expand_indices(text: str) -> list[int]:
    """`0-1,3` → [0, 1, 3]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if lo.strip().isdigit():
            out.extend(range(int(lo), int(hi or lo) + 1))
    return out
