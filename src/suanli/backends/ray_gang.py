"""The driver of one suanli attempt on a Ray cluster. Shipped in the job's working directory and run as the Ray
job's entrypoint, so it imports only `ray` and the standard library (suanli need not be installed on the cluster).

It reads `_suanli_job.json`, reserves one bundle per node in a placement group (all nodes at once: a gang),
starts one rank task per bundle, and streams the ranks' output to its stdout (the Ray job's log), prefixed
`[node R]` for multi-node jobs. Lines starting with the record separator (0x1E) are for the engine, not the
tenant: `started` (with each rank's accelerator ids) once every rank runs, and `result` at the end. Each rank
runs `setup` then `run` with bash in its own process group, and kills that group when the driver says stop:
on a failing rank, at max_runtime, or when the Ray job is stopped (SIGTERM to this driver).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

MARK = "\x1e"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _emit(kind: str, data: object) -> None:
    sys.stdout.write(f"{MARK}{kind} {json.dumps(data)}\n")
    sys.stdout.flush()


def main() -> int:  # noqa: C901 - one linear script
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    with open("_suanli_job.json", encoding="utf-8") as fh:
        cfg = json.load(fh)
    _emit("begin", {"at": _now()})  # the engine shows the tenant only what follows (not Ray's own preamble)
    ray.init(logging_level="ERROR", log_to_driver=False)
    nodes, per_node = int(cfg["nodes"]), int(cfg["per_node"])
    bundle: dict[str, float] = {"CPU": float(cfg["cpus"])}
    if per_node and cfg.get("resource"):
        bundle[cfg["resource"]] = per_node
    if per_node and cfg.get("model_resource"):
        bundle[cfg["model_resource"]] = per_node
    pg = placement_group([dict(bundle) for _ in range(nodes)], strategy=cfg.get("strategy", "STRICT_SPREAD"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def cancelled() -> bool:
        """Stopped by Ray, or cancelled by the agent (its marker, when this driver runs on the agent's host)."""
        if not stop.is_set() and cfg.get("cancel_file") and os.path.exists(cfg["cancel_file"]):
            stop.set()
        return stop.is_set()

    while not cancelled():
        ready, _ = ray.wait([pg.ready()], timeout=0.5)
        if ready:
            break
    if cancelled():
        remove_placement_group(pg)
        _emit("result", {"state": "cancelled", "exit_code": None, "reason": "cancelled before start", "at": _now()})
        return 0
    lines = Queue()
    controls = [Queue() for _ in range(nodes)]  # per rank: first "go" (with the rendezvous), later "stop"

    @ray.remote(max_retries=0)
    def rank(r: int, lines: Queue, control: Queue) -> tuple[int, str, int | None]:
        import socket

        ctx = ray.get_runtime_context()
        ids = ctx.get_accelerator_ids().get(cfg.get("resource") or "", []) if per_node else []
        ip = ray.util.get_node_ip_address()
        with socket.socket() as sock:
            sock.bind(("", 0))
            port = sock.getsockname()[1]
        lines.put(("ids", r, {"ids": [int(i) for i in ids], "ip": ip, "port": port}))
        go = control.get(block=True)
        if go == "stop":
            return r, "run", None
        _, master_addr, master_port, ips = go
        env = dict(os.environ)
        env.update(cfg["envs"])
        env.update(
            {
                "SUANLI_NODE_RANK": str(r),
                "SUANLI_NUM_NODES": str(nodes),
                "SUANLI_NODE_NAME": ctx.get_node_id()[:12],
                "SUANLI_NODE_IPS": "\n".join(ips),
                "SUANLI_ACCELERATOR_IDS": ",".join(str(i) for i in ids),
                "SUANLI_ACCELERATORS_PER_NODE": str(per_node),
                "MASTER_ADDR": master_addr,
                "MASTER_PORT": str(master_port),
            }
        )
        for name in cfg.get("visible_env", []):
            env[name] = ",".join(str(i) for i in ids)
        prefix = f"[node {r}] " if nodes > 1 else ""
        for phase in ("setup", "run"):
            if not cfg.get(phase):
                continue
            proc = subprocess.Popen(
                ["bash", "-c", cfg[phase]],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

            def pump(p: subprocess.Popen) -> None:  # type: ignore[type-arg]
                assert p.stdout is not None
                for raw in iter(p.stdout.readline, b""):
                    lines.put(("line", r, prefix + raw.decode(errors="replace")))

            reader = threading.Thread(target=pump, args=(proc,), daemon=True)
            reader.start()
            while proc.poll() is None:
                try:
                    control.get(block=True, timeout=0.2)
                except Exception:  # noqa: BLE001 - ray.util.queue.Empty: nothing to do
                    continue
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                reader.join(5)
                return r, phase, None
            reader.join(5)
            if proc.returncode != 0:
                return r, phase, proc.returncode
        return r, "run", 0

    asks: dict[str, object] = {"num_cpus": bundle["CPU"]}  # a task is given ids only for what it asks for
    custom = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU")}
    if "GPU" in bundle:
        asks["num_gpus"] = bundle["GPU"]
    if custom:
        asks["resources"] = custom
    strategy = PlacementGroupSchedulingStrategy
    refs = [
        rank.options(**asks, scheduling_strategy=strategy(pg, placement_group_bundle_index=i)).remote(  # type: ignore[arg-type]
            i, lines, controls[i]
        )
        for i in range(nodes)
    ]
    deadline = time.monotonic() + float(cfg["max_runtime_s"])
    devices: dict[str, list[int]] = {}
    started = False
    outcome: tuple[str, int | None, str] | None = None
    pending = list(refs)
    results: list[tuple[int, str, int | None]] = []

    peers: dict[int, dict[str, object]] = {}

    def drain() -> None:
        nonlocal started
        while not lines.empty():
            kind, r, data = lines.get()
            if kind == "ids":
                peers[r] = data
                devices[str(r)] = data["ids"]
                if len(peers) == nodes and not started and not cancelled():  # the last moment to back out
                    started = True
                    ips = [str(peers[i]["ip"]) for i in range(nodes)]
                    _emit("started", {"at": _now(), "devices": devices})
                    for q in controls:
                        q.put(("go", ips[0], peers[0]["port"], ips))
            else:
                sys.stdout.write(data)
        sys.stdout.flush()

    def stop_all() -> None:
        for q in controls:
            q.put("stop")

    while pending:
        done, pending = ray.wait(pending, timeout=0.1)
        drain()
        for ref in done:
            results.append(ray.get(ref))
            r, phase, code = results[-1]
            if code and outcome is None:
                where = f"node {r} " if nodes > 1 else ""
                reason = f"{where}exited with code {code}"
                outcome = ("failed", code, f"setup failed: {reason}" if phase == "setup" else reason)
                stop_all()
        if outcome is None and cancelled():
            outcome = ("cancelled", None, "cancelled" if started else "cancelled before start")
            stop_all()
        if outcome is None and time.monotonic() > deadline:
            outcome = ("timeout", None, "max_runtime reached; killed")
            stop_all()
    time.sleep(0.2)
    drain()
    if outcome is None:
        outcome = ("succeeded", 0, "")
    remove_placement_group(pg)
    state, code, reason = outcome
    _emit("result", {"state": state, "exit_code": code, "reason": reason, "at": _now()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
