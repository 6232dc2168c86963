"""Readers for the public cluster traces in `shared/traces/` (see its README for every field and caveat).

Each reader turns a trace into `TraceJob`s: when a job arrives, whose it is, how many accelerators it holds
at once (a gang), and how long it runs — either a duration measured on the trace's hardware, or (Gavel)
work in steps with measured throughputs per GPU type. Long-running services carry their lifetime.
"""

from __future__ import annotations

import ast
import csv
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SERVICE = "service"


@dataclass(frozen=True, slots=True)
class TraceJob:
    key: str  # unique within the trace
    tenant: str  # the trace's notion of a tenant: Philly virtual cluster, Alibaba app, ...
    arrival: float  # seconds from the trace's start
    gpus: int  # accelerators held at once, in all nodes (0: CPU only)
    kind: str = "train"  # train | batch-infer | service
    duration: float | None = None  # seconds on the trace's hardware; None: runs past the trace's end
    cpus: float = 1.0  # per node
    memory_gib: float = 2.0  # per node
    gpu_types: tuple[str, ...] = ()  # trace GPU types the job accepts (empty: any)
    preemptible: bool = False
    priority: int = 50  # the shared traces carry none: every job the default
    family: str = ""  # workload name (e.g. Gavel's job type); repeated names let estimates learn
    work: float | None = None  # Gavel: steps to run
    rates: dict[str, float] = field(default_factory=dict)  # Gavel: steps/s per trace GPU type for this job
    max_per_node: int = 0  # anti-affinity: at most this many such instances per node (0: no limit)
    # still running when the trace ended: `duration` is only what the trace saw of it (a lower bound), so it is
    # replayed for that long and its end is no completion (it counts in no JCT)
    censored: bool = False

    @property
    def is_service(self) -> bool:
        return self.kind == SERVICE


@dataclass(frozen=True)
class Trace:
    name: str
    jobs: list[TraceJob]
    horizon: float  # seconds from start to the trace's end
    gpu_types: tuple[str, ...]  # the hardware types the trace names
    source: str  # whom to cite


def traces_root(explicit: str | Path | None = None) -> Path:
    """Where the shared traces live: the argument (which must be a traces folder when given), $SUANLI_TRACES,
    ./traces or ../shared/traces."""
    if explicit is not None and not (Path(explicit) / "README.md").is_file():
        raise FileNotFoundError(f"{explicit} is not a traces folder (no README.md in it)")
    candidates = [explicit, os.environ.get("SUANLI_TRACES"), "traces", "../shared/traces"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "README.md").is_file():
            return Path(candidate)
    raise FileNotFoundError("no traces folder: pass --traces DIR or set SUANLI_TRACES")


# ------------------------------------------------------------------------------------------ Philly


def read_philly(root: Path, limit: int | None = None) -> Trace:
    """Microsoft Philly 2017 (Pollux extraction): real arrivals, durations, GPU counts, virtual clusters."""
    path = root / "philly-2017" / "jobs.csv"
    jobs: list[TraceJob] = []
    start: datetime | None = None
    with path.open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            stamp = datetime.fromisoformat(row["timestamp"])
            start = start or stamp
            jobs.append(
                TraceJob(
                    key=f"philly-{i:05d}",
                    tenant=f"vc-{row['cluster']}",
                    arrival=(stamp - start).total_seconds(),
                    gpus=int(row["num_gpus"]),
                    duration=max(1.0, float(row["duration"])),
                    cpus=4.0 * int(row["num_gpus"]) if int(row["num_gpus"]) <= 8 else 32.0,
                    memory_gib=16.0 * min(int(row["num_gpus"]), 8),
                )
            )
            if limit is not None and len(jobs) >= limit:
                break
    horizon = max(j.arrival + (j.duration or 0) for j in jobs)
    return Trace("philly", jobs, horizon, (), "Jeon et al., USENIX ATC'19; extraction by Qiao et al. (Pollux), OSDI'21")


# ------------------------------------------------------------------------------------------ Gavel


def read_gavel(root: Path, limit: int | None = None) -> Trace:
    """Gavel's Philly-shaped trace with measured steps/s on K80, P100 and V100 per job type and size."""
    folder = root / "gavel-philly-derived"
    throughputs = json.loads((folder / "simulation_throughputs.json").read_text())
    jobs = []
    with (folder / "msr_seed0_ee9e8c.trace").open() as fh:
        for i, line in enumerate(fh):
            job_type, _cmd, _arg, _data, steps, arrival, scale = line.rstrip("\n").split("\t")
            gpus = int(scale)
            rates = {gpu: _gavel_rate(throughputs, gpu, job_type, gpus) for gpu in ("k80", "p100", "v100")}
            jobs.append(
                TraceJob(
                    key=f"gavel-{i:04d}",
                    tenant=f"team-{i % 8}",  # the trace has no users; Gavel's own experiments spread jobs evenly
                    arrival=float(arrival),
                    gpus=gpus,
                    family=job_type.replace(" (batch size ", "-bs").replace(")", "").replace(" ", "-"),
                    work=float(steps),
                    rates=rates,
                    cpus=4.0 * min(gpus, 8),
                    memory_gib=16.0 * min(gpus, 8),
                )
            )
            if limit is not None and len(jobs) >= limit:
                break
    horizon = max(j.arrival for j in jobs) + max(j.work / j.rates["k80"] for j in jobs if j.work)  # type: ignore[operator]
    return Trace(
        "gavel",
        jobs,
        horizon,
        ("k80", "p100", "v100"),
        "Narayanan et al. (Gavel), OSDI'20; job mix after Philly (Jeon et al., ATC'19)",
    )


def _gavel_rate(table: dict, gpu: str, job_type: str, gpus: int) -> float:  # type: ignore[type-arg]
    """Steps/s of `job_type` on `gpus` GPUs of one type. Sizes Gavel did not measure (16, 20, 32, ...) are
    extrapolated from its largest measured size, spread over nodes (its `unconsolidated` figures)."""
    exact = table[gpu].get(str((job_type, gpus)))
    if exact and exact.get("null"):
        return float(exact["null"])
    measured = sorted(
        ast.literal_eval(k)[1] for k in table[f"{gpu}_unconsolidated"] if ast.literal_eval(k)[0] == job_type
    )
    base = max((s for s in measured if s <= gpus), default=None)
    if base is None:
        single = table[gpu][str((job_type, 1))]["null"]
        return float(single) * gpus * 0.8
    rate = float(table[f"{gpu}_unconsolidated"][str((job_type, base))]["null"])
    return rate * gpus / base


# ------------------------------------------------------------------------------------------ Alibaba


def read_openb(root: Path, limit: int | None = None, variant: str = "gpuspec33") -> Trace:
    """Alibaba 2023 GPU cluster pods: LS pods are services, BE pods preemptible batch work, each replayed for its
    lifetime in production (scheduled to deleted; `pod_phase` is the phase a pod was last seen in, so a "Running"
    pod was deleted while running, and its lifetime is known). A pod deleted at the very end of the trace was
    still running then: it is censored (replayed for what the trace saw, and its end is no completion).
    GPU-sharing pods (a fraction of one GPU) are rounded up to one whole GPU."""
    folder = root / "alibaba-openb-2023"
    name = "pods_gpuspec33.csv" if variant == "gpuspec33" else "pods_default.csv"
    with (folder / name).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    trace_end = max((float(r["deletion_time"]) for r in rows if r["deletion_time"]), default=0.0)
    jobs = []
    horizon = 0.0
    for row in rows:
        if not row["scheduled_time"]:
            continue  # never scheduled in production (`Pending`): no lifetime to replay
        created, scheduled, deleted = (
            float(row["creation_time"]),
            float(row["scheduled_time"]),
            float(row["deletion_time"]),
        )
        horizon = max(horizon, deleted)
        qos = row["qos"]
        jobs.append(
            TraceJob(
                key=row["name"],
                tenant=f"{qos.lower()}-team-{int(row['name'].rsplit('-', 1)[1]) % 12}",
                arrival=created,
                gpus=int(row["num_gpu"]),
                kind=SERVICE if qos in ("LS", "Guaranteed") else "batch-infer",
                duration=max(1.0, deleted - scheduled),
                censored=deleted >= trace_end,
                cpus=max(0.5, int(row["cpu_milli"]) / 1000),
                memory_gib=max(0.5, int(row["memory_mib"]) / 1024),
                gpu_types=tuple(t for t in row["gpu_spec"].split("|") if t),
                preemptible=qos == "BE",
            )
        )
        if limit is not None and len(jobs) >= limit:
            break
    return Trace(
        "openb",
        jobs,
        horizon,
        ("G2", "T4", "P100", "V100M16", "G3", "V100M32", "A10"),
        "Weng et al., USENIX ATC'23 (Alibaba clusterdata cluster-trace-gpu-v2023)",
    )


def read_dlrm(root: Path, limit: int | None = None) -> Trace:
    """Alibaba 2025 DLRM inference instances: all long-running services (CN: CPU-only, HN: one GPU). An instance
    with no deletion time was still alive at the trace's end: censored, replayed until then (what the trace saw)."""
    jobs = []
    horizon = 2_677_541.0  # the source trace's length (README)
    with (root / "alibaba-dlrm-2025" / "instances.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            created = float(row["creation_time"] or 0)
            scheduled = float(row["scheduled_time"] or created)
            deleted = float(row["deletion_time"]) if row["deletion_time"] else None
            cap = int(row["max_instance_per_node"])
            jobs.append(
                TraceJob(
                    key=row["instance_sn"],
                    tenant=row["app_name"],
                    arrival=created,
                    gpus=int(row["gpu_request"]),
                    kind=SERVICE,
                    duration=max(1.0, (horizon if deleted is None else deleted) - scheduled),
                    censored=deleted is None,
                    cpus=float(row["cpu_request"]),
                    memory_gib=float(row["memory_request"]),
                    max_per_node=cap if cap > 0 else 0,
                )
            )
            if limit is not None and len(jobs) >= limit:
                break
    return Trace("dlrm", jobs, horizon, (), "Yang et al. (Prism), USENIX NSDI'25 (cluster-trace-gpu-v2025)")


@dataclass(frozen=True)
class FleetNodes:
    model: str
    gpus_per_node: int
    cpus: int
    count: int


def read_fleet(root: Path) -> list[FleetNodes]:
    """The Alibaba 2026 spot-GPU fleet (nodes only), grouped by model and shape."""
    counts: dict[tuple[str, int, int], int] = {}
    with (root / "alibaba-spot-gpu-2026" / "nodes.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["gpu_model"], int(row["gpu_capacity_num"]), int(row["cpu_num"]))
            counts[key] = counts.get(key, 0) + 1
    return [FleetNodes(m, g, c, n) for (m, g, c), n in sorted(counts.items())]


READERS: dict[str, Callable[..., Trace]] = {
    "philly": read_philly,
    "gavel": read_gavel,
    "openb": read_openb,
    "dlrm": read_dlrm,
}


def load_trace(name: str, root: Path, limit: int | None = None) -> Trace:
    try:
        reader = READERS[name]
    except KeyError:
        raise ValueError(f"unknown trace {name!r}; traces: {', '.join(sorted(READERS))}") from None
    return reader(root, limit=limit)
